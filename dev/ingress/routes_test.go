package ingress

import (
	"slices"
	"testing"
)

// TestCredentialRoutes holds what the edge's rate limit relies on: login,
// register and refresh are exact routes marked Credential, nothing else is,
// and each goes where the table would send it without its own route, so
// marking them changes no request's service.
func TestCredentialRoutes(t *testing.T) {
	want := []string{"/api/customers/login", "/api/customers/refresh", "/api/customers/register"}
	var got []string
	for _, r := range Routes() {
		if !r.Credential {
			continue
		}
		got = append(got, r.Prefix)
		if !r.Exact {
			t.Errorf("credential route %s is a prefix route; it must be exact", r.Prefix)
		}
		others := slices.DeleteFunc(Routes(), func(o Route) bool { return o.Credential })
		if o, ok := Lookup(others, r.Prefix); !ok || o.Service != r.Service || o.Port != r.Port {
			t.Errorf("credential route %s goes to %s:%d; without it the table sends the path to %s:%d (found %v)",
				r.Prefix, r.Service, r.Port, o.Service, o.Port, ok)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("credential routes = %v, want %v", got, want)
	}
}

func TestRoutesAreUnique(t *testing.T) {
	type key struct {
		path  string
		exact bool
	}
	seen := map[key]bool{}
	for _, r := range Routes() {
		k := key{r.Prefix, r.Exact}
		if seen[k] {
			t.Errorf("route %s (exact %v) is in the table twice", r.Prefix, r.Exact)
		}
		seen[k] = true
	}
}
