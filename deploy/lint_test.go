package deploy_test

import (
	"testing"

	"github.com/travluk/ecom/deploy/ingressyaml"

	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
)

// helmLint runs `helm lint --strict` on the chart in dir through the SDK:
// warnings fail too. It needs no helm binary.
func helmLint(t *testing.T, dir string) {
	t.Helper()
	kube := &chartutil.KubeVersion{Version: "v1.35.0", Major: "1", Minor: "35"}
	result := lint.AllWithKubeVersion(dir, nil, ingressyaml.Namespace, kube)
	for _, m := range result.Messages {
		if m.Severity > support.InfoSev {
			t.Errorf("helm lint: %s", m)
		} else {
			t.Logf("helm lint: %s", m)
		}
	}
}
