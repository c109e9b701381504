package outbox_test

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/travluk/ecom/services/platform/outbox"
)

// TestRelayErrorSeriesExistFromTheStart checks that a relay that never
// failed already exports outbox_errors_total at 0 for every stage: the
// alert on relay failures takes rate() of it, and a series born with the
// first failure would hide that failure from rate().
func TestRelayErrorSeriesExistFromTheStart(t *testing.T) {
	reg := prometheus.NewRegistry()
	pub := newPublisher(nil)
	outbox.NewRelay(newStore(t, pub), pub, outbox.RelayOptions{Registry: reg})
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var stages []string
	for _, f := range families {
		if f.GetName() != "outbox_errors_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "stage" {
					stages = append(stages, l.GetValue())
				}
			}
			if v := m.GetCounter().GetValue(); v != 0 {
				t.Errorf("outbox_errors_total%v = %v before any failure, want 0", m.GetLabel(), v)
			}
		}
	}
	slices.Sort(stages)
	if diff := cmp.Diff([]string{"pending", "publish", "remove"}, stages); diff != "" {
		t.Errorf("outbox_errors_total stages before any failure (-want +got):\n%s", diff)
	}
}
