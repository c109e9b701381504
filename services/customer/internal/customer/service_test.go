package customer_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/travluk/ecom/services/customer/internal/customer"
)

type fixture struct {
	svc      *customer.Service
	repo     *memRepo
	sessions *memSessions
	throttle *memThrottle
	hasher   *countingHasher
}

var fixedNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{repo: newMemRepo(), sessions: newMemSessions(), throttle: newMemThrottle(3), hasher: &countingHasher{}}
	f.svc = customer.NewService(customer.Deps{
		Repository: f.repo,
		Sessions:   f.sessions,
		Throttle:   f.throttle,
		Hasher:     f.hasher,
		Tokens:     fakeTokens{},
		Clock:      customer.ClockFunc(func() time.Time { return fixedNow }),
		RefreshTTL: time.Hour,
	})
	return f
}

func (f *fixture) register(t *testing.T, name, email, password string) *customer.Customer {
	t.Helper()
	c, err := f.svc.Register(context.Background(), customer.RegisterInput{Name: name, Email: email, Password: password})
	if err != nil {
		t.Fatalf("register %s: %v", email, err)
	}
	return c
}

// actor turns a fake access token ("access:<id>:<role>:<sid>") back into
// the caller it names.
func actorOf(t *testing.T, tok *customer.Tokens) customer.Actor {
	t.Helper()
	p := strings.Split(tok.AccessToken, ":")
	return customer.Actor{CustomerID: p[1], Role: customer.Role(p[2]), SessionID: p[3]}
}

func (f *fixture) login(t *testing.T, email, password string) *customer.Tokens {
	t.Helper()
	tok, err := f.svc.Login(context.Background(), customer.LoginInput{Email: email, Password: password, Client: "10.0.0.1"})
	if err != nil {
		t.Fatalf("login %s: %v", email, err)
	}
	return tok
}

func fieldErrors(err error) []customer.FieldError {
	var v *customer.ValidationError
	if errors.As(err, &v) {
		return v.Errors
	}
	return nil
}

func TestRegisterValidation(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	tests := []struct {
		name string
		in   customer.RegisterInput
		want []customer.FieldError
	}{
		{"valid", customer.RegisterInput{Name: "Ada", Email: "ada@example.com", Password: "12345678"}, nil},
		{"everything missing", customer.RegisterInput{}, []customer.FieldError{
			{Field: "name", Message: "is required"}, {Field: "email", Message: "is required"}, {Field: "password", Message: "is required"}}},
		{"blank name", customer.RegisterInput{Name: "   ", Email: "a@b.co", Password: "12345678"}, []customer.FieldError{{Field: "name", Message: "is required"}}},
		{"name 100 runes", customer.RegisterInput{Name: strings.Repeat("é", 100), Email: "a@b.co", Password: "12345678"}, nil},
		{"name 101", customer.RegisterInput{Name: long(101), Email: "a@b.co", Password: "12345678"}, []customer.FieldError{{Field: "name", Message: "must be at most 100 characters"}}},
		{"email without at", customer.RegisterInput{Name: "A", Email: "ada.example.com", Password: "12345678"}, []customer.FieldError{{Field: "email", Message: "must be a valid email address"}}},
		{"email with display name", customer.RegisterInput{Name: "A", Email: "Ada <ada@example.com>", Password: "12345678"}, []customer.FieldError{{Field: "email", Message: "must be a valid email address"}}},
		{"email without domain dot", customer.RegisterInput{Name: "A", Email: "ada@localhost", Password: "12345678"}, []customer.FieldError{{Field: "email", Message: "must be a valid email address"}}},
		{"password 7", customer.RegisterInput{Name: "A", Email: "a@b.co", Password: "1234567"}, []customer.FieldError{{Field: "password", Message: "must be at least 8 characters"}}},
		{"password 128", customer.RegisterInput{Name: "A", Email: "a@b.co", Password: long(128)}, nil},
		{"password 129", customer.RegisterInput{Name: "A", Email: "a@b.co", Password: long(129)}, []customer.FieldError{{Field: "password", Message: "must be at most 128 characters"}}},
		{"address 500", customer.RegisterInput{Name: "A", Email: "a@b.co", Password: "12345678", Address: long(500)}, nil},
		{"address 501", customer.RegisterInput{Name: "A", Email: "a@b.co", Password: "12345678", Address: long(501)}, []customer.FieldError{{Field: "address", Message: "must be at most 500 characters"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			_, err := f.svc.Register(context.Background(), tt.in)
			if diff := cmp.Diff(tt.want, fieldErrors(err)); diff != "" {
				t.Errorf("field errors (-want +got):\n%s", diff)
			}
			if tt.want != nil && len(f.repo.byID) != 0 {
				t.Error("an invalid registration stored a customer")
			}
		})
	}
}

func TestRegisterNormalisesAndKeepsEmailsUnique(t *testing.T) {
	f := newFixture(t)
	c := f.register(t, "  Ada  ", "  Ada@Example.COM ", "12345678")
	want := &customer.Customer{ID: c.ID, Name: "Ada", Email: "ada@example.com", Role: customer.RoleCustomer,
		PasswordHash: "hashed:12345678", CreatedAt: fixedNow, UpdatedAt: fixedNow}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("registered (-want +got):\n%s", diff)
	}
	_, err := f.svc.Register(context.Background(), customer.RegisterInput{Name: "Eve", Email: "ADA@example.com", Password: "12345678"})
	if !errors.Is(err, customer.ErrEmailTaken) {
		t.Errorf("second registration: err = %v, want ErrEmailTaken", err)
	}
}

// TestLoginFailuresCostTheSame holds the timing promise without timing
// anything: an unknown email and a wrong password each cost exactly one
// password verification, as does a correct login.
func TestLoginFailuresCostTheSame(t *testing.T) {
	f := newFixture(t)
	f.register(t, "Ada", "ada@example.com", "right-password")
	tests := []struct {
		name, email, password string
		wantErr               error
	}{
		{"unknown email", "nobody@example.com", "right-password", customer.ErrInvalidCredentials},
		{"wrong password", "ada@example.com", "wrong-password", customer.ErrInvalidCredentials},
		{"right password", "ADA@example.com ", "right-password", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.hasher.count()
			_, err := f.svc.Login(context.Background(), customer.LoginInput{Email: tt.email, Password: tt.password, Client: "c"})
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			if n := f.hasher.count() - before; n != 1 {
				t.Errorf("password verifications = %d, want 1", n)
			}
		})
	}
}

func TestLoginThrottle(t *testing.T) {
	f := newFixture(t) // limit 3
	f.register(t, "Ada", "ada@example.com", "right-password")
	ctx := context.Background()
	login := func(email, pw, client string) error {
		_, err := f.svc.Login(ctx, customer.LoginInput{Email: email, Password: pw, Client: client})
		return err
	}

	// Successful logins are never counted.
	for range 5 {
		if err := login("ada@example.com", "right-password", "c1"); err != nil {
			t.Fatalf("successful login: %v", err)
		}
	}
	for range 3 {
		if err := login("ada@example.com", "wrong", "c1"); !errors.Is(err, customer.ErrInvalidCredentials) {
			t.Fatalf("err = %v", err)
		}
	}
	before := f.hasher.count()
	var throttled *customer.ThrottledError
	if err := login("ada@example.com", "right-password", "c2"); !errors.As(err, &throttled) || throttled.RetryAfter != testWindow {
		t.Fatalf("locked account with the right password: err = %v, want ThrottledError", err)
	}
	if f.hasher.count() != before {
		t.Error("a locked login still verified the password")
	}

	// The client c1 is locked too (3 failures), for any account.
	f.register(t, "Bob", "bob@example.com", "bob-password")
	if err := login("bob@example.com", "bob-password", "c1"); !errors.As(err, &throttled) {
		t.Errorf("locked client: err = %v, want ThrottledError", err)
	}
	if err := login("bob@example.com", "bob-password", "c3"); err != nil {
		t.Errorf("another account from another client: %v", err)
	}
}

func TestLoginSuccessResetsAccountButNotClient(t *testing.T) {
	f := newFixture(t)
	f.register(t, "Ada", "ada@example.com", "right-password")
	ctx := context.Background()
	for range 2 {
		f.svc.Login(ctx, customer.LoginInput{Email: "ada@example.com", Password: "wrong", Client: "c1"})
	}
	f.login(t, "ada@example.com", "right-password")
	if got := f.throttle.failures["a:ada@example.com"]; got != 0 {
		t.Errorf("account failures after success = %d, want 0", got)
	}
	if got := f.throttle.failures["c:c1"]; got != 2 {
		t.Errorf("client failures after success = %d, want 2 (kept)", got)
	}
}

func TestRefreshRotatesAndReuseEndsTheSession(t *testing.T) {
	f := newFixture(t)
	f.register(t, "Ada", "ada@example.com", "right-password")
	ctx := context.Background()
	first := f.login(t, "ada@example.com", "right-password")
	sid := actorOf(t, first).SessionID

	second, err := f.svc.Refresh(ctx, first.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if second.RefreshToken == first.RefreshToken {
		t.Fatal("refresh returned the same refresh token")
	}
	if actorOf(t, second).SessionID != sid {
		t.Error("refresh started a new session")
	}
	if _, err := f.svc.Refresh(ctx, first.RefreshToken); !errors.Is(err, customer.ErrRefreshTokenReused) || !errors.Is(err, customer.ErrInvalidRefreshToken) {
		t.Fatalf("reuse: err = %v, want ErrRefreshTokenReused and ErrInvalidRefreshToken", err)
	}
	if f.sessions.live(sid) {
		t.Error("session still live after reuse")
	}
	if _, err := f.svc.Refresh(ctx, second.RefreshToken); !errors.Is(err, customer.ErrInvalidRefreshToken) {
		t.Errorf("current token after reuse: err = %v, want ErrInvalidRefreshToken", err)
	}
}

func TestRefreshRejectsGarbage(t *testing.T) {
	f := newFixture(t)
	var invalid *customer.ValidationError
	if _, err := f.svc.Refresh(context.Background(), ""); !errors.As(err, &invalid) || invalid.Errors[0].Field != "refreshToken" {
		t.Errorf(`Refresh("") err = %v, want a *ValidationError naming refreshToken (a missing field, like login's)`, err)
	}
	for _, tok := range []string{"abc", "a.b", strings.Repeat("a", 22) + "." + strings.Repeat("!", 43), strings.Repeat("a", 22) + "." + strings.Repeat("a", 43)} {
		if _, err := f.svc.Refresh(context.Background(), tok); !errors.Is(err, customer.ErrInvalidRefreshToken) {
			t.Errorf("Refresh(%q) err = %v, want ErrInvalidRefreshToken", tok, err)
		}
	}
}

func TestLogoutEndsOnlyThatSession(t *testing.T) {
	f := newFixture(t)
	f.register(t, "Ada", "ada@example.com", "right-password")
	a := actorOf(t, f.login(t, "ada@example.com", "right-password"))
	b := actorOf(t, f.login(t, "ada@example.com", "right-password"))
	if err := f.svc.Logout(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	if f.sessions.live(a.SessionID) || !f.sessions.live(b.SessionID) {
		t.Errorf("after logout: a live %v (want false), b live %v (want true)", f.sessions.live(a.SessionID), f.sessions.live(b.SessionID))
	}
}

func TestGetIsSelfOrAdmin(t *testing.T) {
	f := newFixture(t)
	ada := f.register(t, "Ada", "ada@example.com", "12345678")
	bob := f.register(t, "Bob", "bob@example.com", "12345678")
	tests := []struct {
		name    string
		actor   customer.Actor
		id      string
		wantErr error
	}{
		{"self", customer.Actor{CustomerID: ada.ID, Role: customer.RoleCustomer}, ada.ID, nil},
		{"another customer", customer.Actor{CustomerID: ada.ID, Role: customer.RoleCustomer}, bob.ID, customer.ErrNotFound},
		{"admin reads anyone", customer.Actor{CustomerID: "admin", Role: customer.RoleAdmin}, bob.ID, nil},
		{"admin, unknown id", customer.Actor{CustomerID: "admin", Role: customer.RoleAdmin}, "nope", customer.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := f.svc.Get(context.Background(), tt.actor, tt.id)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err == nil && c.ID != tt.id {
				t.Errorf("got customer %s, want %s", c.ID, tt.id)
			}
		})
	}
}

func TestUpdateRules(t *testing.T) {
	s := func(v string) *string { return &v }
	tests := []struct {
		name     string
		asAdmin  bool
		onOther  bool
		in       customer.UpdateInput
		wantErr  error
		wantFlds []customer.FieldError
	}{
		{name: "customer sets own name", in: customer.UpdateInput{Name: s("Ada L.")}},
		{name: "customer sends role", in: customer.UpdateInput{Role: s("customer")}, wantErr: customer.ErrForbidden},
		{name: "customer updates another", onOther: true, in: customer.UpdateInput{Name: s("x")}, wantErr: customer.ErrNotFound},
		{name: "admin sets another's role", asAdmin: true, onOther: true, in: customer.UpdateInput{Role: s("admin")}},
		{name: "admin sets unknown role", asAdmin: true, onOther: true, in: customer.UpdateInput{Role: s("root")},
			wantFlds: []customer.FieldError{{Field: "role", Message: `must be "customer" or "admin"`}}},
		{name: "password without current", in: customer.UpdateInput{Password: s("new-password")},
			wantFlds: []customer.FieldError{{Field: "currentPassword", Message: "is required to change the password"}}},
		{name: "password with wrong current", in: customer.UpdateInput{Password: s("new-password"), CurrentPassword: s("nope-nope")},
			wantFlds: []customer.FieldError{{Field: "currentPassword", Message: "is incorrect"}}},
		{name: "current without password", in: customer.UpdateInput{CurrentPassword: s("old-password")},
			wantFlds: []customer.FieldError{{Field: "currentPassword", Message: "is only used together with password"}}},
		{name: "admin sets another's password", asAdmin: true, onOther: true, in: customer.UpdateInput{Password: s("new-password")}},
		{name: "invalid fields together", in: customer.UpdateInput{Name: s(""), Email: s("bad"), Address: s(strings.Repeat("a", 501))},
			wantFlds: []customer.FieldError{{Field: "name", Message: "is required"}, {Field: "email", Message: "must be a valid email address"}, {Field: "address", Message: "must be at most 500 characters"}}},
		{name: "email taken", in: customer.UpdateInput{Email: s(" BOB@example.com")}, wantErr: customer.ErrEmailTaken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			ada := f.register(t, "Ada", "ada@example.com", "old-password")
			bob := f.register(t, "Bob", "bob@example.com", "old-password")
			actor := customer.Actor{CustomerID: ada.ID, Role: customer.RoleCustomer, SessionID: "s"}
			if tt.asAdmin {
				actor = customer.Actor{CustomerID: "admin-id", Role: customer.RoleAdmin, SessionID: "s"}
			}
			target := ada
			if tt.onOther {
				target = bob
			}
			before, _ := f.repo.ByID(context.Background(), target.ID)
			_, err := f.svc.Update(context.Background(), actor, target.ID, tt.in)
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.wantFlds, fieldErrors(err)); diff != "" {
				t.Errorf("field errors (-want +got):\n%s", diff)
			}
			if tt.wantErr == nil && tt.wantFlds == nil && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			after, _ := f.repo.ByID(context.Background(), target.ID)
			if err != nil && !cmp.Equal(before, after) {
				t.Errorf("a refused update changed the customer:\n%s", cmp.Diff(before, after))
			}
		})
	}
}

func TestPasswordChangeEndsOtherSessions(t *testing.T) {
	f := newFixture(t)
	f.register(t, "Ada", "ada@example.com", "old-password")
	here := actorOf(t, f.login(t, "ada@example.com", "old-password"))
	elsewhere := actorOf(t, f.login(t, "ada@example.com", "old-password"))
	pw, cur := "new-password", "old-password"
	if _, err := f.svc.Update(context.Background(), here, here.CustomerID, customer.UpdateInput{Password: &pw, CurrentPassword: &cur}); err != nil {
		t.Fatal(err)
	}
	if !f.sessions.live(here.SessionID) || f.sessions.live(elsewhere.SessionID) {
		t.Errorf("after password change: this session live %v (want true), other live %v (want false)",
			f.sessions.live(here.SessionID), f.sessions.live(elsewhere.SessionID))
	}
	if _, err := f.svc.Login(context.Background(), customer.LoginInput{Email: "ada@example.com", Password: "old-password"}); !errors.Is(err, customer.ErrInvalidCredentials) {
		t.Errorf("old password: err = %v", err)
	}
	f.login(t, "ada@example.com", "new-password")
}

func TestWrongCurrentPasswordCountsAsFailure(t *testing.T) {
	f := newFixture(t) // limit 3
	ada := f.register(t, "Ada", "ada@example.com", "old-password")
	actor := customer.Actor{CustomerID: ada.ID, Role: customer.RoleCustomer}
	pw, wrong := "new-password", "wrong-pass"
	for range 3 {
		f.svc.Update(context.Background(), actor, ada.ID, customer.UpdateInput{Password: &pw, CurrentPassword: &wrong})
	}
	right := "old-password"
	var throttled *customer.ThrottledError
	if _, err := f.svc.Update(context.Background(), actor, ada.ID, customer.UpdateInput{Password: &pw, CurrentPassword: &right}); !errors.As(err, &throttled) {
		t.Errorf("err = %v, want ThrottledError", err)
	}
}

func TestRoleChangeEndsSessions(t *testing.T) {
	f := newFixture(t)
	bob := f.register(t, "Bob", "bob@example.com", "bob-password")
	bobs := actorOf(t, f.login(t, "bob@example.com", "bob-password"))
	admin := customer.Actor{CustomerID: "admin", Role: customer.RoleAdmin, SessionID: "x"}
	role := "admin"
	c, err := f.svc.Update(context.Background(), admin, bob.ID, customer.UpdateInput{Role: &role})
	if err != nil || c.Role != customer.RoleAdmin {
		t.Fatalf("Update = %+v, %v", c, err)
	}
	if f.sessions.live(bobs.SessionID) {
		t.Error("a session with the old role survived the role change")
	}
}

func TestUpdateWithNothingChangesNothing(t *testing.T) {
	f := newFixture(t)
	ada := f.register(t, "Ada", "ada@example.com", "old-password")
	got, err := f.svc.Update(context.Background(), customer.Actor{CustomerID: ada.ID, Role: customer.RoleCustomer}, ada.ID, customer.UpdateInput{})
	if err != nil || !cmp.Equal(got, ada) {
		t.Errorf("Update({}) = %+v, %v; want the unchanged customer", got, err)
	}
}

func TestEnsureAdmin(t *testing.T) {
	ctx := context.Background()
	t.Run("creates once", func(t *testing.T) {
		f := newFixture(t)
		first, err := f.svc.EnsureAdmin(ctx, " Admin@Example.com", "admin-password")
		if err != nil || first.Role != customer.RoleAdmin || first.Email != "admin@example.com" {
			t.Fatalf("EnsureAdmin = %+v, %v", first, err)
		}
		second, err := f.svc.EnsureAdmin(ctx, "admin@example.com", "another-password")
		if err != nil || second.ID != first.ID || len(f.repo.byID) != 1 {
			t.Fatalf("second EnsureAdmin = %+v, %v (customers %d)", second, err, len(f.repo.byID))
		}
		// The existing admin keeps the password it has.
		f.login(t, "admin@example.com", "admin-password")
	})
	t.Run("promotes and takes over a customer account", func(t *testing.T) {
		f := newFixture(t)
		squatter := f.register(t, "Mallory", "admin@example.com", "mallory-password")
		sess := actorOf(t, f.login(t, "admin@example.com", "mallory-password"))
		got, err := f.svc.EnsureAdmin(ctx, "admin@example.com", "admin-password")
		if err != nil || got.ID != squatter.ID || got.Role != customer.RoleAdmin {
			t.Fatalf("EnsureAdmin = %+v, %v", got, err)
		}
		if f.sessions.live(sess.SessionID) {
			t.Error("the squatter's session survived the promotion")
		}
		if _, err := f.svc.Login(ctx, customer.LoginInput{Email: "admin@example.com", Password: "mallory-password"}); !errors.Is(err, customer.ErrInvalidCredentials) {
			t.Errorf("squatter's password after promotion: err = %v", err)
		}
	})
	t.Run("rejects a short password", func(t *testing.T) {
		f := newFixture(t)
		if _, err := f.svc.EnsureAdmin(ctx, "admin@example.com", "short"); err == nil {
			t.Fatal("want an error")
		}
	})
}

func TestLoginWhileSessionsAreAway(t *testing.T) {
	f := newFixture(t)
	f.register(t, "Ada", "ada@example.com", "right-password")
	f.sessions.down = true
	_, err := f.svc.Login(context.Background(), customer.LoginInput{Email: "ada@example.com", Password: "right-password"})
	if !errors.Is(err, customer.ErrUnavailable) {
		t.Errorf("err = %v, want ErrUnavailable", err)
	}
}
