package httpapi

import (
	"net/http/httptest"
	"testing"
)

func TestClientAddr(t *testing.T) {
	tests := []struct {
		name  string
		trust bool
		xff   []string
		want  string
	}{
		{"direct", false, nil, "192.0.2.1"},
		{"forwarded header ignored when not trusted", false, []string{"198.51.100.7"}, "192.0.2.1"},
		{"trusted: the entry our proxy appended", true, []string{"10.9.9.9, 198.51.100.7"}, "198.51.100.7"},
		{"trusted: last of several headers", true, []string{"10.9.9.9", "198.51.100.8 "}, "198.51.100.8"},
		{"trusted but absent", true, nil, "192.0.2.1"},
		{"trusted but empty last entry", true, []string{"198.51.100.7, "}, "192.0.2.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/api/customers/login", nil)
			r.RemoteAddr = "192.0.2.1:5555"
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			h := &handlers{trustForwardedFor: tt.trust}
			if got := h.clientAddr(r); got != tt.want {
				t.Errorf("clientAddr = %q, want %q", got, tt.want)
			}
		})
	}
}
