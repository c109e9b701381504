package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"sigs.k8s.io/yaml"
)

// monitoring checks what k8s/ gives Prometheus against a live one: every
// target of its ServiceMonitors is up, its alert rules are loaded, and after
// a bounded journey load every alert expression and every dashboard query
// returns data. A renamed metric or label leaves a query empty, and the check
// lists each empty one.
func monitoring(s *shop, c config, admin, runID string) error {
	prom := promAPI{base: strings.TrimRight(c.prometheus, "/"), client: &http.Client{Timeout: 20 * time.Second}}
	monitors, err := serviceMonitorNames(filepath.Join(c.k8s, "servicemonitors.yaml"))
	if err != nil {
		return err
	}
	if err := eventually(3*time.Minute, func() error { return prom.targetsUp(c.namespace, monitors) }); err != nil {
		return err
	}
	fmt.Printf("   every target of the ServiceMonitors %s is up\n", strings.Join(monitors, ", "))

	alerts, err := alertRules(filepath.Join(c.k8s, "prometheusrule.yaml"))
	if err != nil {
		return err
	}
	panels, err := dashboardQueries(filepath.Join(c.k8s, "grafana-dashboard.yaml"))
	if err != nil {
		return err
	}
	if err := eventually(2*time.Minute, func() error { return prom.rulesLoaded(alerts) }); err != nil {
		return err
	}
	fmt.Printf("   Prometheus loaded the %d alerts of the PrometheusRule\n", len(alerts))

	// The journey first: its refused requests (a logged-out token, a buy
	// beyond the stock) are the 4xx the dashboard's error panels show, and a
	// rate looks back 2 minutes only. Then a bounded load, buys included, so
	// the order flow's series move.
	if err := journey(s, admin, runID); err != nil {
		return err
	}
	tr, _, err := loadSetup(s, admin, 4, 1000, runID, "monitoring")
	if err != nil {
		return err
	}
	tr.withBuys = true
	res := tr.run(600, 60*time.Second)
	fmt.Printf("   load: %s\n", res)
	if res.failed() > 0 {
		return fmt.Errorf("load: %s", res)
	}

	queries := append(alerts, panels...)
	var empty []string
	// Rates need two scrapes (30 s apart) after the load: up to 2 minutes.
	err = eventually(2*time.Minute, func() error {
		empty = prom.emptyQueries(queries)
		if len(empty) > 0 {
			return fmt.Errorf("%d of %d queries return no data", len(empty), len(queries))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%w:\n      %s", err, strings.Join(empty, "\n      "))
	}
	fmt.Printf("   all %d alert expressions and %d dashboard queries return data\n", len(alerts), len(panels))

	firing, err := prom.firing()
	if err != nil {
		return err
	}
	if len(firing) > 0 {
		return fmt.Errorf("alerts firing on a healthy shop: %s", strings.Join(firing, ", "))
	}
	fmt.Println("   no alert fires on the healthy shop")
	return nil
}

// query is one PromQL expression of k8s/, and where it comes from.
type query struct{ where, expr string }

func alertRules(file string) ([]query, error) {
	var rule struct {
		Spec struct {
			Groups []struct {
				Rules []struct {
					Alert string `json:"alert"`
					Expr  string `json:"expr"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"spec"`
	}
	if err := readYAML(file, &rule); err != nil {
		return nil, err
	}
	var out []query
	for _, g := range rule.Spec.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				out = append(out, query{"alert " + r.Alert, r.Expr})
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no alert", file)
	}
	return out, nil
}

// grafanaVariables are the variables the dashboard's queries use, with the
// values Grafana gives them on a 1-hour dashboard of 30 s scrapes.
var grafanaVariables = strings.NewReplacer("$__rate_interval", "2m", "$__interval", "1m", "$__range", "1h")

type panel struct {
	Title   string  `json:"title"`
	Panels  []panel `json:"panels"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

func dashboardQueries(file string) ([]query, error) {
	var cm struct {
		Data map[string]string `json:"data"`
	}
	if err := readYAML(file, &cm); err != nil {
		return nil, err
	}
	var out []query
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			for _, t := range p.Targets {
				out = append(out, query{"panel " + p.Title, grafanaVariables.Replace(t.Expr)})
			}
			walk(p.Panels)
		}
	}
	for name, text := range cm.Data {
		var d struct {
			Panels []panel `json:"panels"`
		}
		if err := json.Unmarshal([]byte(text), &d); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", file, name, err)
		}
		walk(d.Panels)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no panel query", file)
	}
	return out, nil
}

func serviceMonitorNames(file string) ([]string, error) {
	text, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, doc := range strings.Split(string(text), "\n---") {
		var obj struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if obj.Kind == "ServiceMonitor" {
			names = append(names, obj.Metadata.Name)
		}
	}
	return names, nil
}

func readYAML(file string, v any) error {
	text, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	if err := yaml.Unmarshal(text, v); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	return nil
}

// shapes returns what an expression is made of before its thresholds: for
// `A > 0.05` it is A, for `A unless on (x) B` the shapes of A and of B. A
// healthy shop fires no alert, so the alert's expression itself is empty;
// what it compares must not be.
func shapes(e parser.Expr) []parser.Expr {
	switch n := e.(type) {
	case *parser.ParenExpr:
		return shapes(n.Expr)
	case *parser.BinaryExpr:
		if n.Op.IsSetOperator() {
			return append(shapes(n.LHS), shapes(n.RHS)...)
		}
		if n.Op.IsComparisonOperator() && !n.ReturnBool {
			if isNumber(n.RHS) {
				return shapes(n.LHS)
			}
			if isNumber(n.LHS) {
				return shapes(n.RHS)
			}
		}
	}
	return []parser.Expr{e}
}

func isNumber(e parser.Expr) bool {
	for {
		p, ok := e.(*parser.ParenExpr)
		if !ok {
			break
		}
		e = p.Expr
	}
	_, ok := e.(*parser.NumberLiteral)
	return ok
}

// relaxErrorCodes drops the matchers that select only 5xx answers, which a
// healthy run has none of (deploy/monitoring_test.go proves locally that the
// services emit them): the selector then still names the metric and every
// other label. It says whether it dropped any.
func relaxErrorCodes(e parser.Expr) bool {
	relaxed := false
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		vs.LabelMatchers = slices.DeleteFunc(vs.LabelMatchers, func(m *labels.Matcher) bool {
			drop := m.Name == "code" && m.Matches("500") && !m.Matches("200")
			relaxed = relaxed || drop
			return drop
		})
		return nil
	})
	return relaxed
}

// emptyQueries evaluates every selector and every shape of each query, and
// lists those that return no series.
func (p promAPI) emptyQueries(queries []query) []string {
	var empty []string
	for _, q := range queries {
		expr, err := parser.NewParser(parser.Options{}).ParseExpr(q.expr)
		if err != nil {
			empty = append(empty, fmt.Sprintf("%s: does not parse: %v", q.where, err))
			continue
		}
		relaxed := relaxErrorCodes(expr)
		note := ""
		if relaxed {
			note = " (5xx matcher dropped)"
		}
		var parts []string
		parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
			if vs, ok := n.(*parser.VectorSelector); ok {
				parts = append(parts, vs.String())
			}
			return nil
		})
		for _, sh := range shapes(expr) {
			parts = append(parts, sh.String())
		}
		for _, part := range slices.Compact(parts) {
			n, err := p.count(part)
			switch {
			case err != nil:
				empty = append(empty, fmt.Sprintf("%s: %s%s: %v", q.where, part, note, err))
			case n == 0:
				empty = append(empty, fmt.Sprintf("%s: %s%s: no data", q.where, part, note))
			}
		}
	}
	return empty
}

// promAPI is Prometheus's HTTP API, v1.
type promAPI struct {
	base   string
	client *http.Client
}

func (p promAPI) get(path string, params url.Values, data any) error {
	resp, err := p.client.Get(p.base + path + "?" + params.Encode())
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var body struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return fmt.Errorf("GET %s: %d, %w", path, resp.StatusCode, err)
	}
	if body.Status != "success" {
		return fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, body.Error)
	}
	return json.Unmarshal(body.Data, data)
}

// count is the number of series (or 1 for a scalar) an instant query returns.
func (p promAPI) count(expr string) (int, error) {
	var data struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := p.get("/api/v1/query", url.Values{"query": {expr}}, &data); err != nil {
		return 0, err
	}
	if data.ResultType == "scalar" {
		return 1, nil
	}
	var series []json.RawMessage
	if err := json.Unmarshal(data.Result, &series); err != nil {
		return 0, err
	}
	return len(series), nil
}

// targetsUp wants, for each ServiceMonitor in the namespace, at least one
// active target, and every one of them up.
func (p promAPI) targetsUp(namespace string, monitors []string) error {
	var data struct {
		ActiveTargets []struct {
			ScrapePool string `json:"scrapePool"`
			ScrapeURL  string `json:"scrapeUrl"`
			Health     string `json:"health"`
			LastError  string `json:"lastError"`
		} `json:"activeTargets"`
	}
	if err := p.get("/api/v1/targets", url.Values{"state": {"active"}}, &data); err != nil {
		return err
	}
	var problems []string
	for _, m := range monitors {
		pool := fmt.Sprintf("serviceMonitor/%s/%s/", namespace, m)
		n := 0
		for _, t := range data.ActiveTargets {
			if !strings.HasPrefix(t.ScrapePool, pool) {
				continue
			}
			n++
			if t.Health != "up" {
				problems = append(problems, fmt.Sprintf("%s %s is %s (%s)", m, t.ScrapeURL, t.Health, t.LastError))
			}
		}
		if n == 0 {
			problems = append(problems, m+": no target")
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("targets: %s", strings.Join(problems, "; "))
	}
	return nil
}

// rulesLoaded wants every alert of the PrometheusRule among Prometheus's rules.
func (p promAPI) rulesLoaded(alerts []query) error {
	var data struct {
		Groups []struct {
			Rules []struct {
				Name string `json:"name"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := p.get("/api/v1/rules", url.Values{"type": {"alert"}}, &data); err != nil {
		return err
	}
	loaded := make(map[string]bool)
	for _, g := range data.Groups {
		for _, r := range g.Rules {
			loaded["alert "+r.Name] = true
		}
	}
	var missing []string
	for _, a := range alerts {
		if !loaded[a.where] {
			missing = append(missing, a.where)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("not loaded by Prometheus: %s", strings.Join(missing, ", "))
	}
	return nil
}

// firing lists the alerts Prometheus has firing, with their labels.
func (p promAPI) firing() ([]string, error) {
	var data struct {
		Alerts []struct {
			Labels map[string]string `json:"labels"`
			State  string            `json:"state"`
		} `json:"alerts"`
	}
	if err := p.get("/api/v1/alerts", url.Values{}, &data); err != nil {
		return nil, err
	}
	var out []string
	for _, a := range data.Alerts {
		if a.State == "firing" {
			out = append(out, fmt.Sprintf("%s%v", a.Labels["alertname"], a.Labels))
		}
	}
	sort.Strings(out)
	return out, nil
}

// adapterConfig turns the Helm values of prometheus-adapter's chart
// (deploy/prometheus-adapter-values.yaml) into the adapter's own config file,
// as the chart's ConfigMap template does: its custom rules under "rules".
func adapterConfig(valuesFile string) (string, error) {
	var values struct {
		Rules struct {
			Custom []map[string]any `json:"custom"`
		} `json:"rules"`
	}
	if err := readYAML(valuesFile, &values); err != nil {
		return "", err
	}
	if len(values.Rules.Custom) == 0 {
		return "", fmt.Errorf("%s: no rules.custom", valuesFile)
	}
	out, err := yaml.Marshal(map[string]any{"rules": values.Rules.Custom})
	return string(out), err
}
