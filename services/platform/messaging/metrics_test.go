package messaging_test

import (
	"maps"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// counterValue returns the value of the counter called name in reg with
// exactly the given labels, or 0 when there is none.
func counterValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	return metricSeries(t, reg, name, labels).GetCounter().GetValue()
}

// histogram returns the sample count and sum of the histogram called name
// in reg with exactly the given labels, or zeros when there is none.
func histogram(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) (uint64, float64) {
	t.Helper()
	h := metricSeries(t, reg, name, labels).GetHistogram()
	return h.GetSampleCount(), h.GetSampleSum()
}

// metricSeries returns the series of the metric called name in reg with exactly
// the given labels, or nil (whose getters answer zeros) when there is none.
func metricSeries(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) *dto.Metric {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			got := make(map[string]string)
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			if maps.Equal(got, labels) {
				return m
			}
		}
	}
	return nil
}
