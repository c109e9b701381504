// Package ingress holds the public route table and a small reverse proxy that
// serves it on one port, standing in for the Kubernetes ingress controller on a
// developer's machine.
//
// The table is the single source of both: the cluster's edge, k8s/gateway.yaml
// (Gateway API HTTPRoutes for Traefik) and k8s/ingress.yaml (a plain Ingress),
// is rendered from Routes (deploy/cmd/render-ingress, `make render`), and tests
// in deploy fail when the files differ from the table or route a path
// elsewhere than Lookup does, so `make run` routes exactly like the cluster.
package ingress

// Route sends requests whose path matches to one service. A prefix route
// matches the path itself and everything below it, element by element, as a
// Kubernetes Ingress path of type Prefix does; an exact route matches only the
// path itself.
type Route struct {
	Prefix  string
	Exact   bool
	Service string // the Kubernetes Service name, e.g. "customer"
	Port    int    // the service's port inside the cluster

	// Credential marks a path that takes a password or a refresh token. The
	// cluster's edge rate-limits these per client address (k8s/gateway.yaml);
	// the stand-in routes them like any other route and limits nothing. The
	// customer service's own throttle, per account and per client, stays the
	// authority either way.
	Credential bool
}

// ServicePort is the HTTP port every service listens on inside the cluster.
const ServicePort = 8080

// Routes returns the public route table: every route of all three services,
// customer, product and order. The credential paths are exact routes of
// their own, to the service their prefix sends them to anyway, so the edge
// can limit them alone.
func Routes() []Route {
	return []Route{
		{Prefix: "/.well-known/jwks.json", Exact: true, Service: "customer", Port: ServicePort},
		{Prefix: "/api/customers/login", Exact: true, Credential: true, Service: "customer", Port: ServicePort},
		{Prefix: "/api/customers/register", Exact: true, Credential: true, Service: "customer", Port: ServicePort},
		{Prefix: "/api/customers/refresh", Exact: true, Credential: true, Service: "customer", Port: ServicePort},
		{Prefix: "/api/customers", Service: "customer", Port: ServicePort},
		{Prefix: "/api/products", Service: "product", Port: ServicePort},
		{Prefix: "/api/orders", Service: "order", Port: ServicePort},
	}
}

// Match reports whether path is served by r.
func (r Route) Match(path string) bool {
	if r.Exact {
		return path == r.Prefix
	}
	if len(path) < len(r.Prefix) || path[:len(r.Prefix)] != r.Prefix {
		return false
	}
	// "/api/products" must not match "/api/productsX": the next byte, if any,
	// has to start a new path element.
	return len(path) == len(r.Prefix) || path[len(r.Prefix)] == '/'
}
