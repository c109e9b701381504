package httpapi

import (
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/travluk/ecom/services/customer/internal/customer"
	"github.com/travluk/ecom/services/platform/auth"
	"github.com/travluk/ecom/services/platform/jsonbody"
)

type handlers struct {
	svc               *customer.Service
	log               *slog.Logger
	trustForwardedFor bool
}

// profile is the public shape of a customer. It has no password field, so
// no code path can leak the hash into a response.
type profile struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Email     string    `json:"email"`
	Address   string    `json:"address"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

func profileOf(c *customer.Customer) profile {
	return profile{
		ID:        c.ID,
		Name:      c.Name,
		Email:     c.Email,
		Address:   c.Address,
		Role:      string(c.Role),
		CreatedAt: c.CreatedAt.UTC(),
		UpdatedAt: c.UpdatedAt.UTC(),
	}
}

type tokenResponse struct {
	AccessToken  string `json:"accessToken"`
	RefreshToken string `json:"refreshToken"`
	TokenType    string `json:"tokenType"`
	// ExpiresIn is the access token's lifetime in seconds.
	ExpiresIn int64 `json:"expiresIn"`
}

func (h *handlers) register(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name     string `json:"name"`
		Email    string `json:"email"`
		Password string `json:"password" jsonbody:"opaque"`
		Address  string `json:"address" jsonbody:"multiline"`
	}
	p := jsonbody.Decode(w, r, &in)
	reg := customer.RegisterInput{Name: in.Name, Email: in.Email, Password: in.Password, Address: in.Address}
	if p != nil {
		h.writeError(w, r, withCoreVerdict(p, reg.Validate()))
		return
	}
	c, err := h.svc.Register(r.Context(), reg)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/customers/"+c.ID)
	writeJSON(w, http.StatusCreated, profileOf(c))
}

func (h *handlers) login(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Email    string `json:"email"`
		Password string `json:"password" jsonbody:"opaque"`
	}
	p := jsonbody.Decode(w, r, &in)
	login := customer.LoginInput{Email: in.Email, Password: in.Password, Client: h.clientAddr(r)}
	if p != nil {
		h.writeError(w, r, withCoreVerdict(p, login.Validate()))
		return
	}
	tok, err := h.svc.Login(r.Context(), login)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeTokens(w, tok)
}

func (h *handlers) refresh(w http.ResponseWriter, r *http.Request) {
	var in struct {
		RefreshToken string `json:"refreshToken"`
	}
	if p := jsonbody.Decode(w, r, &in); p != nil {
		h.writeError(w, r, withCoreVerdict(p, customer.ValidateRefreshToken(in.RefreshToken)))
		return
	}
	tok, err := h.svc.Refresh(r.Context(), in.RefreshToken)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeTokens(w, tok)
}

// logout needs no body: the access token names the session.
func (h *handlers) logout(w http.ResponseWriter, r *http.Request) {
	if err := h.svc.Logout(r.Context(), actor(r)); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *handlers) home(w http.ResponseWriter, r *http.Request) {
	a := actor(r)
	c, err := h.svc.Get(r.Context(), a, a.CustomerID)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Message  string  `json:"message"`
		Customer profile `json:"customer"`
	}{"Welcome to Home, " + c.Name, profileOf(c)})
}

func (h *handlers) me(w http.ResponseWriter, r *http.Request) {
	a := actor(r)
	h.writeCustomer(w, r, a, a.CustomerID)
}

func (h *handlers) get(w http.ResponseWriter, r *http.Request) {
	h.writeCustomer(w, r, actor(r), mux.Vars(r)["customerId"])
}

func (h *handlers) writeCustomer(w http.ResponseWriter, r *http.Request, a customer.Actor, id string) {
	c, err := h.svc.Get(r.Context(), a, id)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, profileOf(c))
}

func (h *handlers) update(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name            *string `json:"name"`
		Email           *string `json:"email"`
		Address         *string `json:"address" jsonbody:"multiline"`
		Password        *string `json:"password" jsonbody:"opaque"`
		CurrentPassword *string `json:"currentPassword" jsonbody:"opaque"`
		Role            *string `json:"role"`
	}
	p := jsonbody.Decode(w, r, &in)
	a, id := actor(r), mux.Vars(r)["customerId"]
	up := customer.UpdateInput{
		Name: in.Name, Email: in.Email, Address: in.Address,
		Password: in.Password, CurrentPassword: in.CurrentPassword, Role: in.Role,
	}
	if p != nil {
		h.writeError(w, r, withCoreVerdict(p, up.Validate(a.CustomerID == id)))
		return
	}
	c, err := h.svc.Update(r.Context(), a, id, up)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, profileOf(c))
}

// actor is the caller Authenticate verified; routes using it are always
// behind Authenticate.
func actor(r *http.Request) customer.Actor {
	c, _ := auth.ClaimsFrom(r.Context())
	return customer.Actor{CustomerID: c.Subject, SessionID: c.SessionID, Role: customer.Role(c.Role)}
}

// clientAddr is the address login failures are counted against. Behind a
// trusted proxy it is the last X-Forwarded-For entry: earlier entries come
// from the client and may be forged, the last one is what our proxy saw.
func (h *handlers) clientAddr(r *http.Request) string {
	if h.trustForwardedFor {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			last := xff[len(xff)-1]
			if i := strings.LastIndexByte(last, ','); i >= 0 {
				last = last[i+1:]
			}
			if addr := strings.TrimSpace(last); addr != "" {
				return addr
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func writeTokens(w http.ResponseWriter, t *customer.Tokens) {
	// Tokens must not be kept by any cache (RFC 6749 §5.1).
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, tokenResponse{
		AccessToken:  t.AccessToken,
		RefreshToken: t.RefreshToken,
		TokenType:    "Bearer",
		ExpiresIn:    int64(t.ExpiresIn / time.Second),
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	// An encoding error means the client went away; nothing is left to do.
	_ = json.NewEncoder(w).Encode(v)
}
