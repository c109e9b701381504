package customer

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Service carries out the customer use cases. Build it with NewService.
type Service struct {
	repo       Repository
	sessions   Sessions
	throttle   Throttle
	hasher     PasswordHasher
	tokens     TokenIssuer
	clock      Clock
	refreshTTL time.Duration
}

// Deps are what a Service needs. Every field is required.
type Deps struct {
	Repository Repository
	Sessions   Sessions
	Throttle   Throttle
	Hasher     PasswordHasher
	Tokens     TokenIssuer
	Clock      Clock
	// RefreshTTL is how long a session (and so its refresh tokens) lives
	// after login; refreshing does not extend it.
	RefreshTTL time.Duration
}

// NewService returns a Service using d.
func NewService(d Deps) *Service {
	return &Service{
		repo:       d.Repository,
		sessions:   d.Sessions,
		throttle:   d.Throttle,
		hasher:     d.Hasher,
		tokens:     d.Tokens,
		clock:      d.Clock,
		refreshTTL: d.RefreshTTL,
	}
}

// now is the clock's time in UTC at MongoDB's millisecond precision, so what
// a use case returns equals what a later read returns.
func (s *Service) now() time.Time {
	return s.clock.Now().UTC().Truncate(time.Millisecond)
}

// RegisterInput is what a newcomer sends to open an account.
type RegisterInput struct {
	Name     string
	Email    string
	Password string
	Address  string
}

// Register opens a customer account. It returns a *ValidationError listing
// every invalid field, or ErrEmailTaken.
func (s *Service) Register(ctx context.Context, in RegisterInput) (*Customer, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	email := NormalizeEmail(in.Email)
	hash, err := s.hasher.Hash(in.Password)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	now := s.now()
	c := &Customer{
		Name:         strings.TrimSpace(in.Name),
		Email:        email,
		Address:      strings.TrimSpace(in.Address),
		Role:         RoleCustomer,
		PasswordHash: hash,
		CreatedAt:    now,
		UpdatedAt:    now,
	}
	if err := s.repo.Create(ctx, c); err != nil {
		return nil, fmt.Errorf("register: %w", err)
	}
	return c, nil
}

// Validate returns a *ValidationError listing every invalid field of in,
// or nil.
func (in RegisterInput) Validate() error {
	var errs []FieldError
	errs = validateName(errs, in.Name)
	errs = validateEmail(errs, NormalizeEmail(in.Email))
	errs = validatePassword(errs, "password", in.Password)
	errs = validateAddress(errs, in.Address)
	return validation(errs)
}

// Tokens are what a login or a refresh hands out.
type Tokens struct {
	AccessToken  string
	RefreshToken string
	// ExpiresIn is the access token's lifetime.
	ExpiresIn time.Duration
}

// LoginInput is a login attempt. Client identifies where it came from (an IP
// address) for per-client throttling.
type LoginInput struct {
	Email    string
	Password string
	Client   string
}

// Login checks the credentials and starts a session.
//
// An account or client over its failure limit gets a *ThrottledError, even
// with the right password: otherwise the lock would not stop a guesser, who
// would only need to notice which guess is answered differently. An unknown
// email and a wrong password both cost one password verification and both
// return ErrInvalidCredentials, so neither the answer nor its timing reveals
// whether an account exists. A successful login clears the account's
// failures but not the client's, so one valid account cannot launder a
// client's guesses at others.
func (s *Service) Login(ctx context.Context, in LoginInput) (*Tokens, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	email := NormalizeEmail(in.Email)

	wait, err := s.throttle.Check(ctx, email, in.Client)
	if err != nil {
		return nil, fmt.Errorf("login throttle: %w", err)
	}
	if wait > 0 {
		return nil, &ThrottledError{RetryAfter: wait}
	}

	c, err := s.repo.ByEmail(ctx, email)
	switch {
	case errors.Is(err, ErrNotFound):
		s.hasher.VerifyDummy(in.Password)
		return nil, s.loginFailed(ctx, email, in.Client)
	case err != nil:
		return nil, fmt.Errorf("login: %w", err)
	}
	ok, err := s.hasher.Verify(c.PasswordHash, in.Password)
	if err != nil {
		return nil, fmt.Errorf("login %s: %w", c.ID, err)
	}
	if !ok {
		return nil, s.loginFailed(ctx, email, in.Client)
	}
	if err := s.throttle.Reset(ctx, email); err != nil {
		return nil, fmt.Errorf("login throttle: %w", err)
	}
	return s.startSession(ctx, c)
}

// Validate returns a *ValidationError naming the missing fields of in, or
// nil. Only presence is checked: a malformed email is a wrong credential
// (401), never a hint about which accounts exist.
func (in LoginInput) Validate() error {
	var errs []FieldError
	if NormalizeEmail(in.Email) == "" {
		errs = append(errs, FieldError{"email", "is required"})
	}
	if in.Password == "" {
		errs = append(errs, FieldError{"password", "is required"})
	}
	return validation(errs)
}

// loginFailed counts the failure and returns the error to answer with. A
// failure that cannot be counted is reported as such rather than as bad
// credentials, so an outage never silently lifts the limit.
func (s *Service) loginFailed(ctx context.Context, email, client string) error {
	if err := s.throttle.Fail(ctx, email, client); err != nil {
		return fmt.Errorf("login throttle: %w", err)
	}
	return ErrInvalidCredentials
}

func (s *Service) startSession(ctx context.Context, c *Customer) (*Tokens, error) {
	sid, secret := randomToken(16), randomToken(32)
	sess := Session{ID: sid, CustomerID: c.ID, Role: c.Role}
	if err := s.sessions.Create(ctx, sess, hashSecret(secret), s.refreshTTL); err != nil {
		return nil, fmt.Errorf("start session: %w", err)
	}
	return s.issue(sess, secret)
}

func (s *Service) issue(sess Session, secret string) (*Tokens, error) {
	access, ttl, err := s.tokens.Issue(sess.CustomerID, sess.Role, sess.ID, s.clock.Now())
	if err != nil {
		return nil, fmt.Errorf("issue access token: %w", err)
	}
	return &Tokens{AccessToken: access, RefreshToken: sess.ID + "." + secret, ExpiresIn: ttl}, nil
}

// Refresh exchanges a refresh token for a new pair (rotation): the presented
// token is spent. Presenting a spent token again ends the whole session, so
// a thief and the rightful holder are both logged out; it returns an error
// wrapping both ErrInvalidRefreshToken and ErrRefreshTokenReused.
func (s *Service) Refresh(ctx context.Context, refreshToken string) (*Tokens, error) {
	if err := ValidateRefreshToken(refreshToken); err != nil {
		return nil, err
	}
	sid, secret, ok := parseRefreshToken(refreshToken)
	if !ok {
		return nil, ErrInvalidRefreshToken
	}
	next := randomToken(32)
	sess, err := s.sessions.Rotate(ctx, sid, hashSecret(secret), hashSecret(next))
	if err != nil {
		return nil, fmt.Errorf("refresh: %w", err)
	}
	return s.issue(sess, next)
}

// ValidateRefreshToken returns a *ValidationError when no refresh token was
// given, as for any other missing field; a token that is there but not one
// of ours is ErrInvalidRefreshToken from Refresh, like a wrong password.
func ValidateRefreshToken(refreshToken string) error {
	if refreshToken == "" {
		return &ValidationError{Errors: []FieldError{{"refreshToken", "is required"}}}
	}
	return nil
}

// Actor is the authenticated caller of a use case, taken from a verified
// access token.
type Actor struct {
	CustomerID string
	SessionID  string
	Role       Role
}

func (a Actor) mayAccess(customerID string) bool {
	return a.Role == RoleAdmin || a.CustomerID == customerID
}

// Logout ends the actor's session: its access and refresh tokens stop
// working.
func (s *Service) Logout(ctx context.Context, actor Actor) error {
	if err := s.sessions.Delete(ctx, actor.SessionID); err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	return nil
}

// Get returns a customer the actor may see: themselves, or anyone for an
// admin. Another customer's profile is ErrNotFound, not ErrForbidden, so ids
// cannot be probed.
func (s *Service) Get(ctx context.Context, actor Actor, id string) (*Customer, error) {
	if !actor.mayAccess(id) {
		return nil, ErrNotFound
	}
	c, err := s.repo.ByID(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("get customer: %w", err)
	}
	return c, nil
}

// UpdateInput is a partial profile update; nil fields stay as they are.
type UpdateInput struct {
	Name            *string
	Email           *string
	Address         *string
	Password        *string
	CurrentPassword *string
	Role            *string
}

// Update changes a customer's profile.
//
// Rules: only the customer themselves or an admin may update (others get
// ErrNotFound); only an admin may send role (others get ErrForbidden, even
// for their current role). Changing one's own password needs the current
// one, checked like a login (wrong answers count against the account's
// failure limit); an admin setting another customer's password does not.
// A new password or role ends the customer's other sessions, because tokens
// carry the role and a password change must lock out whoever else knew it.
func (s *Service) Update(ctx context.Context, actor Actor, id string, in UpdateInput) (*Customer, error) {
	if !actor.mayAccess(id) {
		return nil, ErrNotFound
	}
	if in.Role != nil && actor.Role != RoleAdmin {
		return nil, ErrForbidden
	}
	self := actor.CustomerID == id
	p, errs := in.patch(self)
	if err := validation(errs); err != nil {
		return nil, err
	}
	current, err := s.repo.ByID(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("update customer: %w", err)
	}
	if in.Password != nil {
		if self {
			if err := s.checkCurrentPassword(ctx, current, *in.CurrentPassword); err != nil {
				return nil, err
			}
		}
		hash, err := s.hasher.Hash(*in.Password)
		if err != nil {
			return nil, fmt.Errorf("hash password: %w", err)
		}
		p.PasswordHash = &hash
	}
	if p == (Patch{}) {
		return current, nil
	}

	// Sessions end before the write so that a failure to reach Redis leaves
	// everything as it was (the caller gets a retryable error).
	roleChanged := p.Role != nil && *p.Role != current.Role
	if roleChanged || p.PasswordHash != nil {
		keep := ""
		if self && !roleChanged {
			keep = actor.SessionID
		}
		if err := s.sessions.DeleteAll(ctx, id, keep); err != nil {
			return nil, fmt.Errorf("end sessions: %w", err)
		}
	}
	p.UpdatedAt = s.now()
	updated, err := s.repo.Update(ctx, id, p)
	if err != nil {
		return nil, fmt.Errorf("update customer: %w", err)
	}
	return updated, nil
}

// Validate returns a *ValidationError listing every invalid field of in, or
// nil; self says whether the customer updates their own profile (only then
// is currentPassword needed for a new password).
func (in UpdateInput) Validate(self bool) error {
	_, errs := in.patch(self)
	return validation(errs)
}

// patch returns the patch in asks for and the invalid fields.
func (in UpdateInput) patch(self bool) (Patch, []FieldError) {
	p := Patch{}
	var errs []FieldError
	if in.Name != nil {
		errs = validateName(errs, *in.Name)
		p.Name = ptr(strings.TrimSpace(*in.Name))
	}
	if in.Email != nil {
		p.Email = ptr(NormalizeEmail(*in.Email))
		errs = validateEmail(errs, *p.Email)
	}
	if in.Address != nil {
		errs = validateAddress(errs, *in.Address)
		p.Address = ptr(strings.TrimSpace(*in.Address))
	}
	if in.Role != nil {
		if r := Role(*in.Role); r.Valid() {
			p.Role = &r
		} else {
			errs = append(errs, FieldError{"role", `must be "customer" or "admin"`})
		}
	}
	if in.Password != nil {
		errs = validatePassword(errs, "password", *in.Password)
		if self && (in.CurrentPassword == nil || *in.CurrentPassword == "") {
			errs = append(errs, FieldError{"currentPassword", "is required to change the password"})
		}
	} else if in.CurrentPassword != nil {
		errs = append(errs, FieldError{"currentPassword", "is only used together with password"})
	}
	return p, errs
}

// checkCurrentPassword verifies a re-entered password under the same
// per-account limit as logins, so a stolen access token cannot be used to
// guess the password behind it.
func (s *Service) checkCurrentPassword(ctx context.Context, c *Customer, password string) error {
	wait, err := s.throttle.Check(ctx, c.Email, "")
	if err != nil {
		return fmt.Errorf("password throttle: %w", err)
	}
	if wait > 0 {
		return &ThrottledError{RetryAfter: wait}
	}
	ok, err := s.hasher.Verify(c.PasswordHash, password)
	if err != nil {
		return fmt.Errorf("verify password: %w", err)
	}
	if !ok {
		if err := s.throttle.Fail(ctx, c.Email, ""); err != nil {
			return fmt.Errorf("password throttle: %w", err)
		}
		return &ValidationError{Errors: []FieldError{{"currentPassword", "is incorrect"}}}
	}
	return nil
}

// EnsureAdmin makes sure an admin account with this email exists; it is safe
// to run on every start and from several replicas at once.
//
// A missing account is created with the given password. An existing admin is
// left alone (its password may have been changed since; the bootstrap does
// not undo that). An existing non-admin account is promoted and its password
// set to the given one, with its sessions ended: anyone could have
// registered that email before the operator chose it, and promotion must not
// hand admin rights to whoever knows that account's password.
func (s *Service) EnsureAdmin(ctx context.Context, email, password string) (*Customer, error) {
	email = NormalizeEmail(email)
	var errs []FieldError
	errs = validateEmail(errs, email)
	errs = validatePassword(errs, "password", password)
	if err := validation(errs); err != nil {
		return nil, fmt.Errorf("admin bootstrap: %w", err)
	}
	for attempt := 0; attempt < 2; attempt++ {
		c, err := s.repo.ByEmail(ctx, email)
		if errors.Is(err, ErrNotFound) {
			c, err = s.createAdmin(ctx, email, password)
			if errors.Is(err, ErrEmailTaken) {
				continue // another replica created it first; promote that one
			}
			return c, err
		}
		if err != nil {
			return nil, fmt.Errorf("admin bootstrap: %w", err)
		}
		if c.Role == RoleAdmin {
			return c, nil
		}
		return s.promote(ctx, c, password)
	}
	return nil, fmt.Errorf("admin bootstrap: %s keeps changing", email)
}

func (s *Service) createAdmin(ctx context.Context, email, password string) (*Customer, error) {
	hash, err := s.hasher.Hash(password)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	now := s.now()
	c := &Customer{Name: "Administrator", Email: email, Role: RoleAdmin, PasswordHash: hash, CreatedAt: now, UpdatedAt: now}
	if err := s.repo.Create(ctx, c); err != nil {
		return nil, fmt.Errorf("admin bootstrap: %w", err)
	}
	return c, nil
}

func (s *Service) promote(ctx context.Context, c *Customer, password string) (*Customer, error) {
	hash, err := s.hasher.Hash(password)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	if err := s.sessions.DeleteAll(ctx, c.ID, ""); err != nil {
		return nil, fmt.Errorf("admin bootstrap: end sessions: %w", err)
	}
	admin := RoleAdmin
	c, err = s.repo.Update(ctx, c.ID, Patch{Role: &admin, PasswordHash: &hash, UpdatedAt: s.now()})
	if err != nil {
		return nil, fmt.Errorf("admin bootstrap: %w", err)
	}
	return c, nil
}

// randomToken returns n random bytes, base64url-encoded without padding.
func randomToken(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand crashes the program instead)
	return base64.RawURLEncoding.EncodeToString(b)
}

// hashSecret is what the session store keeps of a refresh secret, so a
// leaked Redis snapshot yields no usable refresh token. The secret has 256
// random bits, so a fast hash is enough.
func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// parseRefreshToken splits "<sessionID>.<secret>" and checks both parts
// look like what randomToken makes.
func parseRefreshToken(t string) (sid, secret string, ok bool) {
	sid, secret, ok = strings.Cut(t, ".")
	if !ok || len(sid) != 22 || len(secret) != 43 {
		return "", "", false
	}
	if _, err := base64.RawURLEncoding.DecodeString(sid); err != nil {
		return "", "", false
	}
	if _, err := base64.RawURLEncoding.DecodeString(secret); err != nil {
		return "", "", false
	}
	return sid, secret, true
}

func ptr[T any](v T) *T { return &v }
