package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/travluk/ecom/services/platform/problem"
)

// maxTokenBytes refuses oversized tokens before any parsing; ours are a few
// hundred bytes.
const maxTokenBytes = 8 << 10

// unavailableRetry is the Retry-After of a 503 when sessions or keys cannot
// be checked: long enough not to hammer, short enough for a blip.
const unavailableRetry = time.Second

// allowedAlgs is the explicit allow-list: asymmetric algorithms only, so a
// public key can never be used as an HMAC secret, and never "none".
var allowedAlgs = []string{jwt.SigningMethodEdDSA.Alg(), jwt.SigningMethodES256.Alg()}

// VerifierOptions configure a Verifier. Issuer, Audience, Keys and Sessions
// are required.
type VerifierOptions struct {
	Issuer   string
	Audience string
	Keys     KeySource
	Sessions SessionChecker
	// Leeway tolerates clock skew on exp, nbf and iat.
	Leeway time.Duration
	// Logger receives why verification was unavailable; nil discards.
	Logger *slog.Logger
}

// Verifier checks access tokens and guards handlers with them.
type Verifier struct {
	parser   *jwt.Parser
	keys     KeySource
	sessions SessionChecker
	logger   *slog.Logger
}

// NewVerifier returns a Verifier. It panics when a required option is
// missing: a verifier without issuer, audience, keys or session check would
// accept tokens it must refuse, and that is a wiring bug to stop at
// startup.
func NewVerifier(o VerifierOptions) *Verifier {
	switch {
	case o.Issuer == "":
		panic("auth: VerifierOptions.Issuer is empty")
	case o.Audience == "":
		panic("auth: VerifierOptions.Audience is empty")
	case o.Keys == nil:
		panic("auth: VerifierOptions.Keys is nil")
	case o.Sessions == nil:
		panic("auth: VerifierOptions.Sessions is nil")
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Verifier{
		parser: jwt.NewParser(
			jwt.WithValidMethods(allowedAlgs),
			jwt.WithIssuer(o.Issuer),
			jwt.WithAudience(o.Audience),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(o.Leeway),
		),
		keys:     o.Keys,
		sessions: o.Sessions,
		logger:   logger,
	}
}

// Verify returns the claims of a valid token whose session is live. The
// error wraps ErrInvalidToken (bad, forged, expired, wrong issuer or
// audience, missing sub or sid), ErrSessionEnded (logged out or revoked),
// or ErrUnavailable (sessions or keys could not be reached).
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	if token == "" {
		return nil, fmt.Errorf("%w: no token", ErrInvalidToken)
	}
	if len(token) > maxTokenBytes {
		return nil, fmt.Errorf("%w: token too long", ErrInvalidToken)
	}
	claims := &Claims{}
	_, err := v.parser.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		return v.key(ctx, t)
	})
	if err != nil {
		if errors.Is(err, ErrUnavailable) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if claims.Subject == "" || claims.SessionID == "" {
		return nil, fmt.Errorf("%w: sub and sid are required", ErrInvalidToken)
	}
	active, err := v.sessions.Active(ctx, claims.SessionID)
	if err != nil {
		return nil, fmt.Errorf("%w: check session: %w", ErrUnavailable, err)
	}
	if !active {
		return nil, ErrSessionEnded
	}
	return claims, nil
}

// key finds the token's key by kid and insists that its type matches the
// algorithm, so that a key published for one algorithm is never used with
// another.
func (v *Verifier) key(ctx context.Context, t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	if kid == "" {
		return nil, errors.New("token has no kid header")
	}
	key, err := v.keys.PublicKey(ctx, kid)
	if err != nil {
		return nil, err
	}
	switch alg := t.Method.Alg(); alg {
	case jwt.SigningMethodEdDSA.Alg():
		if k, ok := key.(ed25519.PublicKey); ok {
			return k, nil
		}
	case jwt.SigningMethodES256.Alg():
		if k, ok := key.(*ecdsa.PublicKey); ok && k.Curve == elliptic.P256() {
			return k, nil
		}
	}
	return nil, fmt.Errorf("key %q does not fit algorithm %s", kid, t.Method.Alg())
}

// Authenticate lets a request through with its verified claims in the
// context (see ClaimsFrom). A missing or bad token is answered 401 with
// WWW-Authenticate: Bearer, an ended session 401, and a session store that
// cannot be reached 503 with Retry-After.
func (v *Verifier) Authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := TokenFrom(r)
		if token == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="travluk"`)
			problem.Write(w, problem.New(http.StatusUnauthorized, "unauthenticated", "A bearer token is required."))
			return
		}
		claims, err := v.Verify(r.Context(), token)
		switch {
		case err == nil:
			next.ServeHTTP(w, r.WithContext(WithClaims(r.Context(), claims)))
		case errors.Is(err, ErrUnavailable):
			v.logger.WarnContext(r.Context(), "token verification unavailable", "error", err)
			problem.Write(w, problem.Unavailable("Authentication is temporarily unavailable.", unavailableRetry))
		case errors.Is(err, ErrSessionEnded):
			w.Header().Set("WWW-Authenticate", `Bearer realm="travluk", error="invalid_token", error_description="session ended"`)
			problem.Write(w, problem.New(http.StatusUnauthorized, "session_ended", "The session has ended; log in again."))
		default:
			w.Header().Set("WWW-Authenticate", `Bearer realm="travluk", error="invalid_token"`)
			problem.Write(w, problem.New(http.StatusUnauthorized, "invalid_token", "The token is invalid or expired."))
		}
	})
}

// RequireRole authenticates, then answers 403 unless the claims have role
// (an admin has every role).
func (v *Verifier) RequireRole(role string, next http.Handler) http.Handler {
	return v.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := ClaimsFrom(r.Context())
		if !claims.HasRole(role) {
			problem.Write(w, problem.New(http.StatusForbidden, "forbidden", "This action is not allowed for your role."))
			return
		}
		next.ServeHTTP(w, r)
	}))
}

// Admin is RequireRole(RoleAdmin, next).
func (v *Verifier) Admin(next http.Handler) http.Handler { return v.RequireRole(RoleAdmin, next) }

// Customer is RequireRole(RoleCustomer, next); admins pass too.
func (v *Verifier) Customer(next http.Handler) http.Handler {
	return v.RequireRole(RoleCustomer, next)
}

// TokenFrom returns the bearer token of "Authorization: Bearer <t>" (the
// scheme in any case), or else the "x-auth-token" header that older clients
// send, or "" when there is neither.
func TokenFrom(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, token, ok := strings.Cut(h, " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(token)
		}
	}
	return strings.TrimSpace(r.Header.Get("x-auth-token"))
}
