package deploy_test

import (
	"testing"

	"github.com/travluk/ecom/deploy/ingressyaml"

	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
)

// TestChartsPassHelmLint runs `helm lint --strict` through the SDK: warnings
// fail too. It needs no helm binary.
func TestChartsPassHelmLint(t *testing.T) {
	charts := []struct {
		name, dir string
	}{
		{"customer", customerChartDir},
	}
	kube := &chartutil.KubeVersion{Version: "v1.35.0", Major: "1", Minor: "35"}
	for _, c := range charts {
		t.Run(c.name, func(t *testing.T) {
			result := lint.AllWithKubeVersion(c.dir, nil, ingressyaml.Namespace, kube)
			for _, m := range result.Messages {
				if m.Severity > support.InfoSev {
					t.Errorf("helm lint: %s", m)
				} else {
					t.Logf("helm lint: %s", m)
				}
			}
		})
	}
}
