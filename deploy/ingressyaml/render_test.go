package ingressyaml_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/travluk/ecom/deploy/ingressyaml"
	"github.com/travluk/ecom/deploy/ingressyaml/traefik"
	"github.com/travluk/ecom/deploy/manifest"
	"github.com/travluk/ecom/dev/ingress"
	networkingv1 "k8s.io/api/networking/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// table is a route table shaped like dev/ingress.Routes(), with one port that
// differs so a backend's port is seen to come from the table.
var table = []ingress.Route{
	{Prefix: "/.well-known/jwks.json", Exact: true, Service: "customer", Port: 8080},
	{Prefix: "/api/customers/login", Exact: true, Credential: true, Service: "customer", Port: 8080},
	{Prefix: "/api/customers", Service: "customer", Port: 8080},
	{Prefix: "/api/products", Service: "product", Port: 8080},
	{Prefix: "/api/orders", Service: "order", Port: 9090},
}

// rule is one HTTPRoute rule as a user reads it: which HTTPRoute, the match,
// the backend and the Middlewares its filters name, in order.
type rule struct {
	Route, Match, Path, Service string
	Port                        int32
	Middlewares                 []string
}

func decode(t *testing.T, data []byte) []manifest.Object {
	t.Helper()
	objs, err := manifest.DecodeAll("rendered", data)
	if err != nil {
		t.Fatalf("rendered objects do not decode strictly: %v\n%s", err, data)
	}
	return objs
}

func TestRenderGateway(t *testing.T) {
	data, err := ingressyaml.RenderGateway(table)
	if err != nil {
		t.Fatalf("RenderGateway: %v", err)
	}
	var kinds []string
	var gateways []*gatewayv1.Gateway
	var routes []*gatewayv1.HTTPRoute
	middlewares := map[string]*traefik.Middleware{}
	for _, o := range decode(t, data) {
		kinds = append(kinds, o.GVK.Kind)
		switch v := o.Value.(type) {
		case *gatewayv1.Gateway:
			gateways = append(gateways, v)
		case *gatewayv1.HTTPRoute:
			routes = append(routes, v)
		case *traefik.Middleware:
			middlewares[v.Name] = v
		}
	}
	if diff := cmp.Diff([]string{"Gateway", "Middleware", "Middleware", "HTTPRoute", "HTTPRoute"}, kinds); diff != "" {
		t.Fatalf("rendered kinds differ (-want +got):\n%s", diff)
	}

	gw := gateways[0]
	from := gatewayv1.NamespacesFromSame
	wantListeners := []gatewayv1.Listener{{
		Name: "web", Port: 8000, Protocol: gatewayv1.HTTPProtocolType,
		AllowedRoutes: &gatewayv1.AllowedRoutes{Namespaces: &gatewayv1.RouteNamespaces{From: &from}},
	}}
	if gw.Name != "travluk" || gw.Namespace != "travluk" || gw.Spec.GatewayClassName != "traefik" {
		t.Errorf("Gateway %s/%s of class %s, want travluk/travluk of class traefik", gw.Namespace, gw.Name, gw.Spec.GatewayClassName)
	}
	if diff := cmp.Diff(wantListeners, gw.Spec.Listeners); diff != "" {
		t.Errorf("Gateway listeners differ (-want +got):\n%s", diff)
	}

	limit, body := []string{"travluk-credentials-rate-limit", "travluk-body-limit"}, []string{"travluk-body-limit"}
	want := []rule{
		{"travluk", "Exact", "/.well-known/jwks.json", "customer", 8080, body},
		{"travluk", "PathPrefix", "/api/customers", "customer", 8080, body},
		{"travluk", "PathPrefix", "/api/products", "product", 8080, body},
		{"travluk", "PathPrefix", "/api/orders", "order", 9090, body},
		{"travluk-credentials", "Exact", "/api/customers/login", "customer", 8080, limit},
	}
	var got []rule
	for _, r := range routes {
		if r.Namespace != "travluk" {
			t.Errorf("HTTPRoute %s in namespace %q, want travluk", r.Name, r.Namespace)
		}
		section := gatewayv1.SectionName("web")
		wantParents := []gatewayv1.ParentReference{{Name: "travluk", SectionName: &section}}
		if diff := cmp.Diff(wantParents, r.Spec.ParentRefs); diff != "" {
			t.Errorf("HTTPRoute %s parentRefs differ (-want +got):\n%s", r.Name, diff)
		}
		got = append(got, flattenRules(t, r)...)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("HTTPRoute rules differ from the route table (-want +got):\n%s", diff)
	}

	for _, r := range got {
		for _, m := range r.Middlewares {
			if middlewares[m] == nil {
				t.Errorf("rule %s names Middleware %s, which is not rendered", r.Path, m)
			}
		}
	}
	wantMiddlewares := map[string]traefik.MiddlewareSpec{
		"travluk-body-limit":             {Buffering: &traefik.Buffering{MaxRequestBodyBytes: 2 << 20}},
		"travluk-credentials-rate-limit": {RateLimit: &traefik.RateLimit{Average: 30, Period: "1m", Burst: 90}},
	}
	gotMiddlewares := map[string]traefik.MiddlewareSpec{}
	for name, m := range middlewares {
		gotMiddlewares[name] = m.Spec
		if m.Namespace != "travluk" {
			t.Errorf("Middleware %s in namespace %q; an ExtensionRef finds it only in the HTTPRoute's, travluk", name, m.Namespace)
		}
	}
	if diff := cmp.Diff(wantMiddlewares, gotMiddlewares); diff != "" {
		t.Errorf("Middlewares differ (-want +got):\n%s", diff)
	}
}

func TestRenderGatewayWithoutCredentialRoutes(t *testing.T) {
	data, err := ingressyaml.RenderGateway([]ingress.Route{{Prefix: "/api/products", Service: "product", Port: 8080}})
	if err != nil {
		t.Fatalf("RenderGateway: %v", err)
	}
	for _, o := range decode(t, data) {
		if o.Name == ingressyaml.CredentialsName {
			t.Errorf("a table without credential routes renders the %s %s, which would hold no rule", o.GVK.Kind, o.Name)
		}
	}
}

func TestRenderIngress(t *testing.T) {
	data, err := ingressyaml.RenderIngress(table)
	if err != nil {
		t.Fatalf("RenderIngress: %v", err)
	}
	objs := decode(t, data)
	if len(objs) != 1 {
		t.Fatalf("rendered %d objects, want one Ingress", len(objs))
	}
	ing, ok := objs[0].Value.(*networkingv1.Ingress)
	if !ok {
		t.Fatalf("rendered a %s, want an Ingress", objs[0].GVK.Kind)
	}
	if ing.Name != "travluk" || ing.Namespace != "travluk" {
		t.Errorf("Ingress %s/%s, want travluk/travluk", ing.Namespace, ing.Name)
	}
	if len(ing.Annotations) > 0 {
		t.Errorf("Ingress has annotations %v; it must work with any controller", ing.Annotations)
	}
	if c := ing.Spec.IngressClassName; c != nil {
		t.Errorf("Ingress requires ingressClassName %q; it is left to the cluster's default class", *c)
	}
	type path struct {
		Path, PathType, Service string
		Port                    int32
	}
	want := []path{
		{"/.well-known/jwks.json", "Exact", "customer", 8080},
		{"/api/customers/login", "Exact", "customer", 8080},
		{"/api/customers", "Prefix", "customer", 8080},
		{"/api/products", "Prefix", "product", 8080},
		{"/api/orders", "Prefix", "order", 9090},
	}
	if len(ing.Spec.Rules) != 1 || ing.Spec.Rules[0].HTTP == nil || ing.Spec.Rules[0].Host != "" {
		t.Fatalf("Ingress has rules %+v, want one HTTP rule for any host", ing.Spec.Rules)
	}
	var got []path
	for _, p := range ing.Spec.Rules[0].HTTP.Paths {
		if p.PathType == nil || p.Backend.Service == nil {
			t.Fatalf("path %q lacks a pathType or a service backend", p.Path)
		}
		got = append(got, path{p.Path, string(*p.PathType), p.Backend.Service.Name, p.Backend.Service.Port.Number})
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Ingress paths differ from the route table (-want +got):\n%s", diff)
	}
}

func TestRenderRefusesRoutesItCannotExpress(t *testing.T) {
	tests := []struct {
		name  string
		route ingress.Route
		want  string
	}{
		{"no path", ingress.Route{Service: "customer", Port: 8080}, "required"},
		{"no service", ingress.Route{Prefix: "/api/customers", Port: 8080}, "required"},
		{"no port", ingress.Route{Prefix: "/api/customers", Service: "customer"}, "required"},
		{"relative path", ingress.Route{Prefix: "api/customers", Service: "customer", Port: 8080}, "start with /"},
		{"prefix credential route", ingress.Route{Prefix: "/api/customers", Credential: true, Service: "customer", Port: 8080}, "must be exact"},
	}
	renderers := map[string]func([]ingress.Route) ([]byte, error){
		"RenderGateway": ingressyaml.RenderGateway,
		"RenderIngress": ingressyaml.RenderIngress,
	}
	for _, tt := range tests {
		for name, render := range renderers {
			t.Run(tt.name+"/"+name, func(t *testing.T) {
				_, err := render([]ingress.Route{tt.route})
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("%s(%+v) error = %v, want one saying %q", name, tt.route, err, tt.want)
				}
			})
		}
	}
}

func flattenRules(t *testing.T, r *gatewayv1.HTTPRoute) []rule {
	t.Helper()
	var out []rule
	for i, rl := range r.Spec.Rules {
		if len(rl.Matches) != 1 || rl.Matches[0].Path == nil || rl.Matches[0].Path.Type == nil || rl.Matches[0].Path.Value == nil {
			t.Fatalf("HTTPRoute %s rule %d: matches %+v, want one path match", r.Name, i, rl.Matches)
		}
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
		out = append(out, rule{
			Route: r.Name, Match: string(*rl.Matches[0].Path.Type), Path: *rl.Matches[0].Path.Value,
			Service: string(rl.BackendRefs[0].Name), Port: int32(*rl.BackendRefs[0].Port), Middlewares: names,
		})
	}
	return out
}
