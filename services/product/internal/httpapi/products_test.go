package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/travluk/ecom/services/platform/auth"
)

func TestProductLifecycle(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := e.do(req{method: "POST", path: "/api/products", token: e.admin,
		body: `{"name":"  Desk Lamp ","description":"Warm light","price":19.99,"stock":3,"attributes":{"colour":"green","watts":60,"dimmable":true,"ratio":0.5}}`})
	if r.status != http.StatusCreated {
		t.Fatalf("create: %s", r)
	}
	created := decodeInto[apiProduct](t, r)
	if loc := r.header.Get("Location"); loc != "/api/products/"+created.ID {
		t.Errorf("Location = %q", loc)
	}
	if r.header.Get("ETag") != `"v1"` {
		t.Errorf("ETag = %q, want \"v1\"", r.header.Get("ETag"))
	}
	if created.Name != "Desk Lamp" || created.Price.String() != "19.99" || created.Stock.String() != "3" || created.Version != 1 {
		t.Errorf("created = %+v", created)
	}
	if !strings.Contains(string(r.body), `"attributes":{"colour":"green","dimmable":true,"ratio":0.5,"watts":60}`) {
		t.Errorf("attributes not returned as sent: %s", r.body)
	}
	for _, hidden := range []string{"reserved", "sold", "priceCents", "nameKey"} {
		if strings.Contains(string(r.body), hidden) {
			t.Errorf("response shows %q: %s", hidden, r.body)
		}
	}

	got, gr := e.get(created.ID)
	if diff := cmp.Diff(created, got); diff != "" {
		t.Errorf("GET differs from POST (-post +get):\n%s", diff)
	}
	if gr.header.Get("ETag") != `"v1"` || gr.header.Get("Cache-Control") != "no-cache" {
		t.Errorf("GET headers = %v", gr.header)
	}

	time.Sleep(2 * time.Millisecond) // so updatedAt can move on
	r = e.do(req{method: "PUT", path: "/api/products/" + created.ID, token: e.admin, body: `{"price":24.5}`})
	if r.status != http.StatusOK {
		t.Fatalf("update: %s", r)
	}
	updated := decodeInto[apiProduct](t, r)
	if updated.Price.String() != "24.50" || updated.Version != 2 || updated.Name != "Desk Lamp" || updated.Stock.String() != "3" ||
		len(updated.Attributes) != 4 || !updated.UpdatedAt.After(created.UpdatedAt) || !updated.CreatedAt.Equal(created.CreatedAt) {
		t.Errorf("after partial update: %+v", updated)
	}
	if r.header.Get("ETag") != `"v2"` {
		t.Errorf("ETag after update = %q", r.header.Get("ETag"))
	}

	r = e.do(req{method: "DELETE", path: "/api/products/" + created.ID, token: e.admin})
	if r.status != http.StatusNoContent || len(r.body) != 0 {
		t.Fatalf("delete: %s", r)
	}
	if _, r := e.get(created.ID); r.status != http.StatusNotFound {
		t.Errorf("GET after delete: %s", r)
	}
	if page := e.list("limit=100"); len(page.Items) != 0 {
		t.Errorf("deleted product still listed: %+v", page.Items)
	}
	for _, m := range []string{"PUT", "DELETE"} {
		if r := e.do(req{method: m, path: "/api/products/" + created.ID, token: e.admin, body: `{"stock":1}`}); r.status != http.StatusNotFound {
			t.Errorf("%s after delete: %s", m, r)
		}
	}
}

func TestNotFound(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, id := range []string{"65f0c0ffee0000000000abcd", "not-an-id", "%20", strings.Repeat("a", 300)} {
		if _, r := e.get(id); r.status != http.StatusNotFound || decodeInto[apiProblem](t, r).Code != "not_found" {
			t.Errorf("GET %q: %s", id, r)
		}
	}
	if r := e.do(req{method: "GET", path: "/api/nothing"}); r.status != http.StatusNotFound {
		t.Errorf("unknown path: %s", r)
	}
	if r := e.do(req{method: "PATCH", path: "/api/products/x"}); r.status != http.StatusMethodNotAllowed {
		t.Errorf("PATCH: %s", r)
	}
}

func TestOpenAPIServed(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := e.do(req{method: "GET", path: "/api/products/openapi.json"})
	var doc map[string]any
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/json" || json.Unmarshal(r.body, &doc) != nil || doc["openapi"] != "3.1.0" {
		t.Errorf("openapi.json: %d %s", r.status, r.header.Get("Content-Type"))
	}
}

// TestCreateValidation is the catalog's input contract, money first:
// prices are read from the number's text, exactly.
func TestCreateValidation(t *testing.T) {
	e := newEnv(t, envOptions{})
	valid := map[string]string{"name": `"Mug"`, "description": `"Ceramic"`, "price": `9.99`, "stock": `5`}
	body := func(change map[string]string) string {
		m := map[string]string{}
		for k, v := range valid {
			m[k] = v
		}
		for k, v := range change {
			if v == "" {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		var parts []string
		for _, k := range slices.Sorted(func(yield func(string) bool) {
			for k := range m {
				if !yield(k) {
					return
				}
			}
		}) {
			parts = append(parts, fmt.Sprintf("%q:%s", k, m[k]))
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	accepted := []struct {
		name      string
		change    map[string]string
		wantPrice string
		wantStock string
	}{
		{"price with cents", map[string]string{"price": "19.99"}, "19.99", "5"},
		{"0.10 stays 0.10", map[string]string{"price": "0.1"}, "0.10", "5"},
		{"0.30 is exact, unlike 0.1+0.2 in floats", map[string]string{"price": "0.3"}, "0.30", "5"},
		{"whole price", map[string]string{"price": "20"}, "20.00", "5"},
		{"trailing zeros are not precision", map[string]string{"price": "1.000"}, "1.00", "5"},
		{"exponent read exactly", map[string]string{"price": "1e2"}, "100.00", "5"},
		{"small exponent", map[string]string{"price": "1999e-2"}, "19.99", "5"},
		{"largest price", map[string]string{"price": "99999999.99"}, "99999999.99", "5"},
		{"smallest price", map[string]string{"price": "0.01"}, "0.01", "5"},
		{"large price exact beyond float64 digits", map[string]string{"price": "90071992547409.91"}, "", ""},
		{"stock zero", map[string]string{"stock": "0"}, "9.99", "0"},
		{"stock 2.0 is whole", map[string]string{"stock": "2.0"}, "9.99", "2"},
		{"empty description", map[string]string{"description": `""`}, "9.99", "5"},
		{"name of 200 characters, counted in runes", map[string]string{"name": `"` + strings.Repeat("é", 200) + `"`}, "9.99", "5"},
		{"attributes of every kind", map[string]string{"attributes": `{"a.b":"x","$c":1,"d":-2.5,"e":false}`}, "9.99", "5"},
	}
	for _, tt := range accepted {
		t.Run("accepts "+tt.name, func(t *testing.T) {
			r := e.do(req{method: "POST", path: "/api/products", token: e.admin, body: body(tt.change)})
			if tt.wantPrice == "" {
				// Out of range: refused cleanly, never rounded.
				if r.status != http.StatusUnprocessableEntity {
					t.Fatalf("%s", r)
				}
				return
			}
			if r.status != http.StatusCreated {
				t.Fatalf("%s", r)
			}
			p := decodeInto[apiProduct](t, r)
			if p.Price.String() != tt.wantPrice || p.Stock.String() != tt.wantStock {
				t.Errorf("price %s stock %s, want %s and %s", p.Price, p.Stock, tt.wantPrice, tt.wantStock)
			}
			if !strings.Contains(string(r.body), `"price":`+tt.wantPrice+",") {
				t.Errorf("price not written as the number %s: %s", tt.wantPrice, r.body)
			}
			got, _ := e.get(p.ID)
			if got.Price.String() != tt.wantPrice {
				t.Errorf("read back price %s, want %s", got.Price, tt.wantPrice)
			}
		})
	}

	refused := []struct {
		name   string
		change map[string]string
		fields []string
	}{
		{"three decimals", map[string]string{"price": "1.001"}, []string{"price"}},
		{"zero price", map[string]string{"price": "0"}, []string{"price"}},
		{"negative price", map[string]string{"price": "-1"}, []string{"price"}},
		{"price as string", map[string]string{"price": `"1.00"`}, []string{"price"}},
		{"price null", map[string]string{"price": "null"}, []string{"price"}},
		{"price too large", map[string]string{"price": "100000000"}, []string{"price"}},
		{"price exponent too precise", map[string]string{"price": "1e-3"}, []string{"price"}},
		{"huge exponent", map[string]string{"price": "1e999999999"}, []string{"price"}},
		{"fractional stock", map[string]string{"stock": "1.5"}, []string{"stock"}},
		{"negative stock", map[string]string{"stock": "-1"}, []string{"stock"}},
		{"stock as string", map[string]string{"stock": `"3"`}, []string{"stock"}},
		{"stock too large", map[string]string{"stock": "1000000001"}, []string{"stock"}},
		{"blank name", map[string]string{"name": `"   "`}, []string{"name"}},
		{"name too long", map[string]string{"name": `"` + strings.Repeat("a", 201) + `"`}, []string{"name"}},
		{"name not a string", map[string]string{"name": `42`}, []string{"name"}},
		{"description too long", map[string]string{"description": `"` + strings.Repeat("a", 5001) + `"`}, []string{"description"}},
		{"missing fields", map[string]string{"name": "", "price": "", "stock": "", "description": ""}, []string{"name", "description", "price", "stock"}},
		{"attributes not an object", map[string]string{"attributes": `[1]`}, []string{"attributes"}},
		{"attributes null", map[string]string{"attributes": `null`}, []string{"attributes"}},
		{"nested attribute", map[string]string{"attributes": `{"size":{"w":1}}`}, []string{"attributes.size"}},
		{"array attribute", map[string]string{"attributes": `{"tags":["a"]}`}, []string{"attributes.tags"}},
		{"null attribute", map[string]string{"attributes": `{"x":null}`}, []string{"attributes.x"}},
		{"empty attribute key", map[string]string{"attributes": `{"":"x"}`}, []string{"attributes."}},
		{"attribute key too long", map[string]string{"attributes": `{"` + strings.Repeat("k", 101) + `":"x"}`}, []string{"attributes." + strings.Repeat("k", 101)}},
		{"too many attributes", map[string]string{"attributes": manyAttributes(51)}, []string{"attributes"}},
		{"unknown field sold", map[string]string{"sold": "3"}, []string{"sold"}},
		{"unknown field reserved", map[string]string{"reserved": "3"}, []string{"reserved"}},
		{"several at once", map[string]string{"price": "0", "stock": "-1", "name": `""`}, []string{"name", "price", "stock"}},
	}
	for _, tt := range refused {
		t.Run("refuses "+tt.name, func(t *testing.T) {
			before := e.list("limit=100")
			r := e.do(req{method: "POST", path: "/api/products", token: e.admin, body: body(tt.change)})
			if r.status != http.StatusUnprocessableEntity {
				t.Fatalf("%s", r)
			}
			p := decodeInto[apiProblem](t, r)
			if p.Code != "validation_failed" || !cmp.Equal(fields(p), tt.fields) {
				t.Errorf("code %q fields %v, want %v: %s", p.Code, fields(p), tt.fields, r.body)
			}
			if after := e.list("limit=100"); len(after.Items) != len(before.Items) {
				t.Errorf("a refused create stored a product")
			}
		})
	}
	if r := e.do(req{method: "POST", path: "/api/products", token: e.admin, body: body(map[string]string{"attributes": manyAttributes(50)})}); r.status != http.StatusCreated {
		t.Errorf("50 attributes: %s", r)
	}
}

func manyAttributes(n int) string {
	var parts []string
	for i := range n {
		parts = append(parts, fmt.Sprintf(`"k%d":%d`, i, i))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// TestUpdateValidation: a refused update changes nothing, read back.
func TestUpdateValidation(t *testing.T) {
	e := newEnv(t, envOptions{})
	p := e.create("Kettle", "30.00", 4)
	tests := []struct {
		name   string
		body   string
		fields []string
	}{
		{"sold is not writable", `{"price":31,"sold":5}`, []string{"sold"}},
		{"reserved is not writable", `{"reserved":1}`, []string{"reserved"}},
		{"id is not writable", `{"id":"x"}`, []string{"id"}},
		{"version is not writable", `{"version":9}`, []string{"version"}},
		{"null name", `{"name":null}`, []string{"name"}},
		{"bad price with good stock", `{"price":1.001,"stock":9}`, []string{"price"}},
		{"negative stock", `{"stock":-1}`, []string{"stock"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(req{method: "PUT", path: "/api/products/" + p.ID, token: e.admin, body: tt.body})
			if r.status != http.StatusUnprocessableEntity {
				t.Fatalf("%s", r)
			}
			if got := fields(decodeInto[apiProblem](t, r)); !cmp.Equal(got, tt.fields) {
				t.Errorf("fields %v, want %v", got, tt.fields)
			}
			if got, _ := e.get(p.ID); !cmp.Equal(got, p) {
				t.Errorf("product changed by a refused update:\n%s", cmp.Diff(p, got))
			}
		})
	}
	r := e.do(req{method: "PUT", path: "/api/products/" + p.ID, token: e.admin, body: `{"attributes":{}}`})
	if got := decodeInto[apiProduct](t, r); r.status != 200 || len(got.Attributes) != 0 || got.Price.String() != "30.00" {
		t.Errorf("clearing attributes: %s", r)
	}
	r = e.do(req{method: "PUT", path: "/api/products/" + p.ID, token: e.admin, body: `{}`})
	if got := decodeInto[apiProduct](t, r); r.status != 200 || got.Version != 3 {
		t.Errorf("empty update still a write (version 3): %s", r)
	}
}

func TestBodyProblems(t *testing.T) {
	e := newEnv(t, envOptions{})
	p := e.create("Teapot", "12.00", 1)
	big := `{"name":"` + strings.Repeat("a", 1<<20) + `"}`
	for _, target := range []struct{ method, path string }{{"POST", "/api/products"}, {"PUT", "/api/products/" + p.ID}} {
		tests := []struct {
			name        string
			body        string
			contentType string
			want        int
		}{
			{"not JSON", `{"name":`, "", http.StatusBadRequest},
			{"an array", `[]`, "", http.StatusBadRequest},
			{"two objects", `{}{}`, "", http.StatusBadRequest},
			{"wrong content type", `{}`, "text/plain", http.StatusUnsupportedMediaType},
			{"too large", big, "", http.StatusRequestEntityTooLarge},
		}
		for _, tt := range tests {
			t.Run(target.method+" "+tt.name, func(t *testing.T) {
				r := e.do(req{method: target.method, path: target.path, token: e.admin, body: tt.body, contentType: tt.contentType})
				if r.status != tt.want || r.header.Get("Content-Type") != "application/problem+json" {
					t.Errorf("%s", r)
				}
			})
		}
	}
}

func TestAuth(t *testing.T) {
	e := newEnv(t, envOptions{})
	p := e.create("Chair", "45.00", 2)
	loggedOut, sid := e.iss.Token(t, "admin-2", auth.RoleAdmin)
	e.iss.EndSession(t, sid)
	writes := []req{
		{method: "POST", path: "/api/products", body: `{"name":"X","description":"","price":1,"stock":1}`},
		{method: "PUT", path: "/api/products/" + p.ID, body: `{"price":1}`},
		{method: "DELETE", path: "/api/products/" + p.ID},
	}
	for _, w := range writes {
		for _, who := range []struct {
			name   string
			token  string
			header map[string]string
			want   int
		}{
			{"anonymous", "", nil, http.StatusUnauthorized},
			{"garbage token", "not-a-token", nil, http.StatusUnauthorized},
			{"logged-out admin", loggedOut, nil, http.StatusUnauthorized},
			{"customer", e.customer, nil, http.StatusForbidden},
			{"customer via x-auth-token", "", map[string]string{"x-auth-token": e.customer}, http.StatusForbidden},
		} {
			t.Run(w.method+" by "+who.name, func(t *testing.T) {
				r := w
				r.token, r.header = who.token, who.header
				if got := e.do(r); got.status != who.want {
					t.Errorf("%s", got)
				}
			})
		}
	}
	if got, _ := e.get(p.ID); got.Price.String() != "45.00" || got.Version != 1 {
		t.Errorf("refused writes changed the product: %+v", got)
	}
	// The seed's header works for admins too.
	r := e.do(req{method: "PUT", path: "/api/products/" + p.ID, header: map[string]string{"x-auth-token": e.admin}, body: `{"stock":7}`})
	if r.status != http.StatusOK {
		t.Errorf("admin via x-auth-token: %s", r)
	}
}

func TestETags(t *testing.T) {
	e := newEnv(t, envOptions{})
	p := e.create("Clock", "15.00", 1)
	path := "/api/products/" + p.ID
	notModified := []string{`"v1"`, `W/"v1"`, `*`, `"v0", "v1"`, ` "x" ,W/"v1" `}
	for _, inm := range notModified {
		r := e.do(req{method: "GET", path: path, header: map[string]string{"If-None-Match": inm}})
		if r.status != http.StatusNotModified || len(r.body) != 0 || r.header.Get("ETag") != `"v1"` {
			t.Errorf("If-None-Match %s: %s %v", inm, r, r.header)
		}
	}
	for _, inm := range []string{`"v2"`, `v1`, `"v10"`} {
		if r := e.do(req{method: "GET", path: path, header: map[string]string{"If-None-Match": inm}}); r.status != http.StatusOK {
			t.Errorf("If-None-Match %s: %s", inm, r)
		}
	}
	update := func(ifMatch string, body string) response {
		return e.do(req{method: "PUT", path: path, token: e.admin, body: body, header: map[string]string{"If-Match": ifMatch}})
	}
	if r := update(`"v1"`, `{"price":16}`); r.status != http.StatusOK || r.header.Get("ETag") != `"v2"` {
		t.Fatalf("If-Match current: %s", r)
	}
	for _, stale := range []string{`"v1"`, `W/"v2"`, `"nonsense"`, `"v1", "v3"`} {
		r := update(stale, `{"price":99}`)
		if r.status != http.StatusPreconditionFailed || decodeInto[apiProblem](t, r).Code != "precondition_failed" {
			t.Errorf("If-Match %s: %s", stale, r)
		}
	}
	if got, _ := e.get(p.ID); got.Price.String() != "16.00" {
		t.Errorf("a 412 changed the price to %s", got.Price)
	}
	if r := update(`"v1", "v2"`, `{"price":17}`); r.status != http.StatusOK {
		t.Errorf("If-Match list with the current tag: %s", r)
	}
	if r := update(`*`, `{"price":18}`); r.status != http.StatusOK {
		t.Errorf("If-Match *: %s", r)
	}
	// The old tag no longer matches a read either.
	if r := e.do(req{method: "GET", path: path, header: map[string]string{"If-None-Match": `"v1"`}}); r.status != http.StatusOK {
		t.Errorf("stale If-None-Match: %s", r)
	}
	del := func(ifMatch string) response {
		return e.do(req{method: "DELETE", path: path, token: e.admin, header: map[string]string{"If-Match": ifMatch}})
	}
	if r := del(`"v2"`); r.status != http.StatusPreconditionFailed {
		t.Errorf("DELETE with stale If-Match: %s", r)
	}
	if r := del(`"v4"`); r.status != http.StatusNoContent {
		t.Errorf("DELETE with current If-Match: %s", r)
	}
	if r := del(`"v4"`); r.status != http.StatusNotFound {
		t.Errorf("DELETE again: %s", r)
	}
	if r := update(`*`, `{"price":1}`); r.status != http.StatusNotFound {
		t.Errorf("If-Match * on a deleted product: %s", r)
	}
}

func TestListValidation(t *testing.T) {
	e := newEnv(t, envOptions{})
	for range 3 {
		e.create("Pen", "1.50", 1)
	}
	page := e.list("limit=1&sort=price")
	tests := []struct {
		query string
		field string
	}{
		{"limit=0", "limit"},
		{"limit=101", "limit"},
		{"limit=abc", "limit"},
		{"limit=1.5", "limit"},
		{"sort=cost", "sort"},
		{"sort=-price&cursor=" + page.NextCursor, "cursor"},
		{"cursor=garbage!", "cursor"},
		{"cursor=e30", "cursor"},                                       // base64url of {}
		{"sort=price&cursor=eyJzIjoicHJpY2UiLCJpIjoienoifQ", "cursor"}, // {"s":"price","i":"zz"}
		{"minPrice=-1", "minPrice"},
		{"minPrice=1.001", "minPrice"},
		{"maxPrice=abc", "maxPrice"},
		{"minPrice=5&maxPrice=4.99", "minPrice"},
		{"inStock=yes", "inStock"},
		{"q=" + strings.Repeat("a", 201), "q"},
		{"q=lamp%00", "q"},      // NUL
		{"q=lamp%0Ashade", "q"}, // a line feed: q is one line
		{"q=lamp%C2%85", "q"},   // U+0085, a C1 control
		{"q=lamp%7F", "q"},      // DEL
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			r := e.do(req{method: "GET", path: "/api/products?" + tt.query})
			if r.status != http.StatusUnprocessableEntity {
				t.Fatalf("%s", r)
			}
			if got := fields(decodeInto[apiProblem](t, r)); !cmp.Equal(got, []string{tt.field}) {
				t.Errorf("fields %v, want [%s]", got, tt.field)
			}
		})
	}
	for _, ok := range []string{"limit=1", "limit=100", "minPrice=0&maxPrice=0", "minPrice=1.5&maxPrice=1.50", "inStock=false", "sort=-name", "q=%20"} {
		if r := e.do(req{method: "GET", path: "/api/products?" + ok}); r.status != http.StatusOK {
			t.Errorf("?%s: %s", ok, r)
		}
	}
}

func TestListFiltersAndSorts(t *testing.T) {
	e := newEnv(t, envOptions{})
	apple := e.create("apple Juice", "3.49", 10)
	banana := e.create("Banana Bread", "3.50", 0)
	cherry := e.create("cherry (50% off) Pie", "12.00", 2)
	names := func(p apiPage) []string {
		var out []string
		for _, i := range p.Items {
			out = append(out, i.Name)
		}
		return out
	}
	tests := []struct {
		query string
		want  []apiProduct
	}{
		{"", []apiProduct{cherry, banana, apple}},
		{"sort=createdAt", []apiProduct{apple, banana, cherry}},
		{"sort=price", []apiProduct{apple, banana, cherry}},
		{"sort=-price", []apiProduct{cherry, banana, apple}},
		{"sort=name", []apiProduct{apple, banana, cherry}},
		{"sort=-name", []apiProduct{cherry, banana, apple}},
		{"q=BREAD", []apiProduct{banana}},
		{"q=a%20fine%20apple", []apiProduct{apple}},
		{"q=50%25%20off", []apiProduct{cherry}},
		{"q=.*", nil},
		{"minPrice=3.50", []apiProduct{cherry, banana}},
		{"maxPrice=3.50", []apiProduct{banana, apple}},
		{"minPrice=3.49&maxPrice=3.49", []apiProduct{apple}},
		{"inStock=true&sort=price", []apiProduct{apple, cherry}},
	}
	for _, tt := range tests {
		t.Run("?"+tt.query, func(t *testing.T) {
			page := e.list(tt.query)
			want := apiPage{Items: tt.want}
			if diff := cmp.Diff(names(want), names(page)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if page.NextCursor != "" {
				t.Errorf("nextCursor %q on the only page", page.NextCursor)
			}
		})
	}
	page := e.list("limit=2&sort=price")
	if len(page.Items) != 2 || page.NextCursor == "" {
		t.Fatalf("first page: %+v", page)
	}
	rest := e.list("limit=2&sort=price&cursor=" + page.NextCursor)
	if len(rest.Items) != 1 || rest.Items[0].ID != cherry.ID || rest.NextCursor != "" {
		t.Errorf("second page: %+v", rest)
	}
	if r := e.do(req{method: "GET", path: "/api/products?limit=2"}); !strings.Contains(string(r.body), `"price":12.00`) {
		t.Errorf("list does not write prices with two decimals: %s", r.body)
	}
	empty := e.do(req{method: "GET", path: "/api/products?q=nothing-like-this"})
	if !strings.Contains(string(empty.body), `"items":[]`) || !strings.Contains(string(empty.body), `"nextCursor":""`) {
		t.Errorf("empty list: %s", empty.body)
	}
}
