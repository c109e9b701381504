package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/mux"
	"github.com/redis/go-redis/v9"

	"github.com/travluk/ecom/dev/testenv"
	"github.com/travluk/ecom/services/customer/internal/httpapi"
	"github.com/travluk/ecom/services/customer/server"
	"github.com/travluk/ecom/services/platform/auth"
	"github.com/travluk/ecom/services/platform/openapi/openapitest"
)

const (
	accountLimit = 3
	clientLimit  = 6
	adminEmail   = "root@travluk.example"
	adminPass    = "admin-password-1"
)

// TestAPI drives every route of the customer API over HTTP against one
// service on real MongoDB and Redis, the latter behind a TCP proxy so the
// last subtest can cut it. The OpenAPI coverage recorder wraps the router
// throughout, and at the end the document must match what was served.
func TestAPI(t *testing.T) {
	proxy := testenv.NewTCPProxy(t, redisAddr(t, testenv.Redis(t)))
	env := baseEnv(t)
	env["REDIS_URL"] = redisURLVia(t, testenv.Redis(t), proxy.Addr())
	env["ADMIN_EMAIL"], env["ADMIN_PASSWORD"] = adminEmail, adminPass
	env["LOGIN_ACCOUNT_FAILURE_LIMIT"] = strconv.Itoa(accountLimit)
	env["LOGIN_CLIENT_FAILURE_LIMIT"] = strconv.Itoa(clientLimit)
	env["LOGIN_FAILURE_WINDOW"] = "1m"
	env["TRUST_FORWARDED_FOR"] = "true"

	// One coverage for every service this test starts: they serve the
	// same routes, and together they produce every documented status.
	var cov *openapitest.Coverage
	wrap := func(r *mux.Router) http.Handler {
		if cov == nil {
			c, err := openapitest.NewCoverage(httpapi.OpenAPI, r)
			if err != nil {
				t.Fatalf("openapi coverage: %v", err)
			}
			cov = c
		}
		return cov.Wrap(t, r)
	}
	svc := start(t, env, server.Options{WrapHandler: wrap})

	t.Run("register", func(t *testing.T) { testRegister(t, svc) })
	t.Run("bad bodies change nothing", func(t *testing.T) { testBadBodies(t, svc) })
	t.Run("every field error at once", func(t *testing.T) { testFieldErrors(t, svc) })
	t.Run("same mistake, same status", func(t *testing.T) { testSameMistakeSameStatus(t, svc) })
	t.Run("unknown query parameters", func(t *testing.T) { testUnknownQuery(t, svc) })
	t.Run("login", func(t *testing.T) { testLogin(t, svc) })
	t.Run("authenticated reads", func(t *testing.T) { testAuthenticatedReads(t, svc) })
	t.Run("update", func(t *testing.T) { testUpdate(t, svc) })
	t.Run("admin", func(t *testing.T) { testAdmin(t, svc) })
	t.Run("refresh rotation and reuse", func(t *testing.T) { testRefresh(t, svc) })
	t.Run("logout", func(t *testing.T) { testLogout(t, svc) })
	t.Run("throttling", func(t *testing.T) { testThrottling(t, svc) })
	t.Run("jwks verifies tokens", func(t *testing.T) { testJWKS(t, svc) })
	t.Run("openapi document", func(t *testing.T) {
		r := expect(t, svc.do(req{method: "GET", path: "/api/customers/openapi.json"}), 200, "openapi.json")
		if v := r.json(t)["openapi"]; v != "3.1.0" {
			t.Errorf("openapi = %v, want 3.1.0", v)
		}
	})
	t.Run("redis away and back", func(t *testing.T) { testRedisFault(t, svc, proxy) })
	t.Run("mongodb away", func(t *testing.T) { testMongoFault(t, env, wrap) })

	if t.Failed() {
		return // coverage of a half-run suite says nothing
	}
	cov.Check(t)
}

func testRegister(t *testing.T, svc *service) {
	email := "Ada.Lovelace-" + uniq() + "@Example.com"
	r := expect(t, svc.do(req{method: "POST", path: "/api/customers/register", body: map[string]string{
		"name": " Ada ", "email": "  " + email + " ", "password": "analytical-engine", "address": "12 St James's Square"}}), 201, "register")
	p := r.json(t)
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"address", "createdAt", "email", "id", "name", "role", "updatedAt"}; !slices.Equal(keys, want) {
		t.Errorf("profile keys = %v, want exactly %v (never a password or hash)", keys, want)
	}
	if p["name"] != "Ada" || p["email"] != strings.ToLower(email) || p["role"] != "customer" || p["address"] != "12 St James's Square" {
		t.Errorf("profile = %v", p)
	}
	if loc := r.header.Get("Location"); loc != "/api/customers/"+p["id"].(string) {
		t.Errorf("Location = %q", loc)
	}
	for _, field := range []string{"createdAt", "updatedAt"} {
		ts, err := time.Parse(time.RFC3339, p[field].(string))
		if err != nil || !strings.HasSuffix(p[field].(string), "Z") || time.Since(ts) > time.Minute {
			t.Errorf("%s = %v: want a recent RFC 3339 UTC time", field, p[field])
		}
	}

	dup := svc.do(req{method: "POST", path: "/api/customers/register", body: map[string]string{
		"name": "Eve", "email": strings.ToUpper(email), "password": "something-else"}})
	expect(t, dup, 409, "register the same email in other case")
	if c := dup.json(t)["code"]; c != "email_taken" {
		t.Errorf("code = %v, want email_taken", c)
	}

	invalid := expect(t, svc.do(req{method: "POST", path: "/api/customers/register", body: map[string]string{
		"name": "", "email": "not-an-email", "password": "short"}}), 422, "invalid fields")
	var prob struct {
		Code   string `json:"code"`
		Errors []struct{ Field, Message string }
	}
	json.Unmarshal(invalid.body, &prob)
	var fields []string
	for _, e := range prob.Errors {
		fields = append(fields, e.Field)
	}
	if prob.Code != "validation_failed" || !slices.Equal(fields, []string{"name", "email", "password"}) {
		t.Errorf("problem = %s; want validation_failed naming name, email, password", invalid.body)
	}
}

// testBadBodies sends every kind of broken body to every route that reads
// one, and then checks nothing changed: the mass-assignment attempts
// (role, passwordHash) above all.
func testBadBodies(t *testing.T, svc *service) {
	victim := svc.register(t, "Victim")
	tok := svc.login(t, victim.email, victim.password)
	before := expect(t, svc.do(req{method: "GET", path: "/api/customers/me", token: tok.access}), 200, "me").body

	huge := `{"name":"` + strings.Repeat("a", 1<<20) + `"}`
	type route struct{ method, path, token string }
	routes := []route{
		{"POST", "/api/customers/register", ""},
		{"POST", "/api/customers/login", ""},
		{"POST", "/api/customers/refresh", ""},
		{"PUT", "/api/customers/" + victim.id, tok.access},
	}
	bodies := []struct {
		name        string
		body        string
		contentType string
		status      int
	}{
		{"empty", "", "", 400},
		{"malformed", `{"name": `, "", 400},
		{"not an object", `["a"]`, "", 400},
		{"trailing data", `{} {}`, "", 400},
		{"text/plain", `{}`, "text/plain", 415},
		{"over 1 MiB", huge, "", 413},
		{"wrong type", `{"name": 42, "email": 42, "password": 42, "refreshToken": 42}`, "", 422},
		{"unknown field role", `{"name":"X","email":"x@example.com","password":"12345678","role":"admin"}`, "", 422},
		{"unknown field passwordHash", `{"passwordHash":"$argon2id$..."}`, "", 422},
	}
	for _, rt := range routes {
		for _, b := range bodies {
			t.Run(rt.path+" "+b.name, func(t *testing.T) {
				r := svc.do(req{method: rt.method, path: rt.path, token: rt.token, body: b.body, contentType: b.contentType})
				if b.body == "" {
					// An explicitly empty body still carries the JSON content type.
					r = svc.do(req{method: rt.method, path: rt.path, token: rt.token, body: []byte{}, contentType: "application/json"})
				}
				want := b.status
				if rt.method == "PUT" && b.name == "unknown field role" {
					want = 403 // role is known there, and a customer may not send it
				}
				expect(t, r, want, b.name)
			})
		}
	}
	// The register attempt with "role" created nothing: the email is free.
	expect(t, svc.do(req{method: "POST", path: "/api/customers/register", body: map[string]string{
		"name": "X", "email": "x-" + uniq() + "@example.com", "password": "12345678"}}), 201, "register after refused attempts")
	after := expect(t, svc.do(req{method: "GET", path: "/api/customers/me", token: tok.access}), 200, "me").body
	if string(before) != string(after) {
		t.Errorf("refused updates changed the profile:\nbefore %s\nafter  %s", before, after)
	}
	svc.login(t, victim.email, victim.password) // password unchanged
}

func testLogin(t *testing.T, svc *service) {
	a := svc.register(t, "Lin")
	r := expect(t, svc.do(req{method: "POST", path: "/api/customers/login",
		body: map[string]string{"email": "  " + strings.ToUpper(a.email), "password": a.password}}), 200, "login")
	m := r.json(t)
	if m["tokenType"] != "Bearer" || m["expiresIn"] != float64(900) || m["accessToken"] == "" || m["refreshToken"] == "" {
		t.Errorf("token response = %v", m)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", r.header.Get("Cache-Control"))
	}

	ip := clientIP()
	wrong := expect(t, svc.do(req{method: "POST", path: "/api/customers/login", header: map[string]string{"X-Forwarded-For": ip},
		body: map[string]string{"email": a.email, "password": "not-the-password"}}), 401, "wrong password")
	unknown := expect(t, svc.do(req{method: "POST", path: "/api/customers/login", header: map[string]string{"X-Forwarded-For": ip},
		body: map[string]string{"email": "nobody-" + uniq() + "@example.com", "password": "whatever"}}), 401, "unknown email")
	if string(wrong.body) != string(unknown.body) {
		t.Errorf("unknown email and wrong password differ:\n%s\n%s", wrong.body, unknown.body)
	}
	expect(t, svc.do(req{method: "POST", path: "/api/customers/login", body: map[string]string{"email": a.email}}), 422, "missing password")
}

func testAuthenticatedReads(t *testing.T, svc *service) {
	a := svc.register(t, "Grace")
	other := svc.register(t, "Other")
	tok := svc.login(t, a.email, a.password)

	home := expect(t, svc.do(req{method: "GET", path: "/api/customers/home", token: tok.access}), 200, "home").json(t)
	if home["message"] != "Welcome to Home, Grace" {
		t.Errorf("home = %v", home)
	}
	me := expect(t, svc.do(req{method: "GET", path: "/api/customers/me", header: map[string]string{"x-auth-token": tok.access}}), 200, "me via x-auth-token").json(t)
	if me["id"] != a.id || me["email"] != a.email {
		t.Errorf("me = %v", me)
	}
	self := expect(t, svc.do(req{method: "GET", path: "/api/customers/" + a.id, token: tok.access}), 200, "get self").json(t)
	if self["id"] != a.id {
		t.Errorf("get self = %v", self)
	}
	expect(t, svc.do(req{method: "GET", path: "/api/customers/" + other.id, token: tok.access}), 404, "another customer's profile")
	expect(t, svc.do(req{method: "GET", path: "/api/customers/not-a-valid-id", token: tok.access}), 404, "malformed id")

	forged := tok.access[:len(tok.access)-4] + "AAAA"
	for _, path := range []string{"/api/customers/home", "/api/customers/me", "/api/customers/" + a.id} {
		expect(t, svc.do(req{method: "GET", path: path}), 401, path+" without a token")
		expect(t, svc.do(req{method: "GET", path: path, token: forged}), 401, path+" with a forged token")
	}
	expect(t, svc.do(req{method: "PUT", path: "/api/customers/" + a.id, body: `{"name":"x"}`}), 401, "update without a token")
	expect(t, svc.do(req{method: "POST", path: "/api/customers/logout"}), 401, "logout without a token")
}

func testUpdate(t *testing.T, svc *service) {
	a := svc.register(t, "Hedy")
	b := svc.register(t, "Bob")
	tok := svc.login(t, a.email, a.password)
	other := svc.login(t, a.email, a.password) // a second session of a's
	put := func(id string, body any) response {
		return svc.do(req{method: "PUT", path: "/api/customers/" + id, token: tok.access, body: body})
	}

	p := expect(t, put(a.id, map[string]string{"name": "Hedy Lamarr", "address": "Vienna"}), 200, "update name and address").json(t)
	if p["name"] != "Hedy Lamarr" || p["address"] != "Vienna" || p["email"] != a.email || p["updatedAt"] == p["createdAt"] {
		t.Errorf("updated profile = %v", p)
	}
	got := expect(t, svc.do(req{method: "GET", path: "/api/customers/me", token: tok.access}), 200, "me").json(t)
	if got["name"] != "Hedy Lamarr" {
		t.Errorf("me after update = %v", got)
	}

	expect(t, put(a.id, map[string]string{"role": "admin"}), 403, "customer sends role")
	expect(t, put(a.id, map[string]string{"role": "customer"}), 403, "customer sends own role")
	expect(t, put(b.id, map[string]string{"name": "pwned"}), 404, "update another customer")
	expect(t, put(a.id, map[string]string{"email": strings.ToUpper(b.email)}), 409, "email taken")
	expect(t, put(a.id, map[string]string{"password": "new-password-1"}), 422, "password without currentPassword")
	expect(t, put(a.id, map[string]string{"password": "new-password-1", "currentPassword": "wrong-one"}), 422, "wrong currentPassword")
	if r := svc.do(req{method: "GET", path: "/api/customers/me", token: tok.access}).json(t); r["role"] != "customer" || r["email"] != a.email {
		t.Errorf("refused updates changed the profile: %v", r)
	}

	newEmail := "hedy-" + uniq() + "@example.com"
	expect(t, put(a.id, map[string]string{"email": " " + strings.ToUpper(newEmail)}), 200, "email change")
	expect(t, put(a.id, map[string]string{"password": "new-password-1", "currentPassword": a.password}), 200, "password change")
	expect(t, svc.do(req{method: "POST", path: "/api/customers/login", body: map[string]string{"email": newEmail, "password": a.password}}), 401, "old password")
	svc.login(t, newEmail, "new-password-1")
	// The session that changed the password goes on; the other one ended.
	expect(t, svc.do(req{method: "GET", path: "/api/customers/me", token: tok.access}), 200, "this session after password change")
	expect(t, svc.do(req{method: "GET", path: "/api/customers/me", token: other.access}), 401, "other session after password change")
}

func testAdmin(t *testing.T, svc *service) {
	admin := svc.login(t, adminEmail, adminPass)
	c := svc.register(t, "Carol")
	p := expect(t, svc.do(req{method: "GET", path: "/api/customers/" + c.id, token: admin.access}), 200, "admin reads a customer").json(t)
	if p["email"] != c.email {
		t.Errorf("profile = %v", p)
	}
	expect(t, svc.do(req{method: "GET", path: "/api/customers/0123456789abcdef01234567", token: admin.access}), 404, "admin reads unknown id")
	expect(t, svc.do(req{method: "PUT", path: "/api/customers/0123456789abcdef01234567", token: admin.access, body: `{"name":"x"}`}), 404, "admin updates unknown id")
	expect(t, svc.do(req{method: "PUT", path: "/api/customers/" + c.id, token: admin.access, body: `{"role":"root"}`}), 422, "unknown role")

	carol := svc.login(t, c.email, c.password)
	p = expect(t, svc.do(req{method: "PUT", path: "/api/customers/" + c.id, token: admin.access,
		body: map[string]string{"role": "admin", "name": "Carol Admin"}}), 200, "admin promotes").json(t)
	if p["role"] != "admin" || p["name"] != "Carol Admin" {
		t.Errorf("profile = %v", p)
	}
	// Tokens carry the role, so the old ones end with the change.
	expect(t, svc.do(req{method: "GET", path: "/api/customers/me", token: carol.access}), 401, "token with the old role")
	carol = svc.login(t, c.email, c.password)
	if role := claimsOf(t, carol.access)["role"]; role != "admin" {
		t.Errorf("new token role = %v", role)
	}
}

func testRefresh(t *testing.T, svc *service) {
	a := svc.register(t, "Rita")
	first := svc.login(t, a.email, a.password)
	refresh := func(tok string) response {
		return svc.do(req{method: "POST", path: "/api/customers/refresh", body: map[string]string{"refreshToken": tok}})
	}
	m := expect(t, refresh(first.refresh), 200, "refresh").json(t)
	second := tokens{access: m["accessToken"].(string), refresh: m["refreshToken"].(string)}
	if second.refresh == first.refresh || second.access == first.access {
		t.Fatal("refresh returned the same tokens")
	}
	if claimsOf(t, second.access)["sid"] != claimsOf(t, first.access)["sid"] {
		t.Error("refresh started another session")
	}
	expect(t, svc.do(req{method: "GET", path: "/api/customers/me", token: second.access}), 200, "new access token")

	// Reuse of the spent token: the whole session ends.
	expect(t, refresh(first.refresh), 401, "reuse of a spent refresh token")
	expect(t, refresh(second.refresh), 401, "current refresh token after reuse")
	eventually(t, 2*time.Second, "access token refused after reuse", func() bool {
		return svc.do(req{method: "GET", path: "/api/customers/me", token: second.access}).status == 401
	})
	expect(t, refresh("garbage"), 401, "garbage refresh token")
	expect(t, svc.do(req{method: "POST", path: "/api/customers/refresh", body: `{}`}), 422, "missing refresh token (a missing field, as for login)")
}

func testLogout(t *testing.T, svc *service) {
	a := svc.register(t, "Lou")
	tok := svc.login(t, a.email, a.password)
	keep := svc.login(t, a.email, a.password)
	expect(t, svc.do(req{method: "POST", path: "/api/customers/logout", token: tok.access}), 204, "logout")
	eventually(t, 2*time.Second, "access token refused after logout", func() bool {
		return svc.do(req{method: "GET", path: "/api/customers/me", token: tok.access}).status == 401
	})
	expect(t, svc.do(req{method: "POST", path: "/api/customers/refresh", body: map[string]string{"refreshToken": tok.refresh}}), 401, "refresh after logout")
	expect(t, svc.do(req{method: "POST", path: "/api/customers/logout", token: tok.access}), 401, "logout twice")
	expect(t, svc.do(req{method: "GET", path: "/api/customers/me", token: keep.access}), 200, "another session of the same customer")
}

func testThrottling(t *testing.T, svc *service) {
	login := func(email, password, ip string) response {
		return svc.do(req{method: "POST", path: "/api/customers/login", header: map[string]string{"X-Forwarded-For": "203.0.113.9, " + ip},
			body: map[string]string{"email": email, "password": password}})
	}
	checkRetryAfter := func(t *testing.T, r response) {
		t.Helper()
		secs, err := strconv.Atoi(r.header.Get("Retry-After"))
		if err != nil || secs < 1 || secs > 60 {
			t.Errorf("Retry-After = %q, want 1..60 seconds (the rest of the window)", r.header.Get("Retry-After"))
		}
	}

	t.Run("successful logins are not counted", func(t *testing.T) {
		a := svc.register(t, "Sam")
		ip := clientIP()
		for i := range accountLimit + clientLimit + 1 {
			expect(t, login(a.email, a.password, ip), 200, fmt.Sprintf("login %d", i+1))
		}
	})
	t.Run("per account", func(t *testing.T) {
		a := svc.register(t, "Tess")
		for i := range accountLimit {
			expect(t, login(a.email, "wrong-password", clientIP()), 401, fmt.Sprintf("failure %d", i+1))
		}
		r := expect(t, login(a.email, a.password, clientIP()), 429, "right password while the account is locked")
		checkRetryAfter(t, r)
		b := svc.register(t, "Uma")
		svc.login(t, b.email, b.password) // other accounts are unaffected
	})
	t.Run("per client", func(t *testing.T) {
		ip := clientIP()
		for i := range clientLimit {
			expect(t, login("nobody-"+uniq()+"@example.com", "whatever", ip), 401, fmt.Sprintf("failure %d", i+1))
		}
		a := svc.register(t, "Vic")
		r := expect(t, login(a.email, a.password, ip), 429, "a valid login from the locked client")
		checkRetryAfter(t, r)
		expect(t, login(a.email, a.password, clientIP()), 200, "the same login from another client")
	})
	t.Run("current password guesses", func(t *testing.T) {
		a := svc.register(t, "Wes")
		tok := svc.login(t, a.email, a.password)
		put := func(current string) response {
			return svc.do(req{method: "PUT", path: "/api/customers/" + a.id, token: tok.access,
				body: map[string]string{"password": "new-password-2", "currentPassword": current}})
		}
		for range accountLimit {
			expect(t, put("wrong-guess"), 422, "wrong current password")
		}
		checkRetryAfter(t, expect(t, put(a.password), 429, "right current password while locked"))
	})
}

func testJWKS(t *testing.T, svc *service) {
	r := expect(t, svc.do(req{method: "GET", path: "/.well-known/jwks.json"}), 200, "jwks")
	keys, err := auth.ParseJWKS(r.body)
	if err != nil {
		t.Fatal(err)
	}
	// Another service verifies our tokens with nothing but the JWKS and
	// Redis.
	rdb := redis.NewClient(mustParseRedisURL(t, testenv.Redis(t)))
	defer rdb.Close()
	v := auth.NewVerifier(auth.VerifierOptions{Issuer: "travluk", Audience: "travluk", Keys: keys, Sessions: auth.NewRedisSessions(rdb, time.Second)})
	a := svc.register(t, "Jo")
	tok := svc.login(t, a.email, a.password)
	claims, err := v.Verify(context.Background(), tok.access)
	if err != nil {
		t.Fatalf("verify with JWKS: %v", err)
	}
	if claims.Subject != a.id || claims.Role != "customer" || claims.ID == "" || claims.SessionID == "" {
		t.Errorf("claims = %+v", claims)
	}
	if claims.ExpiresAt.Sub(claims.IssuedAt.Time) != 15*time.Minute {
		t.Errorf("access token lifetime = %v, want 15m", claims.ExpiresAt.Sub(claims.IssuedAt.Time))
	}
	hdr := claimsHeader(t, tok.access)
	if hdr["alg"] != "EdDSA" || hdr["kid"] == "" {
		t.Errorf("token header = %v", hdr)
	}
	// And a logged-out token is refused there within 2 s too.
	expect(t, svc.do(req{method: "POST", path: "/api/customers/logout", token: tok.access}), 204, "logout")
	eventually(t, 2*time.Second, "other service refuses the logged-out token", func() bool {
		_, err := v.Verify(context.Background(), tok.access)
		return err != nil
	})
}

// testRedisFault cuts Redis off and checks every endpoint answers promptly
// with its result or a 503 + Retry-After (never accepting a logged-out
// token), then that everything works again once Redis is back.
func testRedisFault(t *testing.T, svc *service, proxy *testenv.TCPProxy) {
	a := svc.register(t, "Faye")
	live := svc.login(t, a.email, a.password)
	loggedOut := svc.login(t, a.email, a.password)
	expect(t, svc.do(req{method: "POST", path: "/api/customers/logout", token: loggedOut.access}), 204, "logout")
	expect(t, svc.do(req{method: "GET", path: "/readyz"}), 200, "readyz before the cut")

	proxy.Cut()
	eventually(t, 3*time.Second, "/readyz fails", func() bool {
		return svc.do(req{method: "GET", path: "/readyz"}).status == 503
	})
	const prompt = 2500 * time.Millisecond
	for _, tok := range []struct{ name, token string }{{"live token", live.access}, {"logged-out token", loggedOut.access}} {
		for _, rq := range []req{
			{method: "GET", path: "/api/customers/home"},
			{method: "GET", path: "/api/customers/me"},
			{method: "GET", path: "/api/customers/" + a.id},
			{method: "PUT", path: "/api/customers/" + a.id, body: `{"name":"Changed"}`},
			{method: "POST", path: "/api/customers/logout"},
		} {
			rq.token = tok.token
			r := svc.do(rq)
			what := fmt.Sprintf("%s %s with a %s while Redis is away", rq.method, rq.path, tok.name)
			expect(t, r, 503, what)
			if r.header.Get("Retry-After") == "" || r.took > prompt {
				t.Errorf("%s: Retry-After %q, took %v", what, r.header.Get("Retry-After"), r.took)
			}
		}
	}
	for _, rq := range []req{
		{method: "POST", path: "/api/customers/login", body: map[string]string{"email": a.email, "password": a.password}},
		{method: "POST", path: "/api/customers/refresh", body: map[string]string{"refreshToken": live.refresh}},
	} {
		r := expect(t, svc.do(rq), 503, rq.path+" while Redis is away")
		if r.header.Get("Retry-After") == "" || r.took > prompt {
			t.Errorf("%s: Retry-After %q, took %v", rq.path, r.header.Get("Retry-After"), r.took)
		}
	}
	// What needs only MongoDB goes on.
	b := svc.register(t, "Gus")
	expect(t, svc.do(req{method: "GET", path: "/.well-known/jwks.json"}), 200, "jwks while Redis is away")

	proxy.Restore()
	eventually(t, 5*time.Second, "/readyz recovers", func() bool {
		return svc.do(req{method: "GET", path: "/readyz"}).status == 200
	})
	expect(t, svc.do(req{method: "GET", path: "/api/customers/me", token: live.access}), 200, "live token after recovery")
	expect(t, svc.do(req{method: "GET", path: "/api/customers/me", token: loggedOut.access}), 401, "logged-out token after recovery")
	if p := svc.do(req{method: "GET", path: "/api/customers/me", token: live.access}).json(t); p["name"] != "Faye" {
		t.Errorf("an update refused during the outage was applied: %v", p)
	}
	expect(t, svc.do(req{method: "POST", path: "/api/customers/refresh", body: map[string]string{"refreshToken": live.refresh}}), 200, "refresh after recovery")
	svc.login(t, b.email, b.password)
}

// testMongoFault starts a second service on env whose MongoDB is behind a
// proxy, and cuts it: a registration, which needs nothing else, is then
// refused with 503 and Retry-After rather than hanging or failing with 500.
func testMongoFault(t *testing.T, env map[string]string, wrap func(*mux.Router) http.Handler) {
	u, err := url.Parse(env["MONGODB_URI"])
	if err != nil || u.Host == "" || strings.Contains(u.Host, ",") {
		t.Fatalf("cannot put one proxy before MongoDB at %q: %v", env["MONGODB_URI"], err)
	}
	proxy := testenv.NewTCPProxy(t, u.Host)
	u.Host = proxy.Addr()
	viaProxy := maps.Clone(env)
	viaProxy["MONGODB_URI"] = u.String()
	viaProxy["DATA_DIR"] = t.TempDir()
	svc := start(t, viaProxy, server.Options{WrapHandler: wrap})
	// It listens before it has pinged MongoDB and ensured the admin.
	eventually(t, 5*time.Second, "/readyz before the cut", func() bool {
		return svc.do(req{method: "GET", path: "/readyz"}).status == 200
	})

	proxy.Cut()
	r := expect(t, svc.do(req{method: "POST", path: "/api/customers/register", body: map[string]string{
		"name": "Ivy", "email": "ivy-" + uniq() + "@example.com", "password": "correct-horse"}}), 503, "register while MongoDB is away")
	if r.header.Get("Retry-After") == "" {
		t.Errorf("register while MongoDB is away: no Retry-After")
	}
}

// TestRestartKeepsCustomersAndAdmin runs the service twice on one database
// and data dir: customers, the single bootstrapped admin, the signing key
// and sessions all survive.
func TestRestartKeepsCustomersAndAdmin(t *testing.T) {
	env := baseEnv(t)
	env["ADMIN_EMAIL"], env["ADMIN_PASSWORD"] = " Root@Travluk.Example ", adminPass

	first := start(t, env, validated(t))
	c := first.register(t, "Kim")
	admin := first.login(t, adminEmail, adminPass)
	adminID := claimsOf(t, admin.access)["sub"]
	// The admin changes its password; a restart must not undo that.
	expect(t, first.do(req{method: "PUT", path: "/api/customers/" + adminID.(string), token: admin.access,
		body: map[string]string{"password": "changed-admin-pw", "currentPassword": adminPass}}), 200, "admin changes password")
	kim := first.login(t, c.email, c.password)
	jwks1 := first.do(req{method: "GET", path: "/.well-known/jwks.json"}).body
	if err := first.stop(); err != nil {
		t.Fatalf("first Run: %v", err)
	}

	second := start(t, env, validated(t))
	if jwks2 := second.do(req{method: "GET", path: "/.well-known/jwks.json"}).body; string(jwks1) != string(jwks2) {
		t.Errorf("signing key changed across restart:\n%s\n%s", jwks1, jwks2)
	}
	p := expect(t, second.do(req{method: "GET", path: "/api/customers/me", token: kim.access}), 200, "token from before the restart").json(t)
	if p["id"] != c.id {
		t.Errorf("me = %v", p)
	}
	expect(t, second.do(req{method: "POST", path: "/api/customers/login", body: map[string]string{"email": adminEmail, "password": adminPass}}), 401, "admin's old password")
	again := second.login(t, adminEmail, "changed-admin-pw")
	if id := claimsOf(t, again.access)["sub"]; id != adminID {
		t.Errorf("admin id after restart = %v, want %v (one admin, not a new one)", id, adminID)
	}
	if role := claimsOf(t, again.access)["role"]; role != "admin" {
		t.Errorf("admin role = %v", role)
	}
}

// TestBootstrapPromotesExistingAccount: an account registered with the
// admin email before the bootstrap is promoted and its password replaced,
// so whoever registered it does not become admin.
func TestBootstrapPromotesExistingAccount(t *testing.T) {
	env := baseEnv(t)
	first := start(t, env, validated(t))
	email := "ops-" + uniq() + "@example.com"
	expect(t, first.do(req{method: "POST", path: "/api/customers/register", body: map[string]string{
		"name": "Mallory", "email": email, "password": "mallory-password"}}), 201, "register the future admin email")
	squatter := first.login(t, email, "mallory-password")
	first.stop()

	env["ADMIN_EMAIL"], env["ADMIN_PASSWORD"] = email, adminPass
	second := start(t, env, validated(t))
	expect(t, second.do(req{method: "GET", path: "/api/customers/me", token: squatter.access}), 401, "squatter's session")
	expect(t, second.do(req{method: "POST", path: "/api/customers/login", body: map[string]string{"email": email, "password": "mallory-password"}}), 401, "squatter's password")
	if role := claimsOf(t, second.login(t, email, adminPass).access)["role"]; role != "admin" {
		t.Errorf("role = %v, want admin", role)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		wants []string
	}{
		{"nothing set", map[string]string{}, []string{"MONGODB_URI", "REDIS_URL"}},
		{"bad values", map[string]string{"MONGODB_URI": "mongodb://x", "REDIS_URL": "redis://x", "DATA_DIR": t.TempDir(),
			"ACCESS_TOKEN_TTL": "1h", "LOGIN_ACCOUNT_FAILURE_LIMIT": "ten", "LOGIN_FAILURE_WINDOW": "0s", "TRUST_FORWARDED_FOR": "maybe", "LOG_LEVEL": "loud"},
			[]string{"ACCESS_TOKEN_TTL", "LOGIN_ACCOUNT_FAILURE_LIMIT", "LOGIN_FAILURE_WINDOW", "TRUST_FORWARDED_FOR", "LOG_LEVEL"}},
		{"admin half set", map[string]string{"MONGODB_URI": "mongodb://x", "REDIS_URL": "redis://x", "DATA_DIR": t.TempDir(), "ADMIN_EMAIL": "a@b.co"},
			[]string{"ADMIN_PASSWORD"}},
		{"no signing key", map[string]string{"MONGODB_URI": "mongodb://x", "REDIS_URL": "redis://x"}, []string{"JWT_SIGNING_KEY_FILE", "DATA_DIR"}},
		{"bad signing key", map[string]string{"MONGODB_URI": "mongodb://x", "REDIS_URL": "redis://x", "JWT_SIGNING_KEY": "-----BEGIN NOTHING-----"}, []string{"JWT_SIGNING_KEY"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := server.Run(ctx, func(k string) string { return tt.env[k] }, new(testenv.LogBuffer))
			if err == nil {
				t.Fatal("Run succeeded")
			}
			for _, w := range tt.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not name %s:\n%v", w, err)
				}
			}
		})
	}
}

func claimsOf(t testing.TB, token string) map[string]any {
	t.Helper()
	m := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(token, m); err != nil {
		t.Fatalf("parse token: %v", err)
	}
	return m
}

func claimsHeader(t testing.TB, token string) map[string]any {
	t.Helper()
	tok, _, err := jwt.NewParser().ParseUnverified(token, jwt.MapClaims{})
	if err != nil {
		t.Fatalf("parse token: %v", err)
	}
	return tok.Header
}

func mustParseRedisURL(t testing.TB, url string) *redis.Options {
	t.Helper()
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	return opt
}

// redisAddr is the host:port of a Redis URL.
func redisAddr(t testing.TB, url string) string {
	return mustParseRedisURL(t, url).Addr
}

// redisURLVia rewrites a Redis URL to go through addr, keeping credentials
// and database.
func redisURLVia(t testing.TB, url, addr string) string {
	t.Helper()
	host := redisAddr(t, url)
	if !strings.Contains(url, host) {
		t.Fatalf("cannot find %s in the Redis URL", host)
	}
	return strings.Replace(url, host, addr, 1)
}
