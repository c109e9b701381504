package deploy_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"text/template"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	corev1 "k8s.io/api/core/v1"

	"github.com/travluk/ecom/deploy/ingressyaml"
	"github.com/travluk/ecom/deploy/manifest"
	"github.com/travluk/ecom/dev/shoptest"
	"github.com/travluk/ecom/dev/stack"
	"github.com/travluk/ecom/dev/testenv"
)

// monitoredServices are the jobs the alerts and the dashboard watch: the
// Service names the charts create, which a ServiceMonitor makes the job label.
var monitoredServices = []string{"customer", "product", "order"}

// targetLabels are the labels Prometheus adds to every series it scrapes
// through a ServiceMonitor; the services themselves never export them.
var targetLabels = []string{"job", "namespace", "instance", "pod", "service", "endpoint", "container"}

// emittedUnprovoked are label values the code emits that a short test cannot
// provoke, each with where the code emits it.
var emittedUnprovoked = []struct{ metric, label, value, where string }{
	{"http_requests_total", "code", "500", "platform/httpserver answers a handler's panic with problem.Internal()"},
}

// grafanaVariables are the Grafana variables the dashboard's queries may use,
// with a value that makes them PromQL.
var grafanaVariables = []struct{ name, value string }{
	{"$__rate_interval", "5m"},
	{"$__interval", "1m"},
	{"$__range", "1h"},
}

// requiredAlerts are the alerts the issue asks for, each with a metric its
// expression must select.
var requiredAlerts = []struct{ what, alert, metric string }{
	{"HTTP 5xx error rate per service", "TravlukHighErrorRate", "http_requests_total"},
	{"p99 latency per service", "TravlukHighLatencyP99", "http_request_duration_seconds_bucket"},
	{"outbox age", "TravlukOutboxEventsStuck", "outbox_oldest_age_seconds"},
	{"dead-lettered messages", "TravlukEventsDeadLettered", "messages_consumed_total"},
	{"consumer lag", "TravlukConsumerLagHigh", "messages_consume_lag_seconds_bucket"},
}

// orderFlowPanels are the metrics the dashboard's order-flow panels must show.
var orderFlowPanels = []struct{ what, metric string }{
	{"buys by outcome", "product_buys_total"},
	{"reservations by outcome", "product_reservations_total"},
	{"orders created", "product_orders_created_total"},
	{"outbox pending", "outbox_pending"},
	{"outbox age", "outbox_oldest_age_seconds"},
	{"messages published", "messages_published_total"},
	{"messages consumed", "messages_consumed_total"},
	{"consumer lag", "messages_consume_lag_seconds_bucket"},
}

// promQuery is one PromQL expression of the PrometheusRule or the dashboard.
type promQuery struct {
	where string // e.g. "alert TravlukHighErrorRate"
	expr  string // PromQL, Grafana variables replaced
}

func (q promQuery) parse() (parser.Expr, error) {
	return parser.NewParser(parser.Options{}).ParseExpr(q.expr)
}

func prometheusRule(t *testing.T) *monitoringv1.PrometheusRule {
	t.Helper()
	objs, err := manifest.DecodeAll("prometheusrule.yaml", readK8s(t, "prometheusrule.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 {
		t.Fatalf("prometheusrule.yaml holds %d objects, want one PrometheusRule", len(objs))
	}
	rule, ok := objs[0].Value.(*monitoringv1.PrometheusRule)
	if !ok {
		t.Fatalf("prometheusrule.yaml holds a %s, want a PrometheusRule", objs[0].GVK.Kind)
	}
	return rule
}

// The dashboard JSON, as far as this dashboard uses it. Decoding is strict, so
// a misspelt field fails; a field Grafana knows and this dashboard starts to
// use is added here first. Panel options and field config differ per panel
// type and are left to Grafana.
type dashboard struct {
	UID           string                    `json:"uid"`
	Title         string                    `json:"title"`
	Description   string                    `json:"description"`
	Tags          []string                  `json:"tags"`
	Timezone      string                    `json:"timezone"`
	Editable      bool                      `json:"editable"`
	GraphTooltip  int                       `json:"graphTooltip"`
	Refresh       string                    `json:"refresh"`
	SchemaVersion int                       `json:"schemaVersion"`
	Version       int                       `json:"version"`
	Time          struct{ From, To string } `json:"time"`
	Templating    struct {
		List []templateVariable `json:"list"`
	} `json:"templating"`
	Annotations struct {
		List []json.RawMessage `json:"list"`
	} `json:"annotations"`
	Links  []json.RawMessage `json:"links"`
	Panels []dashPanel       `json:"panels"`
}

type templateVariable struct {
	Name       string          `json:"name"`
	Label      string          `json:"label"`
	Type       string          `json:"type"`
	Query      string          `json:"query"`
	Current    json.RawMessage `json:"current"`
	Hide       int             `json:"hide"`
	Refresh    int             `json:"refresh"`
	Regex      string          `json:"regex"`
	IncludeAll bool            `json:"includeAll"`
	Multi      bool            `json:"multi"`
	Options    []any           `json:"options"`
}

type dashPanel struct {
	ID          int                      `json:"id"`
	Type        string                   `json:"type"`
	Title       string                   `json:"title"`
	Description string                   `json:"description"`
	Collapsed   bool                     `json:"collapsed"`
	Datasource  *dashDatasource          `json:"datasource"`
	GridPos     struct{ H, W, X, Y int } `json:"gridPos"`
	FieldConfig json.RawMessage          `json:"fieldConfig"`
	Options     json.RawMessage          `json:"options"`
	Targets     []panelTarget            `json:"targets"`
	Panels      []dashPanel              `json:"panels"` // of a collapsed row
}

type dashDatasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type panelTarget struct {
	RefID        string          `json:"refId"`
	Datasource   *dashDatasource `json:"datasource"`
	Expr         string          `json:"expr"`
	LegendFormat string          `json:"legendFormat"`
}

// dashboardDatasource is what every panel and target names: the DS_PROMETHEUS
// variable of the dashboard, so that it works with whatever the Prometheus
// data source of a Grafana is called.
var dashboardDatasource = dashDatasource{Type: "prometheus", UID: "${DS_PROMETHEUS}"}

func dashboardConfigMap(t *testing.T) *corev1.ConfigMap {
	t.Helper()
	objs, err := manifest.DecodeAll("grafana-dashboard.yaml", readK8s(t, "grafana-dashboard.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 {
		t.Fatalf("grafana-dashboard.yaml holds %d objects, want one ConfigMap", len(objs))
	}
	cm, ok := objs[0].Value.(*corev1.ConfigMap)
	if !ok {
		t.Fatalf("grafana-dashboard.yaml holds a %s, want a ConfigMap", objs[0].GVK.Kind)
	}
	return cm
}

// decodeDashboard reads the one dashboard JSON of the ConfigMap strictly.
func decodeDashboard(t *testing.T, cm *corev1.ConfigMap) dashboard {
	t.Helper()
	if len(cm.Data) != 1 {
		t.Fatalf("ConfigMap %s holds %d keys, want one dashboard JSON", cm.Name, len(cm.Data))
	}
	var d dashboard
	for key, text := range cm.Data {
		if !strings.HasSuffix(key, ".json") {
			t.Errorf("data key %q: the Grafana sidecar writes it as a file, name it *.json", key)
		}
		dec := json.NewDecoder(strings.NewReader(text))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&d); err != nil {
			t.Fatalf("dashboard %s is not the dashboard JSON this test knows: %v", key, err)
		}
		if dec.More() {
			t.Fatalf("dashboard %s holds more than one JSON value", key)
		}
	}
	return d
}

// allPanels returns the panels with those inside collapsed rows.
func allPanels(ps []dashPanel) []dashPanel {
	var out []dashPanel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

// grafanaToPromQL replaces the Grafana variables of expr, and fails on any
// other: Prometheus would refuse the query.
func grafanaToPromQL(expr string) (string, error) {
	for _, v := range grafanaVariables {
		expr = strings.ReplaceAll(expr, v.name, v.value)
	}
	if i := strings.Index(expr, "$"); i >= 0 {
		return "", fmt.Errorf("uses Grafana variable %q, which the test does not know", expr[i:min(i+20, len(expr))])
	}
	return expr, nil
}

// monitoringQueries returns every expression of the alerts and of the
// dashboard's targets.
func monitoringQueries(t *testing.T) []promQuery {
	t.Helper()
	var qs []promQuery
	for _, g := range prometheusRule(t).Spec.Groups {
		for _, r := range g.Rules {
			name := "alert " + r.Alert
			if r.Alert == "" {
				name = "record " + r.Record
			}
			qs = append(qs, promQuery{where: name, expr: r.Expr.String()})
		}
	}
	for _, p := range allPanels(decodeDashboard(t, dashboardConfigMap(t)).Panels) {
		for _, tg := range p.Targets {
			where := fmt.Sprintf("dashboard panel %q target %s", p.Title, tg.RefID)
			expr, err := grafanaToPromQL(tg.Expr)
			if err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			qs = append(qs, promQuery{where: where, expr: expr})
		}
	}
	return qs
}

// vectorSelectors returns the vector selectors of e.
func vectorSelectors(e parser.Node) []*parser.VectorSelector {
	var out []*parser.VectorSelector
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			out = append(out, vs)
		}
		return nil
	})
	return out
}

// labelMatcher returns the matcher of vs on label, or nil.
func labelMatcher(vs *parser.VectorSelector, label string) *labels.Matcher {
	for _, m := range vs.LabelMatchers {
		if m.Name == label {
			return m
		}
	}
	return nil
}

// jobsOf returns the services a selector's job matcher selects.
func jobsOf(vs *parser.VectorSelector) []string {
	m := labelMatcher(vs, "job")
	if m == nil {
		return nil
	}
	var out []string
	for _, s := range monitoredServices {
		if m.Matches(s) {
			out = append(out, s)
		}
	}
	return out
}

// TestMonitoringQueriesAreScopedPromQL checks, without a running shop, that
// every alert and dashboard expression is PromQL Prometheus accepts, and that
// each series it selects is one of ours: namespace="travluk" and a job that
// names only our services. Without that, a "product" job of another namespace
// would feed our alerts.
func TestMonitoringQueriesAreScopedPromQL(t *testing.T) {
	qs := monitoringQueries(t)
	if len(qs) == 0 {
		t.Fatal("no alert or dashboard expression found")
	}
	for _, q := range qs {
		expr, err := q.parse()
		if err != nil {
			t.Errorf("%s: %q is not PromQL: %v", q.where, q.expr, err)
			continue
		}
		for _, vs := range vectorSelectors(expr) {
			if m := labelMatcher(vs, "namespace"); m == nil || m.Type != labels.MatchEqual || m.Value != ingressyaml.Namespace {
				t.Errorf("%s: %s does not select namespace=%q", q.where, vs, ingressyaml.Namespace)
			}
			m := labelMatcher(vs, "job")
			if m == nil || m.Type == labels.MatchNotEqual || m.Type == labels.MatchNotRegexp {
				t.Errorf("%s: %s does not name its services with job= or job=~", q.where, vs)
				continue
			}
			if len(jobsOf(vs)) == 0 {
				t.Errorf("%s: %s selects none of the services %v", q.where, vs, monitoredServices)
			}
		}
	}
}

func TestPrometheusRuleAlertsAreComplete(t *testing.T) {
	rule := prometheusRule(t)
	byName := make(map[string]monitoringv1.Rule)
	for _, g := range rule.Spec.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			if _, dup := byName[r.Alert]; dup {
				t.Errorf("alert %s is defined twice", r.Alert)
			}
			byName[r.Alert] = r
			if s := r.Labels["severity"]; s != "warning" && s != "critical" {
				t.Errorf("alert %s: severity label %q, want warning or critical (what Alertmanager routes on)", r.Alert, s)
			}
			for _, a := range []string{"summary", "description", "runbook"} {
				if strings.TrimSpace(r.Annotations[a]) == "" {
					t.Errorf("alert %s has no %s annotation", r.Alert, a)
				}
			}
			// A for of at least a minute keeps one bad scrape from paging.
			if r.For == nil {
				t.Errorf("alert %s has no for:", r.Alert)
			} else if d, err := model.ParseDuration(string(*r.For)); err != nil || time.Duration(d) < time.Minute {
				t.Errorf("alert %s: for: %s, want at least 1m (%v)", r.Alert, *r.For, err)
			}
		}
	}
	for _, want := range requiredAlerts {
		t.Run(want.what, func(t *testing.T) {
			r, ok := byName[want.alert]
			if !ok {
				t.Fatalf("no alert %s", want.alert)
			}
			expr, err := promQuery{expr: r.Expr.String()}.parse()
			if err != nil {
				t.Fatalf("alert %s: %v", want.alert, err)
			}
			if !slices.ContainsFunc(vectorSelectors(expr), func(vs *parser.VectorSelector) bool { return vs.Name == want.metric }) {
				t.Errorf("alert %s does not select %s", want.alert, want.metric)
			}
		})
	}
}

// prometheusTemplateFuncs are the functions Prometheus offers alert templates
// (prometheus/template: humanize and friends, queries, label helpers); an
// annotation calling another one makes Prometheus refuse the whole rule file.
var prometheusTemplateFuncs = []string{
	"args", "externalURL", "first", "graphLink", "humanize", "humanize1024", "humanizeDuration",
	"humanizePercentage", "humanizeTimestamp", "label", "match", "parseDuration", "pathPrefix",
	"query", "reReplaceAll", "safeHtml", "sortByLabel", "stripDomain", "stripPort", "strvalue",
	"tableLink", "title", "toDuration", "toLower", "toTime", "toUpper", "urlQueryEscape", "value",
}

// TestPrometheusRuleTemplatesParse parses every alert label and annotation
// as Prometheus does at rule load: a Go template after Prometheus's own
// definitions of $labels, $externalLabels and $value.
func TestPrometheusRuleTemplatesParse(t *testing.T) {
	const prelude = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}"
	funcs := make(template.FuncMap)
	for _, f := range prometheusTemplateFuncs {
		funcs[f] = func(...any) any { return nil }
	}
	for _, g := range prometheusRule(t).Spec.Groups {
		for _, r := range g.Rules {
			for what, text := range r.Annotations {
				if _, err := template.New(what).Funcs(funcs).Parse(prelude + text); err != nil {
					t.Errorf("alert %s: annotation %s is not a template Prometheus loads: %v", r.Alert, what, err)
				}
			}
			for what, text := range r.Labels {
				if _, err := template.New(what).Funcs(funcs).Parse(prelude + text); err != nil {
					t.Errorf("alert %s: label %s is not a template Prometheus loads: %v", r.Alert, what, err)
				}
			}
		}
	}
}

func TestGrafanaDashboardConfigMap(t *testing.T) {
	cm := dashboardConfigMap(t)
	// The label kube-prometheus-stack's Grafana sidecar looks for by default.
	if v, ok := cm.Labels["grafana_dashboard"]; !ok || v != "1" {
		t.Errorf("ConfigMap %s has labels %v, want grafana_dashboard: \"1\" for the Grafana sidecar", cm.Name, cm.Labels)
	}
	d := decodeDashboard(t, cm)
	if d.UID == "" || d.Title == "" || d.SchemaVersion == 0 {
		t.Errorf("dashboard uid %q, title %q, schemaVersion %d: Grafana needs all three", d.UID, d.Title, d.SchemaVersion)
	}
	if !slices.ContainsFunc(d.Templating.List, func(v templateVariable) bool {
		return v.Name == "DS_PROMETHEUS" && v.Type == "datasource" && v.Query == "prometheus"
	}) {
		t.Error(`no dashDatasource variable DS_PROMETHEUS of type prometheus: the panels' "${DS_PROMETHEUS}" would name no data source`)
	}

	ids := make(map[int]string)
	for _, p := range allPanels(d.Panels) {
		if p.Title == "" {
			t.Errorf("panel %d has no title", p.ID)
		}
		if other, dup := ids[p.ID]; dup {
			t.Errorf("panels %q and %q share id %d", other, p.Title, p.ID)
		}
		ids[p.ID] = p.Title
		if p.GridPos.W < 1 || p.GridPos.X < 0 || p.GridPos.X+p.GridPos.W > 24 || p.GridPos.H < 1 {
			t.Errorf("panel %q: gridPos %+v does not fit Grafana's 24 columns", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no target", p.Title)
		}
		if p.Datasource == nil || *p.Datasource != dashboardDatasource {
			t.Errorf("panel %q: dashDatasource %v, want %v", p.Title, p.Datasource, dashboardDatasource)
		}
		refs := make(map[string]bool)
		for _, tg := range p.Targets {
			if strings.TrimSpace(tg.Expr) == "" || tg.RefID == "" || refs[tg.RefID] {
				t.Errorf("panel %q: target %q has no expression, or a missing or repeated refId", p.Title, tg.RefID)
			}
			refs[tg.RefID] = true
			if tg.Datasource == nil || *tg.Datasource != dashboardDatasource {
				t.Errorf("panel %q target %s: datasource %v, want %v", p.Title, tg.RefID, tg.Datasource, dashboardDatasource)
			}
		}
	}
}

// redSet is what the dashboard shows of one service.
type redSet struct {
	rate, errors bool
	quantiles    map[float64]bool
}

// TestGrafanaDashboardHasREDPerServiceAndOrderFlow checks that each service
// has its rate, errors and p50/p99 duration on the dashboard, and that the
// order flow's metrics are all shown.
func TestGrafanaDashboardHasREDPerServiceAndOrderFlow(t *testing.T) {
	d := decodeDashboard(t, dashboardConfigMap(t))
	red := make(map[string]*redSet)
	for _, s := range monitoredServices {
		red[s] = &redSet{quantiles: make(map[float64]bool)}
	}
	shown := make(map[string]bool)
	deadLetters := false
	for _, p := range allPanels(d.Panels) {
		for _, tg := range p.Targets {
			text, err := grafanaToPromQL(tg.Expr)
			if err != nil {
				continue // TestMonitoringQueriesAreScopedPromQL says so
			}
			expr, err := promQuery{expr: text}.parse()
			if err != nil {
				continue
			}
			vss := vectorSelectors(expr)
			for _, vs := range vss {
				shown[vs.Name] = true
				if m := labelMatcher(vs, "outcome"); vs.Name == "messages_consumed_total" && m != nil && m.Matches("dead_letter") {
					deadLetters = true
				}
				for _, s := range jobsOf(vs) {
					if vs.Name == "http_requests_total" {
						if m := labelMatcher(vs, "code"); m != nil && m.Matches("500") && !m.Matches("200") {
							red[s].errors = true
						}
					}
				}
			}
			// Rate: every selector is the service's requests, whatever code.
			if len(vss) > 0 && !slices.ContainsFunc(vss, func(vs *parser.VectorSelector) bool {
				return vs.Name != "http_requests_total" || labelMatcher(vs, "code") != nil || len(jobsOf(vs)) != 1
			}) {
				red[jobsOf(vss[0])[0]].rate = true
			}
			parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
				shopCall, ok := n.(*parser.Call)
				if !ok || shopCall.Func.Name != "histogram_quantile" {
					return nil
				}
				phi, ok := shopCall.Args[0].(*parser.NumberLiteral)
				if !ok {
					return nil
				}
				for _, vs := range vectorSelectors(shopCall.Args[1]) {
					if vs.Name == "http_request_duration_seconds_bucket" {
						for _, s := range jobsOf(vs) {
							red[s].quantiles[phi.Val] = true
						}
					}
				}
				return nil
			})
		}
	}
	for _, s := range monitoredServices {
		got := red[s]
		if !got.rate || !got.errors || !got.quantiles[0.5] || !got.quantiles[0.99] {
			t.Errorf("service %s: request rate shown %v, 5xx errors %v, duration p50 %v and p99 %v; want all four (RED)",
				s, got.rate, got.errors, got.quantiles[0.5], got.quantiles[0.99])
		}
	}
	for _, want := range orderFlowPanels {
		if !shown[want.metric] {
			t.Errorf("order flow: no panel shows %s (%s)", want.metric, want.what)
		}
	}
	if !deadLetters {
		t.Error(`order flow: no panel shows dead letters (messages_consumed_total{outcome="dead_letter"})`)
	}
}

// TestServiceMonitorsKeepServiceNameAsJob holds the assumption every alert
// and panel makes: job is the Service's name (customer, product, order). The
// Prometheus Operator does that unless a ServiceMonitor sets jobLabel to a
// label with another value, or relabels job.
func TestServiceMonitorsKeepServiceNameAsJob(t *testing.T) {
	var monitors []*monitoringv1.ServiceMonitor
	for _, name := range k8sManifests(t) {
		objs, err := manifest.DecodeAll(name, readK8s(t, name))
		if err != nil {
			continue // TestK8sManifestsDecodeStrictly says so
		}
		for _, o := range objs {
			if sm, ok := o.Value.(*monitoringv1.ServiceMonitor); ok {
				monitors = append(monitors, sm)
			}
		}
	}
	if len(monitors) == 0 {
		t.Fatal("k8s/ holds no ServiceMonitor: nothing would scrape the services the alerts watch")
	}
	for _, sm := range monitors {
		// The charts' Services carry app.kubernetes.io/name = the chart's
		// name, which is also the Service's name.
		if j := sm.Spec.JobLabel; j != "" && j != "app.kubernetes.io/name" {
			t.Errorf("ServiceMonitor %s: jobLabel %q would make job something else than the Service name the alerts use", sm.Name, j)
		}
		for _, ep := range sm.Spec.Endpoints {
			for _, rc := range slices.Concat(ep.RelabelConfigs, ep.MetricRelabelConfigs) {
				if rc.TargetLabel == "job" || rc.TargetLabel == "namespace" {
					t.Errorf("ServiceMonitor %s relabels %s, which the alerts select on", sm.Name, rc.TargetLabel)
				}
			}
		}
	}
}

// scrapedFamilies is what one service exported: its metric families by name.
type scrapedFamilies map[string]*dto.MetricFamily

// family returns the family a selector's metric name belongs to: the name
// itself, or the histogram whose _bucket, _sum or _count series it is.
func (s scrapedFamilies) family(name string) (*dto.MetricFamily, bool) {
	if f, ok := s[name]; ok {
		return f, true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suffix)
		if f, found := s[base]; ok && found && f.GetType() == dto.MetricType_HISTOGRAM {
			return f, true
		}
	}
	return nil, false
}

// labelValues returns the values of label on the series of f, and whether
// any series carries it. A histogram's _bucket series carry "le" too.
func labelValues(f *dto.MetricFamily, label, selected string) ([]string, bool) {
	if label == "le" && f.GetType() == dto.MetricType_HISTOGRAM && strings.HasSuffix(selected, "_bucket") {
		return []string{"+Inf"}, true
	}
	var values []string
	has := false
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == label {
				has = true
				values = append(values, l.GetValue())
			}
		}
	}
	return values, has
}

// TestMonitoringQueriesNameExportedMetrics runs the shop, drives a customer
// through a buy so that every labelled metric shows, scrapes each service,
// and checks every alert and dashboard expression against what was scraped:
// each metric it selects is exported by every service its job matcher names,
// each label it matches on or groups by is one the metric carries (or one
// Prometheus adds), and each value it matches is one the code emits.
func TestMonitoringQueriesNameExportedMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole shop")
	}
	queries := monitoringQueries(t)
	amqpURL := testenv.AMQP(t)
	exported := runShopAndScrape(t, amqpURL)

	for _, q := range queries {
		expr, err := q.parse()
		if err != nil {
			continue // TestMonitoringQueriesAreScopedPromQL says so
		}
		for _, vs := range vectorSelectors(expr) {
			checkSelector(t, q.where, vs, exported)
		}
		checkGrouping(t, q.where, expr, exported)
	}
}

func checkSelector(t *testing.T, where string, vs *parser.VectorSelector, exported map[string]scrapedFamilies) {
	t.Helper()
	if vs.Name == "" {
		t.Errorf("%s: %s names no metric", where, vs)
		return
	}
	var families []*dto.MetricFamily
	for _, job := range jobsOf(vs) {
		f, ok := exported[job].family(vs.Name)
		if !ok {
			t.Errorf("%s: %s: the %s service exports no %s", where, vs, job, vs.Name)
			continue
		}
		families = append(families, f)
	}
	if len(families) == 0 {
		return
	}
	for _, m := range vs.LabelMatchers {
		if m.Name == model.MetricNameLabel || slices.Contains(targetLabels, m.Name) {
			continue
		}
		var values []string
		has := false
		for _, f := range families {
			v, ok := labelValues(f, m.Name, vs.Name)
			values = append(values, v...)
			has = has || ok
		}
		if !has {
			t.Errorf("%s: %s: %s has no label %q", where, vs, vs.Name, m.Name)
			continue
		}
		if m.Type == labels.MatchNotEqual || m.Type == labels.MatchNotRegexp {
			continue
		}
		for _, e := range emittedUnprovoked {
			if e.metric == vs.Name && e.label == m.Name {
				values = append(values, e.value)
			}
		}
		if !slices.ContainsFunc(values, m.Matches) {
			slices.Sort(values)
			t.Errorf("%s: %s: matcher %s matches none of the values the services emit: %q", where, vs, m, slices.Compact(values))
		}
	}
}

// checkGrouping checks that each label an aggregation groups by, or a binary
// operation matches on, is carried by a metric selected beneath it.
func checkGrouping(t *testing.T, where string, expr parser.Expr, exported map[string]scrapedFamilies) {
	t.Helper()
	carried := func(n parser.Node) map[string]bool {
		out := make(map[string]bool)
		for _, l := range targetLabels {
			out[l] = true
		}
		for _, vs := range vectorSelectors(n) {
			for _, job := range jobsOf(vs) {
				f, ok := exported[job].family(vs.Name)
				if !ok {
					continue
				}
				for _, m := range f.GetMetric() {
					for _, l := range m.GetLabel() {
						out[l.GetName()] = true
					}
				}
				if strings.HasSuffix(vs.Name, "_bucket") {
					out["le"] = true
				}
			}
		}
		return out
	}
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		var names []string
		switch n := n.(type) {
		case *parser.AggregateExpr:
			names = n.Grouping
		case *parser.BinaryExpr:
			if n.VectorMatching != nil && n.VectorMatching.On {
				names = n.VectorMatching.MatchingLabels
			}
		}
		if len(names) == 0 {
			return nil
		}
		have := carried(n)
		for _, l := range names {
			if !have[l] {
				t.Errorf("%s: groups or matches by %q, which no metric in %s carries", where, l, n)
			}
		}
		return nil
	})
}

// runShopAndScrape starts the whole shop in-process (dev/stack, as `make run`
// but on RabbitMQ at amqpURL, so that each service exports its messaging
// metrics as in a cluster), drives a customer through the order flow, and
// returns each service's /metrics.
func runShopAndScrape(t *testing.T, amqpURL string) map[string]scrapedFamilies {
	t.Helper()
	const adminEmail, adminPassword = "admin@monitoring.example", "admin-password-1"
	// Before the shop starts, so that its cleanup, which deletes the shop's
	// exchanges and queues, runs after the shop has stopped.
	exchange, queuePrefix := shoptest.AMQPNamespace(t, amqpURL, "monitoringtest")
	env := map[string]string{
		"DATA_DIR":       t.TempDir(),
		"INGRESS_ADDR":   testenv.FreeAddr(t),
		"CUSTOMER_ADDR":  testenv.FreeAddr(t),
		"PRODUCT_ADDR":   testenv.FreeAddr(t),
		"ORDER_ADDR":     testenv.FreeAddr(t),
		"ADMIN_EMAIL":    adminEmail,
		"ADMIN_PASSWORD": adminPassword,
		// Embedded MongoDB and Redis, whatever the machine exports: the
		// shop's fixed database names must not meet another test's.
		"MONGODB_URI":       "",
		"REDIS_URL":         "",
		"AMQP_URL":          amqpURL,
		"AMQP_EXCHANGE":     exchange,
		"AMQP_QUEUE_PREFIX": queuePrefix,
		"LOG_LEVEL":         "warn",
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	logs := &testenv.LogBuffer{}
	go func() { done <- stack.Run(ctx, func(k string) string { return env[k] }, logs, nil) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("stack.Run: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("stack.Run did not return within 20 s of cancel")
		}
		if t.Failed() {
			t.Logf("shop log:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for _, name := range []string{"CUSTOMER_ADDR", "PRODUCT_ADDR", "ORDER_ADDR"} {
		testenv.WaitOK(t, "http://"+env[name]+"/readyz", deadline, done, nil) // the cleanup prints the log
	}

	api := "http://" + env["INGRESS_ADDR"]
	email := "shopper-" + randomName(4) + "@monitoring.example"
	shoptest.Call(t, "POST", api+"/api/customers/register", "", `{"name":"Shopper","email":"`+email+`","password":"correct horse"}`, http.StatusCreated)
	token := shoptest.Login(t, api, email, "correct horse")
	admin := shoptest.Login(t, api, adminEmail, adminPassword)
	shoptest.Call(t, "GET", api+"/api/customers/me", token, "", http.StatusOK)
	shoptest.Call(t, "GET", api+"/api/customers/me", "", "", http.StatusUnauthorized)

	var product struct{ ID string }
	shoptest.Decode(t, shoptest.Call(t, "POST", api+"/api/products", admin, `{"name":"Lamp","description":"A lamp.","price":19.99,"stock":1}`, http.StatusCreated), &product)
	shoptest.Call(t, "GET", api+"/api/products/"+product.ID, "", "", http.StatusOK) // cache miss
	shoptest.Call(t, "GET", api+"/api/products/"+product.ID, "", "", http.StatusOK) // cache hit
	buy := `{"items":[{"productId":"` + product.ID + `","quantity":1}]}`
	var order struct{ ID string }
	shoptest.Decode(t, shoptest.Call(t, "POST", api+"/api/products/buy", token, buy, http.StatusCreated), &order)
	shoptest.Call(t, "POST", api+"/api/products/buy", token, buy, http.StatusConflict) // out of stock
	shoptest.Call(t, "GET", api+"/api/orders/"+order.ID, token, "", http.StatusOK)
	shoptest.Call(t, "GET", api+"/api/orders/no-such-order", token, "", http.StatusNotFound)

	exported := make(map[string]scrapedFamilies)
	for _, s := range monitoredServices {
		exported[s] = scrapeMetrics(t, "http://"+env[strings.ToUpper(s)+"_ADDR"]+"/metrics")
	}
	return exported
}

func scrapeMetrics(t *testing.T, url string) scrapedFamilies {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: %d %v", url, resp.StatusCode, err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("scrape %s: not the Prometheus text format: %v", url, err)
	}
	return families
}

func randomName(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}
