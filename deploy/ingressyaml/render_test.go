package ingressyaml_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/travluk/ecom/deploy/ingressyaml"
	"github.com/travluk/ecom/deploy/manifest"
	"github.com/travluk/ecom/dev/ingress"
	networkingv1 "k8s.io/api/networking/v1"
)

// path is one Ingress path, flattened for comparison.
type path struct {
	Path, PathType, Service string
	Port                    int32
}

func TestRenderRoutesEveryPath(t *testing.T) {
	routes := []ingress.Route{
		{Prefix: "/.well-known/jwks.json", Exact: true, Service: "customer", Port: 8080},
		{Prefix: "/api/customers", Service: "customer", Port: 8080},
		{Prefix: "/api/products", Service: "product", Port: 8080},
		{Prefix: "/api/orders", Service: "order", Port: 9090},
	}
	want := []path{
		{"/.well-known/jwks.json", "Exact", "customer", 8080},
		{"/api/customers", "Prefix", "customer", 8080},
		{"/api/products", "Prefix", "product", 8080},
		{"/api/orders", "Prefix", "order", 9090},
	}

	wantCredentials := []path{
		{"/api/customers/login", "Exact", "customer", 8080},
		{"/api/customers/register", "Exact", "customer", 8080},
		{"/api/customers/refresh", "Exact", "customer", 8080},
	}

	data, err := ingressyaml.Render(routes)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	objs, err := manifest.DecodeAll("rendered", data)
	if err != nil {
		t.Fatalf("rendered Ingresses do not decode strictly: %v\n%s", err, data)
	}
	if len(objs) != 2 {
		t.Fatalf("rendered %d objects, want the main and the credentials Ingress", len(objs))
	}
	main, credentials := objs[0].Value.(*networkingv1.Ingress), objs[1].Value.(*networkingv1.Ingress)
	for _, ing := range []*networkingv1.Ingress{main, credentials} {
		if got := ing.Spec.IngressClassName; got == nil || *got != "nginx" {
			t.Errorf("%s: ingressClassName = %v, want nginx", ing.Name, got)
		}
		if ing.Namespace != "travluk" {
			t.Errorf("%s: namespace = %q, want travluk", ing.Name, ing.Namespace)
		}
	}
	if diff := cmp.Diff(want, flatten(t, main)); diff != "" {
		t.Errorf("Ingress paths differ from the route table (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantCredentials, flatten(t, credentials)); diff != "" {
		t.Errorf("credentials Ingress paths differ (-want +got):\n%s", diff)
	}
	if _, limited := main.Annotations["nginx.ingress.kubernetes.io/limit-rpm"]; limited {
		t.Errorf("main Ingress is rate-limited; only the credential paths should be")
	}
	if got := credentials.Annotations["nginx.ingress.kubernetes.io/limit-rpm"]; got == "" {
		t.Errorf("credentials Ingress has no limit-rpm annotation; login would not be rate-limited")
	}
}

func TestRenderRefusesIncompleteRoutes(t *testing.T) {
	tests := []struct {
		name  string
		route ingress.Route
	}{
		{"no path", ingress.Route{Service: "customer", Port: 8080}},
		{"no service", ingress.Route{Prefix: "/api/customers", Port: 8080}},
		{"no port", ingress.Route{Prefix: "/api/customers", Service: "customer"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ingressyaml.Render([]ingress.Route{tt.route})
			if err == nil || !strings.Contains(err.Error(), "required") {
				t.Fatalf("Render(%+v) error = %v, want one saying what is required", tt.route, err)
			}
		})
	}
}

func TestRenderRefusesUnroutedCredentialPaths(t *testing.T) {
	routes := []ingress.Route{{Prefix: "/api/products", Service: "product", Port: 8080}}
	_, err := ingressyaml.Render(routes)
	if err == nil || !strings.Contains(err.Error(), "/api/customers/login") {
		t.Fatalf("Render without a customer route: error = %v, want one naming the unrouted login path", err)
	}
}

func flatten(t *testing.T, ing *networkingv1.Ingress) []path {
	t.Helper()
	if len(ing.Spec.Rules) != 1 || ing.Spec.Rules[0].HTTP == nil {
		t.Fatalf("Ingress has %d rules, want one HTTP rule for any host", len(ing.Spec.Rules))
	}
	var out []path
	for _, p := range ing.Spec.Rules[0].HTTP.Paths {
		if p.PathType == nil || p.Backend.Service == nil {
			t.Fatalf("path %q lacks a pathType or a service backend", p.Path)
		}
		out = append(out, path{p.Path, string(*p.PathType), p.Backend.Service.Name, p.Backend.Service.Port.Number})
	}
	return out
}
