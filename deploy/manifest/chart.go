package manifest

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
)

// Release names the release a chart is rendered as, as `helm template
// NAME CHART --namespace NAMESPACE` would.
type Release struct {
	Name      string
	Namespace string
}

// Template is one rendered template of a chart.
type Template struct {
	Name    string // e.g. "customer/templates/deployment.yaml"
	Content string
}

// RenderChart renders the chart in dir with values layered over the chart's
// values.yaml, as `helm template` does without a cluster. values is checked
// against the chart's values.schema.json first; a value the schema refuses is
// an error. NOTES.txt and templates that render to nothing are left out.
func RenderChart(dir string, rel Release, values map[string]any) ([]Template, error) {
	chrt, err := loader.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("load chart %s: %w", dir, err)
	}
	opts := chartutil.ReleaseOptions{Name: rel.Name, Namespace: rel.Namespace, Revision: 1, IsInstall: true}
	renderValues, err := chartutil.ToRenderValues(chrt, values, opts, chartutil.DefaultCapabilities)
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w", chrt.Name(), err)
	}
	rendered, err := engine.Render(chrt, renderValues)
	if err != nil {
		return nil, fmt.Errorf("render chart %s: %w", chrt.Name(), err)
	}
	var out []Template
	for name, content := range rendered {
		if path.Base(name) == "NOTES.txt" || isEmpty(content) {
			continue
		}
		out = append(out, Template{Name: name, Content: content})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// DecodeTemplates decodes every document of every template strictly.
func DecodeTemplates(templates []Template) ([]Object, error) {
	var objs []Object
	var errs []string
	for _, t := range templates {
		o, err := DecodeAll(t.Name, []byte(t.Content))
		if err != nil {
			errs = append(errs, err.Error())
		}
		objs = append(objs, o...)
	}
	if len(errs) > 0 {
		return objs, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return objs, nil
}
