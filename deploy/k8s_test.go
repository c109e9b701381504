package deploy_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/travluk/ecom/deploy/ingressyaml"
	"github.com/travluk/ecom/deploy/ingressyaml/traefik"
	"github.com/travluk/ecom/deploy/manifest"
	"github.com/travluk/ecom/dev/ingress"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

const k8sDir = "../k8s"

// kustomization is the part of kustomize's Kustomization k8s/ uses; decoding
// into it strictly refuses any other field, so a new one is added here first.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Resources  []string `json:"resources"`
}

// k8sManifests returns the names of the YAML files in k8s/ that kustomize
// applies: all of them but kustomization.yaml.
func k8sManifests(t *testing.T) []string {
	t.Helper()
	var names []string
	for _, pattern := range []string{"*.yaml", "*.yml"} {
		m, err := filepath.Glob(filepath.Join(k8sDir, pattern))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range m {
			if base := filepath.Base(p); base != "kustomization.yaml" {
				names = append(names, base)
			}
		}
	}
	slices.Sort(names)
	if len(names) == 0 {
		t.Fatalf("no manifests in %s", k8sDir)
	}
	return names
}

func readK8s(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(k8sDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestK8sManifestsDecodeStrictly(t *testing.T) {
	var all []manifest.Object
	for _, name := range k8sManifests(t) {
		t.Run(name, func(t *testing.T) {
			objs, err := manifest.DecodeAll(name, readK8s(t, name))
			if err != nil {
				t.Fatalf("does not decode strictly into the Kubernetes types:\n%v", err)
			}
			if len(objs) == 0 {
				t.Fatalf("holds no object")
			}
			all = append(all, objs...)
		})
	}

	var namespace string
	for _, o := range all {
		if ns, ok := o.Value.(*corev1.Namespace); ok {
			namespace = ns.Name
		}
	}
	if namespace != ingressyaml.Namespace {
		t.Fatalf("k8s/ creates namespace %q, want %q", namespace, ingressyaml.Namespace)
	}
	for _, o := range all {
		if _, ok := o.Value.(*corev1.Namespace); ok {
			continue
		}
		if o.Value.(interface{ GetNamespace() string }).GetNamespace() != namespace {
			t.Errorf("%s: %s %s is not in namespace %s", o.Source, o.GVK.Kind, o.Name, namespace)
		}
	}
}

func TestKustomizationListsEveryManifest(t *testing.T) {
	var k kustomization
	if err := manifest.DecodeStrict(readK8s(t, "kustomization.yaml"), &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		t.Errorf("kustomization.yaml is %s %s, want kustomize.config.k8s.io/v1beta1 Kustomization", k.APIVersion, k.Kind)
	}
	// The edge is one of two renderings of the route table, gateway.yaml or
	// ingress.yaml (the kustomization's comment says which is for what).
	// Listing both would expose the routes twice, once without the edge's
	// limits.
	edges := []string{"gateway.yaml", "ingress.yaml"}
	var listedEdges []string
	for _, r := range k.Resources {
		if slices.Contains(edges, r) {
			listedEdges = append(listedEdges, r)
		}
	}
	if len(listedEdges) != 1 {
		t.Errorf("kustomization.yaml lists the edge files %v, want exactly one of %v", listedEdges, edges)
	}
	want := slices.DeleteFunc(k8sManifests(t), func(name string) bool { return slices.Contains(edges, name) })
	want = slices.Sorted(slices.Values(append(want, listedEdges...)))
	got := slices.Sorted(slices.Values(k.Resources))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("kustomization.yaml resources differ from the files in k8s/ (-files +listed):\n%s", diff)
	}
	comment := string(readK8s(t, "kustomization.yaml"))
	for _, e := range edges {
		if !strings.Contains(comment, "#   "+e) {
			t.Errorf("kustomization.yaml does not say what %s is for", e)
		}
	}
}

// TestEdgeIsRenderedFromRouteTable holds k8s/gateway.yaml and k8s/ingress.yaml
// to what `make render` writes from dev/ingress.Routes().
func TestEdgeIsRenderedFromRouteTable(t *testing.T) {
	tests := []struct {
		file   string
		render func([]ingress.Route) ([]byte, error)
	}{
		{"gateway.yaml", ingressyaml.RenderGateway},
		{"ingress.yaml", ingressyaml.RenderIngress},
	}
	generated := regexp.MustCompile(`^# Code generated .* DO NOT EDIT\.$`)
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			want, err := tt.render(ingress.Routes())
			if err != nil {
				t.Fatalf("rendering ingress.Routes(): %v", err)
			}
			got := readK8s(t, tt.file)
			if diff := cmp.Diff(lines(want), lines(got)); diff != "" {
				t.Errorf("k8s/%s is not the rendering of dev/ingress.Routes(); regenerate it with `make render`\n"+
					"\t%s\n(-rendered +file):\n%s", tt.file, ingressyaml.Command, diff)
			}
			if first := lines(got)[0]; !generated.MatchString(first) {
				t.Errorf("k8s/%s starts with %q, not a \"# Code generated ... DO NOT EDIT.\" line", tt.file, first)
			}
		})
	}
}

// edge is what the committed k8s/gateway.yaml and k8s/ingress.yaml hold.
type edge struct {
	gateways    []*gatewayv1.Gateway
	routes      []*gatewayv1.HTTPRoute
	middlewares map[string]*traefik.Middleware
	ingresses   []*networkingv1.Ingress
}

func readEdge(t *testing.T) edge {
	t.Helper()
	e := edge{middlewares: map[string]*traefik.Middleware{}}
	for _, file := range []string{"gateway.yaml", "ingress.yaml"} {
		objs, err := manifest.DecodeAll(file, readK8s(t, file))
		if err != nil {
			t.Fatalf("k8s/%s does not decode strictly: %v", file, err)
		}
		for _, o := range objs {
			switch v := o.Value.(type) {
			case *gatewayv1.Gateway:
				e.gateways = append(e.gateways, v)
			case *gatewayv1.HTTPRoute:
				e.routes = append(e.routes, v)
			case *traefik.Middleware:
				e.middlewares[v.Name] = v
			case *networkingv1.Ingress:
				e.ingresses = append(e.ingresses, v)
			default:
				t.Fatalf("k8s/%s holds a %s (%s), not part of the edge", file, o.GVK.Kind, o.Name)
			}
		}
	}
	if len(e.gateways) != 1 || len(e.ingresses) != 1 {
		t.Fatalf("k8s/ holds %d Gateways and %d Ingresses, want one of each", len(e.gateways), len(e.ingresses))
	}
	return e
}

// gatewayRule is one path match of an HTTPRoute attached to the Gateway, with
// what a request it wins is sent to and through.
type gatewayRule struct {
	route       string
	match       gatewayv1.PathMatchType
	value       string
	service     string
	port        int
	middlewares []string
}

func gatewayRules(t *testing.T, e edge) []gatewayRule {
	t.Helper()
	gw := e.gateways[0]
	var out []gatewayRule
	for _, r := range e.routes {
		attached := slices.ContainsFunc(r.Spec.ParentRefs, func(p gatewayv1.ParentReference) bool {
			return string(p.Name) == gw.Name && (p.Namespace == nil || string(*p.Namespace) == gw.Namespace) &&
				(p.SectionName == nil || slices.ContainsFunc(gw.Spec.Listeners, func(l gatewayv1.Listener) bool { return l.Name == *p.SectionName }))
		})
		if !attached || r.Namespace != gw.Namespace {
			t.Errorf("HTTPRoute %s/%s is not attached to the Gateway %s/%s (parentRefs %+v)", r.Namespace, r.Name, gw.Namespace, gw.Name, r.Spec.ParentRefs)
			continue
		}
		for i, rl := range r.Spec.Rules {
			if len(rl.BackendRefs) != 1 || rl.BackendRefs[0].Port == nil {
				t.Fatalf("HTTPRoute %s rule %d: backendRefs %+v, want one Service with a port", r.Name, i, rl.BackendRefs)
			}
			var names []string
			for _, f := range rl.Filters {
				if f.Type != gatewayv1.HTTPRouteFilterExtensionRef || f.ExtensionRef == nil ||
					f.ExtensionRef.Group != "traefik.io" || f.ExtensionRef.Kind != "Middleware" {
					t.Fatalf("HTTPRoute %s rule %d: filter %+v is not an ExtensionRef to a Traefik Middleware", r.Name, i, f)
				}
				names = append(names, string(f.ExtensionRef.Name))
			}
			for _, m := range rl.Matches {
				if m.Path == nil || m.Path.Type == nil || m.Path.Value == nil || m.Headers != nil || m.QueryParams != nil || m.Method != nil {
					t.Fatalf("HTTPRoute %s rule %d: match %+v is not a plain path match", r.Name, i, m)
				}
				out = append(out, gatewayRule{
					route: r.Name, match: *m.Path.Type, value: *m.Path.Value,
					service: string(rl.BackendRefs[0].Name), port: int(*rl.BackendRefs[0].Port), middlewares: names,
				})
			}
		}
	}
	return out
}

// matchesElements is the element-wise prefix match of the Gateway API's
// PathPrefix and the Ingress's Prefix: "/a" matches "/a", "/a/" and "/a/b",
// not "/ab"; a trailing "/" of the prefix is ignored.
func matchesElements(prefix, path string) bool {
	prefix = strings.TrimSuffix(prefix, "/")
	return prefix == "" || path == prefix || strings.HasPrefix(path, prefix+"/")
}

// routeGateway picks the rule a Gateway API implementation sends path by: of
// the matching rules, an Exact match over any PathPrefix, then the longest
// prefix (the HTTPRoute spec's precedence; no two rules here tie further).
func routeGateway(rules []gatewayRule, path string) (gatewayRule, bool) {
	var best gatewayRule
	found := false
	for _, r := range rules {
		var ok bool
		switch r.match {
		case gatewayv1.PathMatchExact:
			ok = path == r.value
		case gatewayv1.PathMatchPathPrefix:
			ok = matchesElements(r.value, path)
		}
		if !ok {
			continue
		}
		exact, bestExact := r.match == gatewayv1.PathMatchExact, best.match == gatewayv1.PathMatchExact
		if !found || (exact && !bestExact) || (exact == bestExact && len(r.value) > len(best.value)) {
			best, found = r, true
		}
	}
	return best, found
}

// routeIngress picks the path an Ingress controller sends path by: the
// longest matching path, Exact over Prefix at the same length.
func routeIngress(ing *networkingv1.Ingress, path string) (networkingv1.HTTPIngressPath, bool) {
	var best networkingv1.HTTPIngressPath
	found := false
	for _, rule := range ing.Spec.Rules {
		for _, p := range rule.HTTP.Paths {
			exact := *p.PathType == networkingv1.PathTypeExact
			if (exact && path != p.Path) || (!exact && !matchesElements(p.Path, path)) {
				continue
			}
			if !found || len(p.Path) > len(best.Path) || (len(p.Path) == len(best.Path) && exact) {
				best, found = p, true
			}
		}
	}
	return best, found
}

// TestEveryRouteInExactlyOneHTTPRoute holds the HTTPRoutes to the table: each
// route is one match, of its type, to its Service and port, and nothing else is
// routed.
func TestEveryRouteInExactlyOneHTTPRoute(t *testing.T) {
	rules := gatewayRules(t, readEdge(t))
	for _, r := range ingress.Routes() {
		t.Run(r.Prefix, func(t *testing.T) {
			want := gatewayv1.PathMatchPathPrefix
			if r.Exact {
				want = gatewayv1.PathMatchExact
			}
			var found []gatewayRule
			for _, g := range rules {
				if g.value == r.Prefix && g.match == want {
					found = append(found, g)
				}
			}
			if len(found) != 1 {
				t.Fatalf("%s match for %s in %d HTTPRoute rules (%+v), want exactly one", want, r.Prefix, len(found), found)
			}
			if g := found[0]; g.service != r.Service || g.port != r.Port {
				t.Errorf("HTTPRoute %s sends %s to %s:%d, the table to %s:%d", g.route, r.Prefix, g.service, g.port, r.Service, r.Port)
			}
		})
	}
	if len(rules) != len(ingress.Routes()) {
		t.Errorf("the HTTPRoutes hold %d path matches, the table %d routes", len(rules), len(ingress.Routes()))
	}
}

// TestOnlyCredentialRoutesAreRateLimited holds the limits of the edge: login,
// register and refresh pass the rate limit, in an HTTPRoute of their own, and
// no other route does; every route passes the body limit; the Middlewares
// named are the ones rendered, with the limits nginx had.
func TestOnlyCredentialRoutesAreRateLimited(t *testing.T) {
	e := readEdge(t)
	rules := gatewayRules(t, e)
	credential := map[string]bool{}
	for _, r := range ingress.Routes() {
		credential[r.Prefix] = r.Credential
	}
	for _, g := range rules {
		limited := slices.Contains(g.middlewares, ingressyaml.RateLimitName)
		if limited != credential[g.value] {
			t.Errorf("%s (HTTPRoute %s): rate-limited %v, want %v", g.value, g.route, limited, credential[g.value])
		}
		if limited && g.route != ingressyaml.CredentialsName {
			t.Errorf("%s is rate-limited in HTTPRoute %s, want only in %s", g.value, g.route, ingressyaml.CredentialsName)
		}
		if !slices.Contains(g.middlewares, ingressyaml.BodyLimitName) {
			t.Errorf("%s (HTTPRoute %s) has no body limit", g.value, g.route)
		}
		for _, m := range g.middlewares {
			if e.middlewares[m] == nil {
				t.Errorf("%s names Middleware %s, which k8s/gateway.yaml does not hold", g.value, m)
			}
		}
	}
	for _, p := range []string{"/api/customers/login", "/api/customers/register", "/api/customers/refresh"} {
		if !credential[p] {
			t.Errorf("%s is not a credential route of the table, so nothing limits password guessing at the edge", p)
		}
	}
	if rl := e.middlewares[ingressyaml.RateLimitName]; rl == nil || rl.Spec.RateLimit == nil ||
		*rl.Spec.RateLimit != (traefik.RateLimit{Average: 30, Period: "1m", Burst: 90}) {
		t.Errorf("Middleware %s = %+v, want rateLimit average 30, period 1m, burst 90", ingressyaml.RateLimitName, rl)
	}
	if bl := e.middlewares[ingressyaml.BodyLimitName]; bl == nil || bl.Spec.Buffering == nil || bl.Spec.Buffering.MaxRequestBodyBytes != 2<<20 {
		t.Errorf("Middleware %s = %+v, want buffering maxRequestBodyBytes 2097152", ingressyaml.BodyLimitName, bl)
	}
}

// TestStandInRoutesLikeTheCluster sends sample paths through the stand-in's
// Lookup, the HTTPRoutes (with the Gateway API's matching) and the plain
// Ingress: all three must pick the same service and port, and the HTTPRoutes
// rate-limit exactly the paths the stand-in's route marks Credential.
func TestStandInRoutesLikeTheCluster(t *testing.T) {
	e := readEdge(t)
	rules := gatewayRules(t, e)
	tests := []struct {
		path    string
		service string // "" when nothing serves it
	}{
		{"/api/products", "product"},
		{"/api/products/", "product"},
		{"/api/products/x", "product"},
		{"/api/productsX", ""},
		{"/api/customers", "customer"},
		{"/api/customers/login", "customer"},
		{"/api/customers/login/x", "customer"},
		{"/api/customers/loginX", "customer"},
		{"/api/customers/register", "customer"},
		{"/api/customers/refresh", "customer"},
		{"/api/customers/me", "customer"},
		{"/.well-known/jwks.json", "customer"},
		{"/.well-known/jwks.jsonx", ""},
		{"/.well-known/jwks.json/x", ""},
		{"/.well-known", ""},
		{"/", ""},
		{"/api", ""},
		{"/api/orders", "order"},
		{"/api/orders/1/cancel", "order"},
		{"/api/ordersX", ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			local, ok := ingress.Lookup(ingress.Routes(), tt.path)
			if got := map[bool]string{true: local.Service, false: ""}[ok]; got != tt.service {
				t.Fatalf("stand-in sends %s to %q, want %q", tt.path, got, tt.service)
			}
			g, gok := routeGateway(rules, tt.path)
			if gok != ok || (ok && (g.service != local.Service || g.port != local.Port)) {
				t.Errorf("HTTPRoutes send %s to %q:%d (routed %v), the stand-in to %q:%d (routed %v)",
					tt.path, g.service, g.port, gok, local.Service, local.Port, ok)
			}
			if limited := slices.Contains(g.middlewares, ingressyaml.RateLimitName); gok && limited != local.Credential {
				t.Errorf("HTTPRoutes rate-limit %s: %v; the stand-in's route %s is a credential route: %v", tt.path, limited, local.Prefix, local.Credential)
			}
			p, iok := routeIngress(e.ingresses[0], tt.path)
			if iok != ok || (ok && (p.Backend.Service.Name != local.Service || int(p.Backend.Service.Port.Number) != local.Port)) {
				t.Errorf("the plain Ingress sends %s to %+v (routed %v), the stand-in to %q:%d", tt.path, p.Backend.Service, iok, local.Service, local.Port)
			}
		})
	}
}

// TestNoNginxAnnotations holds k8s/ free of ingress-nginx: the controller is
// retired, and its annotations would only mislead.
func TestNoNginxAnnotations(t *testing.T) {
	for _, name := range append(k8sManifests(t), "kustomization.yaml") {
		for i, line := range lines(readK8s(t, name)) {
			if strings.Contains(line, "nginx.ingress.kubernetes.io") {
				t.Errorf("k8s/%s:%d still has an ingress-nginx annotation: %s", name, i+1, strings.TrimSpace(line))
			}
		}
	}
}

// TestPlainIngressNeedsNoController holds k8s/ingress.yaml usable with any
// Ingress controller: no annotations, and no ingressClassName, so the
// cluster's default IngressClass takes it.
func TestPlainIngressNeedsNoController(t *testing.T) {
	ing := readEdge(t).ingresses[0]
	if len(ing.Annotations) > 0 {
		t.Errorf("Ingress %s has annotations %v", ing.Name, ing.Annotations)
	}
	if c := ing.Spec.IngressClassName; c != nil {
		t.Errorf("Ingress %s requires ingressClassName %q", ing.Name, *c)
	}
}

func lines(b []byte) []string { return strings.Split(string(b), "\n") }
