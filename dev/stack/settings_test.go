package stack

import (
	"net"
	"testing"
)

// TestListenAddresses holds every listener's default to loopback, so that
// `make run` on a laptop serves nobody else on its network, and checks that
// the variables still choose another address.
func TestListenAddresses(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want settings
	}{
		{"defaults", nil, settings{ingressAddr: "127.0.0.1:8080", customerAddr: "127.0.0.1:8081", productAddr: "127.0.0.1:8082", orderAddr: "127.0.0.1:8083"}},
		{"every interface, asked for", map[string]string{"INGRESS_ADDR": ":8080"}, settings{ingressAddr: ":8080", customerAddr: "127.0.0.1:8081", productAddr: "127.0.0.1:8082", orderAddr: "127.0.0.1:8083"}},
		{"other ports", map[string]string{"INGRESS_ADDR": "127.0.0.1:9000", "CUSTOMER_ADDR": "127.0.0.1:9001", "PRODUCT_ADDR": "127.0.0.1:9002", "ORDER_ADDR": "127.0.0.1:9003"},
			settings{ingressAddr: "127.0.0.1:9000", customerAddr: "127.0.0.1:9001", productAddr: "127.0.0.1:9002", orderAddr: "127.0.0.1:9003"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := loadSettings(func(k string) string { return tt.env[k] })
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range []struct{ name, got, want string }{
				{"INGRESS_ADDR", got.ingressAddr, tt.want.ingressAddr},
				{"CUSTOMER_ADDR", got.customerAddr, tt.want.customerAddr},
				{"PRODUCT_ADDR", got.productAddr, tt.want.productAddr},
				{"ORDER_ADDR", got.orderAddr, tt.want.orderAddr},
			} {
				if a.got != a.want {
					t.Errorf("%s = %q, want %q", a.name, a.got, a.want)
				}
			}
			if tt.env == nil {
				for _, addr := range []string{got.ingressAddr, got.customerAddr, got.productAddr, got.orderAddr} {
					host, _, err := net.SplitHostPort(addr)
					if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
						t.Errorf("default %q is not a loopback address", addr)
					}
				}
			}
		})
	}
}

func TestSeedCatalogSetting(t *testing.T) {
	tests := []struct {
		value   string
		want    bool
		wantErr bool
	}{
		{"", false, false},
		{"true", true, false},
		{"false", false, false},
		{"maybe", false, true},
	}
	for _, tt := range tests {
		got, err := loadSettings(func(k string) string {
			if k == "SEED_CATALOG" {
				return tt.value
			}
			return ""
		})
		if (err != nil) != tt.wantErr || got.seedCatalog != tt.want {
			t.Errorf("SEED_CATALOG=%q: seed %v, error %v; want seed %v, error %v", tt.value, got.seedCatalog, err, tt.want, tt.wantErr)
		}
	}
}
