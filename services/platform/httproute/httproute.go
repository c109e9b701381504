// Package httproute adds a service's routes to a gorilla/mux router the way
// HTTP wants them answered: HEAD wherever GET is served, and a wrong method
// on a served path answered 405 with an Allow header, as an RFC 9457
// problem, before any handler (and so before authentication) runs. Query
// refuses query parameters a handler does not take.
package httproute

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gorilla/mux"

	"github.com/travluk/ecom/services/platform/problem"
)

// Methods maps each method a path serves to its handler.
type Methods map[string]http.Handler

// NewRouter returns a router that answers unknown paths with a 404 problem.
// Add its routes with Handle.
func NewRouter() *mux.Router {
	r := mux.NewRouter()
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		problem.Write(w, problem.New(http.StatusNotFound, "not_found", "No such resource."))
	})
	// Reached only by a route added without Handle; Allow is then found by
	// asking the router about each method, which is slow but rare.
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		writeNotAllowed(w, allowedAt(r, req))
	})
	return r
}

// Handle adds path to router with a route per method of methods (GET also
// answering HEAD, which net/http sends without the body), then a route that
// answers every other method with 405. That last route is why a literal path
// added before a pattern that also matches it, such as /customers/register
// before /customers/{id}, keeps its wrong methods from reaching the pattern's
// handlers.
func Handle(router *mux.Router, path string, methods Methods) {
	served := make([]string, 0, len(methods))
	for m := range methods {
		served = append(served, m)
	}
	slices.SortFunc(served, compareMethods)
	for _, m := range served {
		ms := []string{m}
		if _, ok := methods[http.MethodHead]; m == http.MethodGet && !ok {
			ms = append(ms, http.MethodHead)
		}
		router.Handle(path, methods[m]).Methods(ms...)
	}
	router.Handle(path, NotAllowed(served...))
}

// NotAllowed returns a handler that answers 405 with Allow listing methods,
// and HEAD when they include GET.
func NotAllowed(methods ...string) http.Handler {
	allow := allowList(methods)
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeNotAllowed(w, allow)
	})
}

func writeNotAllowed(w http.ResponseWriter, allow []string) {
	list := strings.Join(allow, ", ")
	w.Header().Set("Allow", list)
	problem.Write(w, problem.New(http.StatusMethodNotAllowed, "method_not_allowed",
		"This resource answers only "+list+"."))
}

// allowList sorts methods, adds HEAD where GET is, and drops repeats.
func allowList(methods []string) []string {
	out := slices.Clone(methods)
	if slices.Contains(out, http.MethodGet) {
		out = append(out, http.MethodHead)
	}
	slices.SortFunc(out, compareMethods)
	return slices.Compact(out)
}

// allowedAt lists the methods router serves at req's path.
func allowedAt(router *mux.Router, req *http.Request) []string {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions} {
		probe := req.Clone(req.Context())
		probe.Method = m
		var match mux.RouteMatch
		if router.Match(probe, &match) && match.MatchErr == nil {
			allow = append(allow, m)
		}
	}
	return allowList(allow)
}

// compareMethods orders methods as readers expect them in Allow: reads,
// then writes, then the rest alphabetically.
func compareMethods(a, b string) int {
	ra, rb := rank(a), rank(b)
	if ra != rb {
		return ra - rb
	}
	return strings.Compare(a, b)
}

func rank(m string) int {
	switch m {
	case http.MethodGet:
		return 0
	case http.MethodHead:
		return 1
	case http.MethodPost:
		return 2
	case http.MethodPut:
		return 3
	case http.MethodPatch:
		return 4
	case http.MethodDelete:
		return 5
	}
	return 6
}

// Query returns a handler that answers a request naming a query parameter
// other than params with a 422 problem (code "validation_failed", one
// {field, "unknown query parameter"} per name), and passes the rest to h.
// A parameter a handler would ignore is refused rather than ignored, as an
// unknown body field is: a misspelt ?limt=5 must not look like it worked.
// With no params, any query is refused.
func Query(h http.Handler, params ...string) http.Handler {
	takes := "This resource takes no query parameters."
	if len(params) > 0 {
		takes = "This resource takes only " + strings.Join(params, ", ") + "."
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.RawQuery == "" {
			h.ServeHTTP(w, r)
			return
		}
		// A malformed pair is dropped by ParseQuery, as by r.URL.Query(),
		// which every handler reads; what it parsed is what is checked.
		values, _ := url.ParseQuery(r.URL.RawQuery)
		var unknown []string
		for name := range values {
			if !slices.Contains(params, name) {
				unknown = append(unknown, name)
			}
		}
		if len(unknown) == 0 {
			h.ServeHTTP(w, r)
			return
		}
		slices.Sort(unknown)
		fields := make([]problem.FieldError, len(unknown))
		for i, name := range unknown {
			fields[i] = problem.FieldError{Field: name, Message: "unknown query parameter"}
		}
		p := problem.Validation(fields...)
		p.Detail = "Unknown query parameter: " + strings.Join(unknown, ", ") + ". " + takes
		problem.Write(w, p)
	})
}
