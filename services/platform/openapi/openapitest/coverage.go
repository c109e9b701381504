// Package openapitest keeps a service's OpenAPI 3.1 document true in its
// tests: Coverage compares the document with the router and with the
// requests and responses the tests actually made.
//
// Coverage answers three questions. Is every route documented?
// (MissingRoutes) Is every documented response produced by some test?
// (UnproducedStatuses) Does every response, and every request the service
// accepted, match the document? (Violations) A route added without docs, a
// status documented but never reached, or a body, header or status the
// document does not allow fails the service's tests.
//
// It is a package of its own, apart from openapi.Handler, so that the
// validator it links stays out of the services' binaries.
package openapitest

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/gorilla/mux"
	validator "github.com/pb33f/libopenapi-validator"
	valerrors "github.com/pb33f/libopenapi-validator/errors"
)

// methods are the operation keys of an OpenAPI path item.
var methods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// anyMethod stands for a route that matches every method.
const anyMethod = "*"

type route struct {
	method   string // upper case, or anyMethod
	template string
}

// Coverage compares a document with a router and with the requests and
// responses seen through Middleware or Wrap. It is safe for concurrent use.
type Coverage struct {
	router *mux.Router
	// documented maps a normalised path to its operations' responses:
	// method -> response keys ("200", "4XX", "default").
	documented map[string]map[string][]string
	docPaths   map[string]string // normalised path -> path as documented
	routes     []route
	validator  validator.Validator

	mu         sync.Mutex
	seen       map[string]bool // "METHOD normalised-path status"
	violations []string        // seen through Middleware, for Check and Report
}

// NewCoverage reads the paths of doc (OpenAPI 3.x JSON) and the routes of
// router, and builds the validator that checks every exchange against doc.
// It fails when doc is not JSON, not an OpenAPI document libopenapi can
// model, or a route's template cannot be read.
func NewCoverage(doc []byte, router *mux.Router) (*Coverage, error) {
	var parsed struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(doc, &parsed); err != nil {
		return nil, fmt.Errorf("openapi: parse document: %w", err)
	}
	c := &Coverage{
		router:     router,
		documented: make(map[string]map[string][]string),
		docPaths:   make(map[string]string),
		seen:       make(map[string]bool),
	}
	for path, item := range parsed.Paths {
		norm := normalise(path)
		c.docPaths[norm] = path
		ops := make(map[string][]string)
		for _, m := range methods {
			raw, ok := item[m]
			if !ok {
				continue
			}
			var op struct {
				Responses map[string]json.RawMessage `json:"responses"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				return nil, fmt.Errorf("openapi: parse %s %s: %w", strings.ToUpper(m), path, err)
			}
			var keys []string
			for k := range op.Responses {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			ops[strings.ToUpper(m)] = keys
		}
		c.documented[norm] = ops
	}
	v, err := newValidator(doc)
	if err != nil {
		return nil, err
	}
	c.validator = v

	err = router.Walk(func(r *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		if r.GetHandler() == nil {
			// A subrouter's own route: its routes are walked one by one.
			return nil
		}
		tmpl, err := r.GetPathTemplate()
		if err != nil {
			// A route without a path (host or header matchers only) has
			// nothing to document under paths.
			return nil
		}
		ms, err := r.GetMethods()
		if err != nil {
			ms = []string{anyMethod}
		}
		for _, m := range ms {
			c.routes = append(c.routes, route{method: strings.ToUpper(m), template: tmpl})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("openapi: walk router: %w", err)
	}
	return c, nil
}

// Middleware records the method, route template and status of every
// request that reaches a route of the router, and validates the exchange
// against the document (see Violations). Wrap the router with it in tests,
// or add it with router.Use. Its violations wait for Check, Report or
// RunTests; Wrap reports them to a test at once.
func (c *Coverage) Middleware(next http.Handler) http.Handler {
	return c.wrap(nil, next)
}

// Wrap is Middleware whose violations fail t at once, naming the request,
// so that the test that made it fails; they are not kept for Report. t
// must outlive the requests (an httptest.Server closed in t.Cleanup does).
func (c *Coverage) Wrap(t TB, next http.Handler) http.Handler {
	return c.wrap(t, next)
}

func (c *Coverage) wrap(t TB, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tmpl, ok := c.templateOf(r)
		if !ok {
			// Not a route (the router's own 404 or 405): nothing in the
			// document to hold it to.
			next.ServeHTTP(w, r)
			return
		}
		// The body is read here, before next, so that the validator sees
		// what the handler saw; the handler reads the same bytes.
		var body []byte
		if r.Body != nil && r.Body != http.NoBody {
			body, _ = io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		code := rec.statusCode()
		c.mu.Lock()
		c.seen[seenKey(r.Method, normalise(tmpl), code)] = true
		c.mu.Unlock()

		violations := c.validate(r, body, rec)
		if t != nil {
			t.Helper()
			for _, v := range violations {
				t.Errorf("OpenAPI violation: %s", v)
			}
			return
		}
		c.mu.Lock()
		c.violations = append(c.violations, violations...)
		c.mu.Unlock()
	})
}

// validate checks one exchange against the document. The response must
// always match: status, required headers, media type and body. The
// request may break the document only when the service refused it (a 4xx
// or 5xx): tests send malformed, unknown or oversized input on purpose,
// and refusing it is the documented behaviour. A request the document
// refuses but the service accepted means the document claims a rule the
// code does not keep.
func (c *Coverage) validate(r *http.Request, body []byte, rec *statusRecorder) []string {
	if r.Method == http.MethodHead {
		// HEAD is documented by GET (see MissingRoutes), whose schemas
		// demand the body that HEAD never has.
		return nil
	}
	name := r.Method + " " + r.URL.RequestURI()
	code := rec.statusCode()
	var out []string

	req := r.Clone(r.Context())
	req.Body = io.NopCloser(bytes.NewReader(body))
	if ok, errs := c.validator.ValidateHttpRequest(req); !ok {
		for _, e := range errs {
			if e.IsPathMissingError() || e.IsOperationMissingError() {
				// A route the document lacks: MissingRoutes names it.
				return nil
			}
		}
		if code < 400 {
			for _, e := range errs {
				out = append(out, fmt.Sprintf("%s: the service answered %d to a request the document refuses: %s", name, code, describe(e)))
			}
		}
	}

	req = r.Clone(r.Context())
	req.Body = http.NoBody
	resp := &http.Response{
		StatusCode: code,
		Header:     rec.sentHeader(),
		Body:       io.NopCloser(bytes.NewReader(rec.body.Bytes())),
		Request:    req,
	}
	if ok, errs := c.validator.ValidateHttpResponse(req, resp); !ok {
		for _, e := range errs {
			out = append(out, fmt.Sprintf("%s: response %d: %s", name, code, describe(e)))
		}
	}
	return out
}

// describe is one validation error on one line, with each schema failure
// and where in the body it is.
func describe(e *valerrors.ValidationError) string {
	var b strings.Builder
	b.WriteString(e.Message)
	if e.Reason != "" {
		b.WriteString(": " + e.Reason)
	}
	for _, f := range e.SchemaValidationErrors {
		where := f.FieldPath
		if where == "" {
			where = "/" + strings.Join(f.InstancePath, "/")
		}
		fmt.Fprintf(&b, "; at %s: %s", where, f.Reason)
	}
	return b.String()
}

// Violations lists the mismatches between the document and the exchanges
// seen through Middleware, in the order they happened, as "METHOD
// /request/uri: what". Wrap's go to its test instead.
func (c *Coverage) Violations() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.violations)
}

// templateOf finds the route template r matches, inside the router (with
// router.Use) or in front of it.
func (c *Coverage) templateOf(r *http.Request) (string, bool) {
	if cr := mux.CurrentRoute(r); cr != nil {
		tmpl, err := cr.GetPathTemplate()
		return tmpl, err == nil
	}
	var m mux.RouteMatch
	if !c.router.Match(r, &m) || m.MatchErr != nil || m.Route == nil {
		return "", false
	}
	tmpl, err := m.Route.GetPathTemplate()
	return tmpl, err == nil
}

// MissingRoutes lists router routes, as "METHOD /template", that the
// document lacks: the path is absent, or the method is not under it.
// Parameter names do not matter: /a/{id} matches /a/{customerId}. A HEAD
// route is documented by its path's GET.
func (c *Coverage) MissingRoutes() []string {
	var missing []string
	for _, r := range c.routes {
		ops, ok := c.documented[normalise(r.template)]
		switch {
		case !ok:
			missing = append(missing, r.method+" "+r.template)
		case r.method == anyMethod:
			if len(ops) == 0 {
				missing = append(missing, r.method+" "+r.template)
			}
		case r.method == http.MethodHead && hasOperation(ops, http.MethodGet):
			// HEAD is GET without the body (RFC 9110 §9.3.2): documenting
			// GET documents it.
		default:
			if _, ok := ops[r.method]; !ok {
				missing = append(missing, r.method+" "+r.template)
			}
		}
	}
	return sortedUnique(missing)
}

func hasOperation(ops map[string][]string, method string) bool {
	_, ok := ops[method]
	return ok
}

// UndocumentedOperations is the other direction of MissingRoutes: the
// document's operations, as "METHOD /path", that no route serves. Check
// leaves it out, because a document may rightly describe paths served
// outside the router, such as /healthz.
func (c *Coverage) UndocumentedOperations() []string {
	routed := make(map[string]bool)
	for _, r := range c.routes {
		routed[r.method+" "+normalise(r.template)] = true
	}
	var orphans []string
	for norm, ops := range c.documented {
		for m := range ops {
			if !routed[m+" "+norm] && !routed[anyMethod+" "+norm] {
				orphans = append(orphans, m+" "+c.docPaths[norm])
			}
		}
	}
	return sortedUnique(orphans)
}

// UnproducedStatuses lists documented responses, as "METHOD /path status",
// that no request through Middleware produced. A range key such as "4XX"
// is produced by any status in it; "default" is never required.
func (c *Coverage) UnproducedStatuses() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var unproduced []string
	for norm, ops := range c.documented {
		for m, statuses := range ops {
			for _, s := range statuses {
				if s == "default" || c.produced(m, norm, s) {
					continue
				}
				unproduced = append(unproduced, m+" "+c.docPaths[norm]+" "+s)
			}
		}
	}
	return sortedUnique(unproduced)
}

// produced reports whether a response key was seen; the caller holds mu.
func (c *Coverage) produced(method, norm, key string) bool {
	if len(key) == 3 && (key[1:] == "XX" || key[1:] == "xx") {
		for code := int(key[0]-'0') * 100; code < int(key[0]-'0')*100+100; code++ {
			if c.seen[seenKey(method, norm, code)] {
				return true
			}
		}
		return false
	}
	code, err := strconv.Atoi(key)
	return err == nil && c.seen[seenKey(method, norm, code)]
}

// TB is the part of testing.TB that Check and Wrap use; *testing.T
// satisfies it, and so does a fake in this package's own tests.
type TB interface {
	Helper()
	Errorf(format string, args ...any)
}

// Check fails t with every missing route, every unproduced status and
// every violation.
func (c *Coverage) Check(t TB) {
	t.Helper()
	for _, p := range c.problems() {
		t.Errorf("%s", p)
	}
}

// Report writes every missing route, every unproduced status and every
// violation to w and reports whether there were none: Check for a
// TestMain, which has no testing.TB.
func (c *Coverage) Report(w io.Writer) (ok bool) {
	problems := c.problems()
	for _, p := range problems {
		fmt.Fprintf(w, "OpenAPI coverage: %s\n", p)
	}
	return len(problems) == 0
}

// RunTests runs the tests of m (a *testing.M) and returns the exit code for
// a TestMain: the tests' own, or 1 when they passed but an exchange seen
// through Middleware broke the document, or when all of them ran and
// passed but coverage has gaps. Only a full run (no -run filter, no
// -short) produces every documented status, so a partial run is checked
// for violations alone.
//
//	func TestMain(m *testing.M) {
//		flag.Parse()
//		coverage, _ = openapi.NewCoverage(OpenAPI, router) // handle the error
//		os.Exit(coverage.RunTests(m))
//	}
func (c *Coverage) RunTests(m interface{ Run() int }) int {
	return c.runTests(m, fullRun(), os.Stderr)
}

func (c *Coverage) runTests(m interface{ Run() int }, full bool, w io.Writer) int {
	code := m.Run()
	if code != 0 {
		return code
	}
	problems := c.violationProblems()
	if full {
		problems = c.problems()
	}
	for _, p := range problems {
		fmt.Fprintf(w, "OpenAPI coverage: %s\n", p)
	}
	if len(problems) > 0 {
		code = 1
	}
	return code
}

// fullRun reports whether the test binary runs every test: flags read
// without importing package testing, which the services' binaries link.
func fullRun() bool {
	run, short := flag.Lookup("test.run"), flag.Lookup("test.short")
	return run != nil && run.Value.String() == "" && (short == nil || short.Value.String() != "true")
}

func (c *Coverage) problems() []string {
	var out []string
	if missing := c.MissingRoutes(); len(missing) > 0 {
		out = append(out, "routes missing from the OpenAPI document:\n\t"+strings.Join(missing, "\n\t"))
	}
	if unproduced := c.UnproducedStatuses(); len(unproduced) > 0 {
		out = append(out, "documented responses no test produced:\n\t"+strings.Join(unproduced, "\n\t"))
	}
	return append(out, c.violationProblems()...)
}

func (c *Coverage) violationProblems() []string {
	if v := c.Violations(); len(v) > 0 {
		return []string{"exchanges that break the OpenAPI document:\n\t" + strings.Join(v, "\n\t")}
	}
	return nil
}

// normalise replaces each {name} or {name:pattern} in a path template with
// {}, so that documents and routers may name parameters differently.
func normalise(template string) string {
	var b strings.Builder
	depth := 0
	for _, r := range template {
		switch {
		case r == '{':
			if depth == 0 {
				b.WriteString("{}")
			}
			depth++
		case r == '}' && depth > 0:
			depth--
		case depth == 0:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func seenKey(method, norm string, code int) string {
	return method + " " + norm + " " + strconv.Itoa(code)
}

func sortedUnique(s []string) []string {
	sort.Strings(s)
	return slices.Compact(s)
}

// statusRecorder keeps what a handler sent: the final status, the headers
// as they were when it was sent, and the body.
type statusRecorder struct {
	http.ResponseWriter
	status int
	header http.Header
	body   bytes.Buffer
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 && code >= 200 {
		s.status = code
		s.header = s.ResponseWriter.Header().Clone()
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		// The implicit 200 of net/http, left to it so that it still
		// sniffs a missing Content-Type.
		s.status = http.StatusOK
		s.header = s.ResponseWriter.Header().Clone()
	}
	s.body.Write(b)
	return s.ResponseWriter.Write(b)
}

// sentHeader is the header the client got: as of the status line, or now
// if the handler wrote nothing (net/http then sends 200 with it).
func (s *statusRecorder) sentHeader() http.Header {
	if s.header == nil {
		return s.ResponseWriter.Header().Clone()
	}
	return s.header
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusRecorder) statusCode() int {
	if s.status == 0 {
		return http.StatusOK
	}
	return s.status
}
