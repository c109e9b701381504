package deploy_test

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"

	"github.com/travluk/ecom/deploy/ingressyaml"
	"github.com/travluk/ecom/deploy/manifest"
	"github.com/travluk/ecom/dev/ingress"
	"github.com/travluk/ecom/services/platform/httpserver"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"helm.sh/helm/v3/pkg/chartutil"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	vpav1 "k8s.io/autoscaler/vertical-pod-autoscaler/pkg/apis/autoscaling.k8s.io/v1"
	"sigs.k8s.io/yaml"
)

// chart is one service's Helm chart and what its rendering is held to.
// Adding a service's chart to the checks is adding one row to charts.
type chart struct {
	// name is the chart's, the release's, the Service's and the container's
	// name: the ingress and the other services reach the service by it.
	name string
	// sources are the Go modules whose environment reads the chart's
	// variables are checked against: the service first, then what it builds on.
	sources []string
	// ciValues switches every optional branch of the templates the other way.
	ciValues string
	// kinds are what the chart must render with every value set, besides a
	// ServiceAccount, which it renders unless told to use an existing one.
	// The Pod is the `helm test` hook.
	kinds []string
	// required are the variables the service needs in a cluster besides those
	// its configuration reads with Required.
	required []string
	// secretVars must only ever come from a Secret, never a literal or a ConfigMap.
	secretVars []string
	// forbidden are variables the chart must not set, and why.
	forbidden map[string]string
	// checks are what only this chart needs: how it scales, what it mounts.
	checks []chartCheck
	// badValues are values only this chart's schema must refuse, besides commonBadValues.
	badValues []badValue
}

type chartCheck struct {
	name  string
	check func(*testing.T, rendered)
}

type badValue struct {
	name    string
	values  string // YAML layered over the chart's values.yaml
	wantErr string // the schema's error must name this
}

var charts = []chart{
	{
		name:     "customer",
		sources:  []string{"../services/customer", "../services/platform"},
		ciValues: "testdata/customer-ci-values.yaml",
		kinds:    []string{"ConfigMap", "Deployment", "Pod", "PodDisruptionBudget", "Service", "VerticalPodAutoscaler"},
		// JWT_SIGNING_KEY_FILE is how a cluster gives every replica the same
		// signing key instead of one generated per pod.
		required:   []string{"MONGODB_URI", "REDIS_URL", "JWT_SIGNING_KEY_FILE"},
		secretVars: []string{"MONGODB_URI", "REDIS_URL", "ADMIN_EMAIL", "ADMIN_PASSWORD", "JWT_SIGNING_KEY"},
		forbidden: map[string]string{
			"DATA_DIR":        "in a cluster the signing key comes from a Secret and nothing is kept on the pod's disk",
			"JWT_SIGNING_KEY": "the key is mounted as a file (JWT_SIGNING_KEY_FILE)",
		},
		checks: []chartCheck{
			{"signing key mounted as a file", checkSigningKeyMounted},
			{"vertical scaling", checkVerticalScaling},
		},
		badValues: []badValue{
			{"misspelt JWT setting", "config:\n  jwtIsuer: shop", "jwtIsuer"},
			{"misspelt VPA bound", "vpa:\n  maxAllowed:\n    memroy: 1Gi", "memroy"},
			{"unknown VPA mode", "vpa:\n  updateMode: Sometimes", "updateMode"},
			{"deprecated VPA mode Auto", "vpa:\n  updateMode: Auto", "updateMode"},
			{"TTL that is no Go duration", "config:\n  accessTokenTTL: 15 minutes", "accessTokenTTL"},
			{"secret name with capitals", "signingKey:\n  existingSecret: JWT", "existingSecret"},
			{"an HPA setting on the VPA chart", "autoscaling:\n  targetRequestsPerSecond: 50", "autoscaling"},
		},
	},
	{
		name:     "product",
		sources:  []string{"../services/product", "../services/platform"},
		ciValues: "testdata/product-ci-values.yaml",
		kinds:    []string{"ConfigMap", "Deployment", "HorizontalPodAutoscaler", "Pod", "PodDisruptionBudget", "Service"},
		// AMQP_URL is optional to the service (without it, an in-process
		// broker for `make run`), but in a cluster the buy's events must reach
		// the order service's pods.
		required:   []string{"MONGODB_URI", "REDIS_URL", "JWKS_URL", "AMQP_URL"},
		secretVars: []string{"MONGODB_URI", "REDIS_URL", "AMQP_URL"},
		checks: []chartCheck{
			{"horizontal scaling", checkHorizontalScaling},
		},
		badValues: []badValue{
			{"misspelt JWKS setting", "config:\n  jwksURL: http://customer:8080/.well-known/jwks.json", "jwksURL"},
			{"JWKS_URL without a scheme", "config:\n  jwksUrl: customer:8080/.well-known/jwks.json", "jwksUrl"},
			{"cache TTL that is no Go duration", "config:\n  productCacheTTL: 5 minutes", "productCacheTTL"},
			{"buy wait that is no Go duration", "config:\n  buyConfirmWait: 5", "buyConfirmWait"},
			{"purchase timeout that is no Go duration", "config:\n  purchaseTimeout: half a minute", "purchaseTimeout"},
			{"no AMQP_URL key", "secrets:\n  amqpUrlKey: null", "amqpUrlKey"},
			{"misspelt HPA setting", "autoscaling:\n  maxReplica: 5", "maxReplica"},
			{"misspelt HPA behavior", "autoscaling:\n  behaviour: {}", "behaviour"},
			{"a single replica", "autoscaling:\n  minReplicas: 1", "minReplicas"},
			{"CPU target of 0%", "autoscaling:\n  targetCPUUtilizationPercentage: 0", "targetCPUUtilizationPercentage"},
			{"misspelt requests-per-second target", "autoscaling:\n  targetRequestPerSecond: 50", "targetRequestPerSecond"},
			{"negative requests-per-second target", "autoscaling:\n  targetRequestsPerSecond: -5", "targetRequestsPerSecond"},
			{"requests-per-second target as a word", "autoscaling:\n  targetRequestsPerSecond: fifty", "targetRequestsPerSecond"},
			{"no CPU request for the HPA to measure against", "resources:\n  requests:\n    cpu: null", "cpu"},
			{"both PDB bounds", "pdb:\n  minAvailable: 1", "maxUnavailable"},
			{"no PDB bound", "pdb:\n  maxUnavailable: null", "maxUnavailable"},
		},
	},
	{
		name:     "order",
		sources:  []string{"../services/order", "../services/platform"},
		ciValues: "testdata/order-ci-values.yaml",
		kinds:    []string{"ConfigMap", "Deployment", "HorizontalPodAutoscaler", "Pod", "PodDisruptionBudget", "Service"},
		// AMQP_URL as for product: every order pod consumes the product
		// service's events from the one broker.
		required:   []string{"MONGODB_URI", "REDIS_URL", "JWKS_URL", "AMQP_URL"},
		secretVars: []string{"MONGODB_URI", "REDIS_URL", "AMQP_URL"},
		checks: []chartCheck{
			{"horizontal scaling", checkHorizontalScaling},
		},
		badValues: []badValue{
			{"misspelt JWKS setting", "config:\n  jwksURL: http://customer:8080/.well-known/jwks.json", "jwksURL"},
			{"JWKS_URL without a scheme", "config:\n  jwksUrl: customer:8080/.well-known/jwks.json", "jwksUrl"},
			{"a product setting", "config:\n  productCacheTTL: 10m", "productCacheTTL"},
			{"no AMQP_URL key", "secrets:\n  amqpUrlKey: null", "amqpUrlKey"},
			{"misspelt HPA setting", "autoscaling:\n  maxReplica: 5", "maxReplica"},
			{"misspelt requests-per-second target", "autoscaling:\n  targetRequestPerSecond: 50", "targetRequestPerSecond"},
			{"a single replica", "autoscaling:\n  minReplicas: 1", "minReplicas"},
			{"no CPU request for the HPA to measure against", "resources:\n  requests:\n    cpu: null", "cpu"},
			{"both PDB bounds", "pdb:\n  minAvailable: 1", "maxUnavailable"},
		},
	},
}

// commonBadValues are values every chart's schema must refuse.
var commonBadValues = []badValue{
	{"misspelt top-level key", "replicaCuont: 3", "replicaCuont"},
	{"misspelt config key", "config:\n  logLevle: debug", "logLevle"},
	{"log level out of range", "config:\n  logLevel: verbose", "logLevel"},
	{"misspelt probe field", "probes:\n  liveness:\n    periodSecond: 5", "periodSecond"},
	{"misspelt secret reference", "secrets:\n  existingSecrets: x", "existingSecrets"},
	{"port as a string", "port: \"8080\"", "port"},
	{"quantity that is no quantity", "resources:\n  requests:\n    memory: lots", "memory"},
	{"PDB bound that is no number or percentage", "pdb:\n  maxUnavailable: one", "maxUnavailable"},
	{"misspelt test image", "tests:\n  imagee:\n    repository: busybox", "imagee"},
	{"misspelt test image tag", "tests:\n  image:\n    tga: \"1.0\"", "tga"},
	{"test image tag latest", "tests:\n  image:\n    tag: latest", "tag"},
	{"test switch as a string", "tests:\n  enabled: \"yes\"", "enabled"},
	{"test pod without a memory limit", "tests:\n  resources:\n    limits:\n      memory: null", "memory"},
	{"misspelt test resources", "tests:\n  resource: {}", "resource"},
}

// valueCases are the value sets every check runs against: the chart's own
// values.yaml, and its CI values.
func (c chart) valueCases() []struct{ name, file string } {
	return []struct{ name, file string }{{"default values", ""}, {"ci values", c.ciValues}}
}

// e2eValues is the values file make e2e installs the chart with.
func (c chart) e2eValues() string { return "../e2e/values/" + c.name + ".yaml" }

func (c chart) dir() string { return "../charts/" + c.name }

// release is how the chart is installed: named after the service, in the
// ingress's namespace, so it is reachable as <name>:8080.
func (c chart) release() manifest.Release {
	return manifest.Release{Name: c.name, Namespace: ingressyaml.Namespace}
}

func (c chart) scales(kind string) bool { return slices.Contains(c.kinds, kind) }

// rendered is what a chart renders, by kind.
type rendered struct {
	chart          chart
	all            []manifest.Object
	deployment     *appsv1.Deployment
	container      *corev1.Container // the service's container in deployment
	service        *corev1.Service
	configMap      *corev1.ConfigMap
	serviceAccount *corev1.ServiceAccount // nil when the values use an existing one
	pdb            *policyv1.PodDisruptionBudget
	vpa            *vpav1.VerticalPodAutoscaler           // nil unless the chart scales vertically
	hpa            *autoscalingv2.HorizontalPodAutoscaler // nil unless the chart scales horizontally
	testPod        *corev1.Pod                            // the `helm test` hook; nil with tests.enabled false
}

// commonChecks hold for every service's chart.
var commonChecks = []chartCheck{
	{"container and service ports", checkPorts},
	{"probes hit the real endpoints", checkProbes},
	{"ingress reaches the service", checkIngressBackend},
	{"every variable is one the service reads", checkEnvNamesRead},
	{"required variables are set", checkRequiredEnv},
	{"secrets come from secrets", checkSecretsReferenced},
	{"restricted security context", checkSecurityContext},
	{"selectors and namespaces agree", checkSelectors},
	{"resources requested and bounded", checkResources},
	{"disruption budget keeps one pod and frees one", checkDisruptionBudget},
	{"recommended labels", checkLabels},
	{"helm test hook GETs /readyz through the Service", checkTestHook},
}

func TestCharts(t *testing.T) {
	for _, c := range charts {
		t.Run(c.name, func(t *testing.T) {
			for _, vc := range c.valueCases() {
				t.Run(vc.name, func(t *testing.T) {
					start := time.Now()
					objs := renderFile(t, c, vc.file)
					t.Logf("rendered and strictly decoded %d objects in %v", len(objs), time.Since(start).Round(time.Microsecond))
					r := collect(t, c, objs)
					for _, ch := range slices.Concat(commonChecks, c.checks) {
						t.Run(ch.name, func(t *testing.T) { ch.check(t, r) })
					}
				})
			}
		})
	}
}

func TestChartSchemasRejectBadValues(t *testing.T) {
	for _, c := range charts {
		t.Run(c.name, func(t *testing.T) {
			for _, tt := range slices.Concat(commonBadValues, c.badValues) {
				t.Run(tt.name, func(t *testing.T) {
					_, err := manifest.RenderChart(c.dir(), c.release(), readValues(t, tt.values))
					if err == nil {
						t.Fatalf("chart accepted values %q; values.schema.json should refuse them", tt.values)
					}
					if msg := err.Error(); !strings.Contains(msg, "schema") || !strings.Contains(msg, tt.wantErr) {
						t.Errorf("want values.schema.json to refuse %q, got:\n%v", tt.wantErr, err)
					}
				})
			}
		})
	}
}

// TestHorizontalScalingValues covers what the value sets of TestCharts leave
// out for a chart with an HPA: autoscaling switched off, and bounds that
// contradict each other.
func TestHorizontalScalingValues(t *testing.T) {
	for _, c := range charts {
		if !c.scales("HorizontalPodAutoscaler") {
			continue
		}
		t.Run(c.name+"/autoscaling off", func(t *testing.T) {
			objs := render(t, c, readValues(t, "replicaCount: 3\nautoscaling:\n  enabled: false"))
			for _, o := range objs {
				if o.GVK.Kind == "HorizontalPodAutoscaler" {
					t.Fatalf("%s: rendered an HPA with autoscaling.enabled false", o.Source)
				}
			}
			r := collectKinds(t, c, objs, slices.DeleteFunc(slices.Clone(c.kinds), func(k string) bool { return k == "HorizontalPodAutoscaler" }))
			if got := r.deployment.Spec.Replicas; got == nil || *got != 3 {
				t.Errorf("Deployment replicas = %v, want replicaCount 3 with autoscaling off", got)
			}
			checkDisruptionBudget(t, r)
		})
		t.Run(c.name+"/maxReplicas below minReplicas", func(t *testing.T) {
			_, err := manifest.RenderChart(c.dir(), c.release(), readValues(t, "autoscaling:\n  minReplicas: 4\n  maxReplicas: 3"))
			if err == nil || !strings.Contains(err.Error(), "maxReplicas") {
				t.Fatalf("render error = %v, want one naming maxReplicas", err)
			}
		})
	}
}

// TestChartsAgree checks what the charts must agree on with each other:
// every verifier expects the tokens the customer service issues (default
// values), and fetches the keys it publishes (every value set).
func TestChartsAgree(t *testing.T) {
	env := map[string]map[string]corev1.EnvVar{} // chart -> its container's variables
	services := map[string]*corev1.Service{}     // Service name -> Service
	for _, c := range charts {
		r := collect(t, c, renderFile(t, c, ""))
		env[c.name] = containerEnv(t, r)
		services[r.service.Name] = r.service
	}
	for _, name := range []string{"JWT_ISSUER", "JWT_AUDIENCE"} {
		t.Run(name, func(t *testing.T) {
			values := map[string][]string{}
			for _, c := range charts {
				if v, ok := env[c.name][name]; ok {
					values[v.Value] = append(values[v.Value], c.name)
				}
			}
			if len(values) > 1 {
				t.Errorf("charts disagree on %s (value: charts): %v", name, values)
			}
		})
	}
	t.Run("JWKS_URL", func(t *testing.T) {
		want := jwksURLs(t, services)
		n := 0
		for _, c := range charts {
			for _, vc := range c.valueCases() {
				got, ok := containerEnv(t, collect(t, c, renderFile(t, c, vc.file)))["JWKS_URL"]
				if !ok {
					continue
				}
				n++
				if !want[got.Value] {
					t.Errorf("%s, %s: JWKS_URL = %q, want one of %v", c.name, vc.name, got.Value, sortedKeys(want))
				}
			}
		}
		if n == 0 {
			t.Errorf("no chart sets JWKS_URL; the services that verify tokens need it")
		}
	})
}

// jwksURLs are the URLs that reach the published keys: the route table's
// exact route for the JWKS names a Service, reachable by its short or its
// cluster name, at its port, on the route's path.
func jwksURLs(t *testing.T, services map[string]*corev1.Service) map[string]bool {
	t.Helper()
	i := slices.IndexFunc(ingress.Routes(), func(r ingress.Route) bool { return r.Exact && strings.HasSuffix(r.Prefix, "/jwks.json") })
	if i < 0 {
		t.Fatalf("dev/ingress.Routes() has no exact route for a jwks.json")
	}
	route := ingress.Routes()[i]
	svc, ok := services[route.Service]
	if !ok {
		t.Fatalf("the JWKS route goes to Service %q, which no chart renders", route.Service)
	}
	urls := map[string]bool{}
	for _, host := range []string{svc.Name, svc.Name + "." + svc.Namespace, svc.Name + "." + svc.Namespace + ".svc", svc.Name + "." + svc.Namespace + ".svc.cluster.local"} {
		urls[fmt.Sprintf("http://%s:%d%s", host, svc.Spec.Ports[0].Port, route.Prefix)] = true
	}
	return urls
}

func TestChartsPassHelmLint(t *testing.T) {
	for _, c := range charts {
		t.Run(c.name, func(t *testing.T) { helmLint(t, c.dir()) })
	}
}

func BenchmarkRenderChart(b *testing.B) {
	for _, c := range charts {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				templates, err := manifest.RenderChart(c.dir(), c.release(), nil)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := manifest.DecodeTemplates(templates); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func readValues(t *testing.T, yaml string) map[string]any {
	t.Helper()
	values, err := chartutil.ReadValues([]byte(yaml))
	if err != nil {
		t.Fatalf("test values do not parse: %v", err)
	}
	return values
}

// renderFile renders c with the values in file, or with its own values.yaml
// alone when file is "".
func renderFile(t *testing.T, c chart, file string) []manifest.Object {
	t.Helper()
	values := map[string]any{}
	if file != "" {
		v, err := chartutil.ReadValuesFile(file)
		if err != nil {
			t.Fatalf("read %s: %v", file, err)
		}
		values = v
	}
	return render(t, c, values)
}

func render(t *testing.T, c chart, values map[string]any) []manifest.Object {
	t.Helper()
	templates, err := manifest.RenderChart(c.dir(), c.release(), values)
	if err != nil {
		t.Fatalf("render %s: %v", c.dir(), err)
	}
	refuseSecrets(t, templates)
	objs, err := manifest.DecodeTemplates(templates)
	if err != nil {
		t.Fatalf("the rendered chart does not decode strictly into the Kubernetes types:\n%v", err)
	}
	return objs
}

// refuseSecrets fails t for every Secret among templates: a chart holds no
// credential, it references the Secrets named by its existingSecret values.
// It runs before strict decoding, which knows no Secret and would not say why.
func refuseSecrets(t *testing.T, templates []manifest.Template) {
	t.Helper()
	for _, tmpl := range templates {
		for _, doc := range manifest.Split([]byte(tmpl.Content)) {
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal(doc, &tm); err != nil {
				continue // strict decoding reports it
			}
			if tm.Kind == "Secret" {
				t.Errorf("%s renders a Secret; credentials must come only from the existing Secrets the values name", tmpl.Name)
			}
		}
	}
}

func collect(t *testing.T, c chart, objs []manifest.Object) rendered {
	t.Helper()
	return collectKinds(t, c, objs, c.kinds)
}

// collectKinds sorts objs by kind and fails unless they are exactly kinds,
// one object each, and an optional ServiceAccount.
func collectKinds(t *testing.T, c chart, objs []manifest.Object, kinds []string) rendered {
	t.Helper()
	r := rendered{chart: c, all: objs}
	seen := map[string]string{}
	for _, o := range objs {
		if prev, dup := seen[o.GVK.Kind]; dup {
			t.Fatalf("chart renders two %s objects (%s and %s); the checks expect one", o.GVK.Kind, prev, o.Source)
		}
		seen[o.GVK.Kind] = o.Source
		if o.GVK.Kind != "ServiceAccount" && !slices.Contains(kinds, o.GVK.Kind) {
			t.Fatalf("%s: chart renders an unexpected %s (want %v)", o.Source, o.GVK.Kind, kinds)
		}
		switch v := o.Value.(type) {
		case *appsv1.Deployment:
			r.deployment = v
		case *corev1.Service:
			r.service = v
		case *corev1.ConfigMap:
			r.configMap = v
		case *corev1.ServiceAccount:
			r.serviceAccount = v
		case *policyv1.PodDisruptionBudget:
			r.pdb = v
		case *vpav1.VerticalPodAutoscaler:
			r.vpa = v
		case *autoscalingv2.HorizontalPodAutoscaler:
			r.hpa = v
		case *corev1.Pod:
			r.testPod = v
		default:
			t.Fatalf("%s: the checks know no %s", o.Source, o.GVK.Kind)
		}
	}
	for _, kind := range kinds {
		if _, ok := seen[kind]; !ok {
			t.Fatalf("chart renders no %s (rendered: %v)", kind, sortedKeys(seen))
		}
	}
	for _, kind := range []string{"Deployment", "Service", "ConfigMap"} {
		if !slices.Contains(kinds, kind) {
			t.Fatalf("chart row %s: every chart must render a %s", c.name, kind)
		}
	}
	containers := r.deployment.Spec.Template.Spec.Containers
	if len(containers) != 1 || containers[0].Name != c.name {
		t.Fatalf("Deployment has containers %v, want exactly one named %s", containerNames(containers), c.name)
	}
	r.container = &containers[0]
	return r
}

func containerNames(cs []corev1.Container) []string {
	var names []string
	for _, c := range cs {
		names = append(names, c.Name)
	}
	return names
}

// httpPort is the container port named http, the one the service listens on.
func httpPort(t *testing.T, r rendered) corev1.ContainerPort {
	t.Helper()
	for _, p := range r.container.Ports {
		if p.Name == "http" {
			return p
		}
	}
	t.Fatalf("container has no port named http (ports: %+v)", r.container.Ports)
	return corev1.ContainerPort{}
}

// resolvePort turns a port reference (a number or a container port name) into
// the container port number it points at, or 0 when it points at none.
func resolvePort(r rendered, p intstr.IntOrString) int32 {
	for _, cp := range r.container.Ports {
		if (p.Type == intstr.String && cp.Name == p.StrVal) || (p.Type == intstr.Int && cp.ContainerPort == p.IntVal) {
			return cp.ContainerPort
		}
	}
	return 0
}

func checkPorts(t *testing.T, r rendered) {
	http := httpPort(t, r)
	if http.Protocol != "" && http.Protocol != corev1.ProtocolTCP {
		t.Errorf("port http has protocol %s, want TCP", http.Protocol)
	}
	env := containerEnv(t, r)
	if want := fmt.Sprintf(":%d", http.ContainerPort); env["HTTP_ADDR"].Value != want {
		t.Errorf("HTTP_ADDR = %q, want %q to match container port http", env["HTTP_ADDR"].Value, want)
	}
	if r.service.Spec.Type != corev1.ServiceTypeClusterIP {
		t.Errorf("Service type = %s, want ClusterIP (only the ingress is exposed)", r.service.Spec.Type)
	}
	if len(r.service.Spec.Ports) != 1 || r.service.Spec.Ports[0].Name != "http" {
		t.Fatalf("Service ports = %+v, want exactly one named http", r.service.Spec.Ports)
	}
	sp := r.service.Spec.Ports[0]
	if got := resolvePort(r, sp.TargetPort); got != http.ContainerPort {
		t.Errorf("Service targetPort %s reaches container port %d, want port http (%d)", sp.TargetPort.String(), got, http.ContainerPort)
	}
	if sp.Port != ingress.ServicePort {
		t.Errorf("Service port = %d, want %d, the port the ingress and the other services use", sp.Port, ingress.ServicePort)
	}
}

func checkProbes(t *testing.T, r rendered) {
	http := httpPort(t, r)
	tests := []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{
		{"startupProbe", r.container.StartupProbe, "/healthz"},
		{"livenessProbe", r.container.LivenessProbe, "/healthz"},
		{"readinessProbe", r.container.ReadinessProbe, "/readyz"},
	}
	for _, tt := range tests {
		if tt.probe == nil || tt.probe.HTTPGet == nil {
			t.Errorf("%s: want an HTTP GET of %s, got %+v", tt.name, tt.path, tt.probe)
			continue
		}
		get := tt.probe.HTTPGet
		if get.Path != tt.path {
			t.Errorf("%s: path = %q, want %q", tt.name, get.Path, tt.path)
		}
		if got := resolvePort(r, get.Port); got != http.ContainerPort {
			t.Errorf("%s: port %s reaches container port %d, want port http (%d), the Service's target",
				tt.name, get.Port.String(), got, http.ContainerPort)
		}
		if get.Scheme != "" && get.Scheme != corev1.URISchemeHTTP {
			t.Errorf("%s: scheme = %s, want HTTP", tt.name, get.Scheme)
		}
	}
}

// checkIngressBackend proves the route table's routes to this service land on
// the chart's Service and port.
func checkIngressBackend(t *testing.T, r rendered) {
	n := 0
	for _, route := range ingress.Routes() {
		if route.Service != r.chart.name {
			continue
		}
		n++
		if r.service.Name != route.Service {
			t.Errorf("route %s goes to Service %q, but the chart's Service is %q", route.Prefix, route.Service, r.service.Name)
		}
		if !slices.ContainsFunc(r.service.Spec.Ports, func(p corev1.ServicePort) bool { return int(p.Port) == route.Port }) {
			t.Errorf("route %s goes to port %d, which the Service does not expose", route.Prefix, route.Port)
		}
	}
	if n == 0 {
		t.Errorf("dev/ingress.Routes() sends nothing to the %s service", r.chart.name)
	}
}

// containerEnv returns every variable the container gets: its env entries and
// the keys of the chart's ConfigMap it takes with envFrom.
func containerEnv(t *testing.T, r rendered) map[string]corev1.EnvVar {
	t.Helper()
	env := map[string]corev1.EnvVar{}
	for _, from := range r.container.EnvFrom {
		switch {
		case from.ConfigMapRef != nil && from.ConfigMapRef.Name == r.configMap.Name:
			for k, v := range r.configMap.Data {
				env[from.Prefix+k] = corev1.EnvVar{Name: from.Prefix + k, Value: v}
			}
		case from.ConfigMapRef != nil:
			t.Fatalf("envFrom names ConfigMap %q, which the chart does not render", from.ConfigMapRef.Name)
		default:
			t.Fatalf("envFrom %+v: take secrets variable by variable (secretKeyRef) so their names can be checked", from)
		}
	}
	for _, e := range r.container.Env {
		if _, dup := env[e.Name]; dup {
			t.Errorf("%s is set twice (env and the ConfigMap); keep one", e.Name)
		}
		env[e.Name] = e
	}
	return env
}

func checkEnvNamesRead(t *testing.T, r rendered) {
	reads := r.chart.envReads(t)
	for _, name := range sortedKeys(containerEnv(t, r)) {
		if _, ok := reads.all[name]; ok {
			continue
		}
		if _, ok := readByLibraries[name]; ok {
			continue
		}
		t.Errorf("chart sets %s, which %s never reads (it reads: %s)",
			name, strings.Join(r.chart.sources, " and "), strings.Join(sortedKeys(reads.all), ", "))
	}
}

func checkRequiredEnv(t *testing.T, r rendered) {
	env := containerEnv(t, r)
	required := slices.Clone(r.chart.required)
	for _, name := range sortedKeys(r.chart.envReads(t).required) {
		if !slices.Contains(required, name) {
			required = append(required, name)
		}
	}
	for _, name := range required {
		if e, ok := env[name]; !ok || (e.Value == "" && e.ValueFrom == nil) {
			t.Errorf("chart does not set %s, which the service requires", name)
		}
	}
	for _, name := range sortedKeys(r.chart.forbidden) {
		if _, ok := env[name]; ok {
			t.Errorf("chart sets %s: %s", name, r.chart.forbidden[name])
		}
	}
}

func checkSecretsReferenced(t *testing.T, r rendered) {
	for _, e := range r.container.Env {
		if !slices.Contains(r.chart.secretVars, e.Name) {
			continue
		}
		if e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			t.Errorf("%s must come from a Secret (valueFrom.secretKeyRef), got %+v", e.Name, e)
			continue
		}
		if ref := e.ValueFrom.SecretKeyRef; ref.Name == "" || ref.Key == "" {
			t.Errorf("%s: secretKeyRef needs a name and a key, got %+v", e.Name, ref)
		}
	}
	for k := range r.configMap.Data {
		if slices.Contains(r.chart.secretVars, k) {
			t.Errorf("ConfigMap holds %s, a secret", k)
		}
	}
}

func podVolume(r rendered, name string) *corev1.Volume {
	for i, v := range r.deployment.Spec.Template.Spec.Volumes {
		if v.Name == name {
			return &r.deployment.Spec.Template.Spec.Volumes[i]
		}
	}
	return nil
}

func checkSecurityContext(t *testing.T, r rendered) {
	pod := r.deployment.Spec.Template.Spec
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Errorf("pod automountServiceAccountToken must be false")
	}
	if sa := r.serviceAccount; sa != nil {
		if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
			t.Errorf("ServiceAccount automountServiceAccountToken must be false")
		}
		if pod.ServiceAccountName != sa.Name {
			t.Errorf("pod runs as ServiceAccount %q, the chart renders %q", pod.ServiceAccountName, sa.Name)
		}
	}
	for _, p := range securityContextProblems(pod.SecurityContext, r.container.SecurityContext) {
		t.Errorf("security context: want %s", p)
	}
	for _, m := range r.container.VolumeMounts {
		vol := podVolume(r, m.Name)
		if m.ReadOnly || (vol != nil && vol.EmptyDir != nil && m.MountPath == "/tmp") {
			continue
		}
		t.Errorf("volume %s is writable at %s; only an emptyDir at /tmp may be", m.Name, m.MountPath)
	}
}

// securityContextProblems says what a pod and its container lack of the
// restricted Pod Security Standard and of what the charts add to it (a fixed
// non-root user, a read-only root filesystem).
func securityContextProblems(psc *corev1.PodSecurityContext, sc *corev1.SecurityContext) []string {
	if psc == nil || sc == nil {
		return []string{"a securityContext on both pod and container"}
	}
	checks := []struct {
		what string
		ok   bool
	}{
		{"pod runAsNonRoot: true", isTrue(psc.RunAsNonRoot)},
		{"pod runAsUser: 65532", psc.RunAsUser != nil && *psc.RunAsUser == 65532},
		{"pod seccompProfile RuntimeDefault", psc.SeccompProfile != nil && psc.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault},
		{"container runAsNonRoot: true", isTrue(sc.RunAsNonRoot)},
		{"container runAsUser: 65532", sc.RunAsUser != nil && *sc.RunAsUser == 65532},
		{"readOnlyRootFilesystem: true", isTrue(sc.ReadOnlyRootFilesystem)},
		{"allowPrivilegeEscalation: false", sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation},
		{"privileged unset or false", sc.Privileged == nil || !*sc.Privileged},
		{"capabilities drop ALL, add none", sc.Capabilities != nil && slices.Contains(sc.Capabilities.Drop, "ALL") && len(sc.Capabilities.Add) == 0},
		{"container seccompProfile RuntimeDefault", sc.SeccompProfile != nil && sc.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault},
	}
	var problems []string
	for _, ch := range checks {
		if !ch.ok {
			problems = append(problems, ch.what)
		}
	}
	return problems
}

func isTrue(b *bool) bool { return b != nil && *b }

func checkSelectors(t *testing.T, r rendered) {
	podLabels := r.deployment.Spec.Template.Labels
	sel := r.deployment.Spec.Selector
	if sel == nil || len(sel.MatchLabels) == 0 || !subset(sel.MatchLabels, podLabels) {
		t.Errorf("Deployment selector %v does not select its own pods (labels %v)", sel, podLabels)
	}
	if len(r.service.Spec.Selector) == 0 || !subset(r.service.Spec.Selector, podLabels) {
		t.Errorf("Service selector %v does not select the pods (labels %v)", r.service.Spec.Selector, podLabels)
	}
	if got := r.pdb.Spec.Selector; got == nil || !subset(got.MatchLabels, podLabels) || len(got.MatchLabels) == 0 {
		t.Errorf("PodDisruptionBudget selector %v does not select the pods (labels %v)", got, podLabels)
	}
	for i, tsc := range r.deployment.Spec.Template.Spec.TopologySpreadConstraints {
		if tsc.LabelSelector == nil || len(tsc.LabelSelector.MatchLabels) == 0 || !subset(tsc.LabelSelector.MatchLabels, podLabels) {
			t.Errorf("topologySpreadConstraints[%d] (%s) does not select the pods: %v", i, tsc.TopologyKey, tsc.LabelSelector)
		}
	}
	if p := r.testPod; p != nil {
		selectors := map[string]map[string]string{
			"Deployment":          r.deployment.Spec.Selector.MatchLabels,
			"Service":             r.service.Spec.Selector,
			"PodDisruptionBudget": r.pdb.Spec.Selector.MatchLabels,
		}
		for i, tsc := range r.deployment.Spec.Template.Spec.TopologySpreadConstraints {
			if tsc.LabelSelector != nil {
				selectors[fmt.Sprintf("topologySpreadConstraints[%d]", i)] = tsc.LabelSelector.MatchLabels
			}
		}
		for _, what := range sortedKeys(selectors) {
			if sel := selectors[what]; len(sel) > 0 && subset(sel, p.Labels) {
				t.Errorf("%s selector %v also selects the helm test pod %s (labels %v): it would count a curl as a replica", what, sel, p.Name, p.Labels)
			}
		}
	}
	for _, o := range r.all {
		if ns := o.Value.(metav1.Object).GetNamespace(); ns != r.chart.release().Namespace {
			t.Errorf("%s %s is in namespace %q, want the release namespace %q", o.GVK.Kind, o.Name, ns, r.chart.release().Namespace)
		}
	}
}

func subset(sub, of map[string]string) bool {
	for k, v := range sub {
		if of[k] != v {
			return false
		}
	}
	return true
}

func checkResources(t *testing.T, r rendered) {
	for _, p := range resourceProblems(r.container.Resources) {
		t.Errorf("container %s", p)
	}
}

// resourceProblems says what a container's resources lack: a CPU and memory
// request, a memory limit, and no limit below its request.
func resourceProblems(res corev1.ResourceRequirements) []string {
	var problems []string
	for _, need := range []struct {
		what string
		list corev1.ResourceList
		name corev1.ResourceName
	}{
		{"requests", res.Requests, corev1.ResourceCPU},
		{"requests", res.Requests, corev1.ResourceMemory},
		{"limits", res.Limits, corev1.ResourceMemory},
	} {
		if q, ok := need.list[need.name]; !ok || q.IsZero() {
			problems = append(problems, fmt.Sprintf("sets no %s.%s", need.what, need.name))
		}
	}
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if lim, ok := res.Limits[name]; ok && lim.Cmp(res.Requests[name]) < 0 {
			req := res.Requests[name]
			problems = append(problems, fmt.Sprintf("has a %s limit %s below the request %s", name, lim.String(), req.String()))
		}
	}
	return problems
}

// minPods is the fewest pods the Deployment runs: its replicas, or with an
// HPA owning them, the HPA's minimum.
func minPods(r rendered) int {
	switch {
	case r.deployment.Spec.Replicas != nil:
		return int(*r.deployment.Spec.Replicas)
	case r.hpa != nil && r.hpa.Spec.MinReplicas != nil:
		return int(*r.hpa.Spec.MinReplicas)
	}
	return 1 // the API server's default for both
}

// checkDisruptionBudget proves the budget, at the fewest pods the chart runs,
// both keeps a pod serving through a drain and lets a drain proceed: a budget
// that allows no eviction blocks every node upgrade.
func checkDisruptionBudget(t *testing.T, r rendered) {
	spec := r.pdb.Spec
	if (spec.MinAvailable == nil) == (spec.MaxUnavailable == nil) {
		t.Fatalf("PodDisruptionBudget sets minAvailable %v and maxUnavailable %v; set exactly one", spec.MinAvailable, spec.MaxUnavailable)
	}
	pods := minPods(r)
	var evictable int
	var err error
	if spec.MaxUnavailable != nil {
		// The disruption controller rounds a percentage up, for both bounds.
		evictable, err = intstr.GetScaledValueFromIntOrPercent(spec.MaxUnavailable, pods, true)
	} else {
		var kept int
		kept, err = intstr.GetScaledValueFromIntOrPercent(spec.MinAvailable, pods, true)
		evictable = pods - kept
	}
	if err != nil {
		t.Fatalf("PodDisruptionBudget: %v", err)
	}
	if evictable < 1 {
		t.Errorf("at %d pods the PodDisruptionBudget allows no eviction: drains would block", pods)
	}
	if pods-evictable < 1 {
		t.Errorf("at %d pods the PodDisruptionBudget lets a drain evict all %d: the service would go down", pods, evictable)
	}
	if p := spec.UnhealthyPodEvictionPolicy; p == nil || *p != policyv1.AlwaysAllow {
		t.Errorf("unhealthyPodEvictionPolicy = %v, want AlwaysAllow: a pod that is not ready must never block a drain", p)
	}
}

// checkVerticalScaling holds a VPA chart: the VPA targets the Deployment's
// container with an explicit mode, and the requests lie within its bounds.
func checkVerticalScaling(t *testing.T, r rendered) {
	if r.hpa != nil {
		t.Errorf("chart renders both a VPA and an HPA; they would fight over CPU")
	}
	ref := r.vpa.Spec.TargetRef
	if ref == nil || ref.APIVersion != "apps/v1" || ref.Kind != "Deployment" || ref.Name != r.deployment.Name {
		t.Errorf("VPA targetRef = %+v, want apps/v1 Deployment %s", ref, r.deployment.Name)
	}
	rp := r.vpa.Spec.ResourcePolicy
	if rp == nil || len(rp.ContainerPolicies) == 0 || rp.ContainerPolicies[0].ContainerName != r.container.Name {
		t.Fatalf("VPA resourcePolicy does not name container %s: %+v", r.container.Name, rp)
	}
	if up := r.vpa.Spec.UpdatePolicy; up == nil || up.UpdateMode == nil || *up.UpdateMode == "Auto" {
		t.Errorf("VPA updatePolicy %+v: name an explicit updateMode (Auto is deprecated)", up)
	}
	policy := rp.ContainerPolicies[0]
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		minQ, maxQ, req := policy.MinAllowed[name], policy.MaxAllowed[name], r.container.Resources.Requests[name]
		if minQ.IsZero() || maxQ.IsZero() {
			t.Errorf("VPA sets no minAllowed/maxAllowed %s", name)
			continue
		}
		if minQ.Cmp(maxQ) > 0 {
			t.Errorf("VPA minAllowed %s %s exceeds maxAllowed %s", name, minQ.String(), maxQ.String())
		}
		if req.Cmp(minQ) < 0 || req.Cmp(maxQ) > 0 {
			t.Errorf("request %s %s lies outside the VPA bounds [%s, %s]", name, req.String(), minQ.String(), maxQ.String())
		}
	}
}

// checkHorizontalScaling holds an HPA chart: the HPA owns the Deployment's
// replica count, never runs fewer than two pods, and scales on CPU, which
// the container therefore requests.
func checkHorizontalScaling(t *testing.T, r rendered) {
	if r.vpa != nil {
		t.Errorf("chart renders both an HPA and a VPA; they would fight over CPU")
	}
	spec := r.hpa.Spec
	if ref := spec.ScaleTargetRef; ref.APIVersion != "apps/v1" || ref.Kind != "Deployment" || ref.Name != r.deployment.Name {
		t.Errorf("HPA scaleTargetRef = %+v, want apps/v1 Deployment %s", ref, r.deployment.Name)
	}
	if r.deployment.Spec.Replicas != nil {
		t.Errorf("Deployment sets replicas %d alongside the HPA; every helm upgrade would reset the HPA's count", *r.deployment.Spec.Replicas)
	}
	if spec.MinReplicas == nil || *spec.MinReplicas < 2 {
		t.Errorf("HPA minReplicas = %v, want at least 2", spec.MinReplicas)
	} else if spec.MaxReplicas < *spec.MinReplicas {
		t.Errorf("HPA maxReplicas %d is below minReplicas %d", spec.MaxReplicas, *spec.MinReplicas)
	}
	var cpu *autoscalingv2.MetricTarget
	for _, m := range spec.Metrics {
		switch {
		case m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource != nil && m.Resource.Name == corev1.ResourceCPU:
			cpu = &m.Resource.Target
		case m.Type == autoscalingv2.PodsMetricSourceType && m.Pods != nil:
			// A per-pod custom metric (requests per second): averaged over
			// the pods, so a target per pod.
			if tg := m.Pods.Target; tg.Type != autoscalingv2.AverageValueMetricType || tg.AverageValue == nil || tg.AverageValue.Sign() <= 0 {
				t.Errorf("HPA Pods metric %s target %+v: want type AverageValue with a positive averageValue", m.Pods.Metric.Name, tg)
			}
		default:
			t.Errorf("HPA metric %+v: the charts scale on cpu and on the adapter's per-pod metric only", m)
		}
	}
	switch {
	case cpu == nil:
		t.Errorf("HPA metrics %+v: want a Resource metric on cpu", spec.Metrics)
	case cpu.Type != autoscalingv2.UtilizationMetricType || cpu.AverageUtilization == nil:
		t.Errorf("HPA cpu target %+v: want type Utilization with an averageUtilization", cpu)
	case *cpu.AverageUtilization < 1 || *cpu.AverageUtilization > 100:
		t.Errorf("HPA cpu averageUtilization = %d%%, want 1 to 100", *cpu.AverageUtilization)
	}
	if q, ok := r.container.Resources.Requests[corev1.ResourceCPU]; !ok || q.IsZero() {
		t.Errorf("container requests no cpu; the HPA's utilization is a share of it")
	}
}

func checkSigningKeyMounted(t *testing.T, r rendered) {
	file := containerEnv(t, r)["JWT_SIGNING_KEY_FILE"].Value
	if !path.IsAbs(file) {
		t.Fatalf("JWT_SIGNING_KEY_FILE = %q, want an absolute path", file)
	}
	for _, m := range r.container.VolumeMounts {
		rel, ok := strings.CutPrefix(file, strings.TrimSuffix(m.MountPath, "/")+"/")
		if !ok {
			continue
		}
		if !m.ReadOnly {
			t.Errorf("volume %s holding the signing key is mounted read-write", m.Name)
		}
		vol := podVolume(r, m.Name)
		if vol == nil || vol.Secret == nil {
			t.Fatalf("JWT_SIGNING_KEY_FILE %s lies in volume %s, which is not a Secret volume", file, m.Name)
		}
		if !slices.ContainsFunc(vol.Secret.Items, func(k corev1.KeyToPath) bool { return k.Path == rel }) {
			t.Errorf("Secret volume %s puts no key at %s (items: %+v)", m.Name, rel, vol.Secret.Items)
		}
		return
	}
	t.Errorf("JWT_SIGNING_KEY_FILE %s is under no volume mount (mounts: %+v)", file, r.container.VolumeMounts)
}

var envScans sync.Map // chart name -> func() (envReads, error)

// envReads scans the chart's sources for environment reads, once per test binary.
func (c chart) envReads(t *testing.T) envReads {
	t.Helper()
	scan, _ := envScans.LoadOrStore(c.name, sync.OnceValues(func() (envReads, error) { return scanEnvReads(c.sources...) }))
	reads, err := scan.(func() (envReads, error))()
	if err != nil {
		t.Fatalf("scan %s for environment reads: %v", strings.Join(c.sources, ", "), err)
	}
	if service := strings.TrimPrefix(c.sources[0], "../"); !readsUnder(reads, service) {
		t.Fatalf("found no environment read in %s (no config.Env or getenv call with a literal name); "+
			"this check needs the service's config to name its variables as string literals or constants", service)
	}
	return reads
}

// checkLabels holds every object the chart renders, and the Deployment's pod
// template, to the recommended labels with the values Helm users expect: the
// chart's name and version, the release, the version of the image the pods
// run, and the component ("test" for the `helm test` hook, "api" for the rest).
func checkLabels(t *testing.T, r rendered) {
	meta, err := chartutil.LoadChartfile(filepath.Join(r.chart.dir(), "Chart.yaml"))
	if err != nil {
		t.Fatalf("read Chart.yaml: %v", err)
	}
	image := r.container.Image
	common := map[string]string{
		"app.kubernetes.io/name":       r.chart.name,
		"app.kubernetes.io/instance":   r.chart.release().Name,
		"app.kubernetes.io/version":    image[strings.LastIndex(image, ":")+1:],
		"app.kubernetes.io/part-of":    "travluk",
		"app.kubernetes.io/managed-by": "Helm",
		"helm.sh/chart":                meta.Name + "-" + meta.Version,
	}
	type labelled struct {
		what, component string
		labels          map[string]string
	}
	objs := []labelled{{"pod template of Deployment " + r.deployment.Name, "api", r.deployment.Spec.Template.Labels}}
	for _, o := range r.all {
		component := "api"
		if o.Value == any(r.testPod) {
			component = "test"
		}
		objs = append(objs, labelled{o.GVK.Kind + " " + o.Name, component, o.Value.(metav1.Object).GetLabels()})
	}
	for _, o := range objs {
		want := maps.Clone(common)
		want["app.kubernetes.io/component"] = o.component
		for _, l := range sortedKeys(want) {
			if got, ok := o.labels[l]; !ok {
				t.Errorf("%s has no %s label (want %q)", o.what, l, want[l])
			} else if got != want[l] {
				t.Errorf("%s has label %s=%q, want %q", o.what, l, got, want[l])
			}
		}
	}
}

// checkTestHook holds the `helm test` hook: a Pod Helm runs only on `helm
// test`, that GETs /readyz through the chart's own Service, fails on any
// answer but 2xx, and is as locked down as the service's own pods.
func checkTestHook(t *testing.T, r rendered) {
	pod := r.testPod
	if pod == nil {
		t.Fatalf("chart renders no helm test hook pod")
	}
	if got := pod.Annotations["helm.sh/hook"]; got != "test" {
		t.Errorf("pod %s has annotation helm.sh/hook=%q, want \"test\": without it helm install would run it as part of the release", pod.Name, got)
	}
	if policy := strings.Split(pod.Annotations["helm.sh/hook-delete-policy"], ","); !slices.Contains(policy, "before-hook-creation") {
		t.Errorf("pod %s has hook-delete-policy %v, want before-hook-creation: a second helm test would fail on the pod the first left", pod.Name, policy)
	}
	if pod.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("restartPolicy = %q, want Never: a failing check must end the test, not restart it", pod.Spec.RestartPolicy)
	}
	if len(pod.Spec.Containers) != 1 || len(pod.Spec.InitContainers) != 0 {
		t.Fatalf("test pod has containers %v and init containers %v, want exactly one container", containerNames(pod.Spec.Containers), containerNames(pod.Spec.InitContainers))
	}
	c := pod.Spec.Containers[0]
	checkReadyzRequest(t, r, slices.Concat(c.Command, c.Args))
	if c.Image == r.container.Image {
		t.Errorf("test pod runs the service's image %s, which has no shell and no HTTP client", c.Image)
	}
	if i := strings.LastIndex(c.Image, ":"); i < 0 || strings.Contains(c.Image[i:], "/") || c.Image[i+1:] == "latest" {
		t.Errorf("test image %q has no pinned tag", c.Image)
	}
	if pod.Spec.AutomountServiceAccountToken == nil || *pod.Spec.AutomountServiceAccountToken {
		t.Errorf("test pod automountServiceAccountToken must be false: it does not talk to the Kubernetes API")
	}
	for _, p := range securityContextProblems(pod.Spec.SecurityContext, c.SecurityContext) {
		t.Errorf("test pod security context: want %s", p)
	}
	for _, p := range resourceProblems(c.Resources) {
		t.Errorf("test container %s", p)
	}
	if len(c.Env) > 0 || len(c.EnvFrom) > 0 || len(pod.Spec.Volumes) > 0 {
		t.Errorf("test pod takes env %v, envFrom %v, volumes %v; a GET of /readyz needs no credential", c.Env, c.EnvFrom, pod.Spec.Volumes)
	}
}

// httpClients are the commands a test hook may GET with, and the flags that
// make each one exit non-zero on an answer that is not 2xx, and bound its wait.
var httpClients = map[string]struct{ fail, timeout []string }{
	"curl": {fail: []string{"--fail", "-f", "--fail-with-body"}, timeout: []string{"--max-time", "-m"}},
}

// checkReadyzRequest proves argv requests http://<the chart's Service>:<its
// port>/readyz with a client that fails on a non-2xx answer.
func checkReadyzRequest(t *testing.T, r rendered, argv []string) {
	t.Helper()
	if len(argv) == 0 {
		t.Fatalf("test container runs its image's default command; name the request")
	}
	client, ok := httpClients[path.Base(argv[0])]
	if !ok {
		t.Fatalf("test container runs %q, want one of %v", argv[0], sortedKeys(httpClients))
	}
	for _, need := range []struct {
		what  string
		flags []string
	}{{"fail on a non-2xx answer", client.fail}, {"bound its wait", client.timeout}} {
		if !hasFlag(argv, need.flags) {
			t.Errorf("test command %v does not %s (want one of %v)", argv, need.what, need.flags)
		}
	}
	urls := slices.DeleteFunc(slices.Clone(argv), func(a string) bool { return !strings.Contains(a, "://") })
	if len(urls) != 1 {
		t.Fatalf("test command %v requests %d URLs, want exactly one", argv, len(urls))
	}
	u, err := url.Parse(urls[0])
	if err != nil {
		t.Fatalf("test URL %q: %v", urls[0], err)
	}
	svc := r.service
	hosts := []string{svc.Name, svc.Name + "." + svc.Namespace, svc.Name + "." + svc.Namespace + ".svc", svc.Name + "." + svc.Namespace + ".svc.cluster.local"}
	if !slices.Contains(hosts, u.Hostname()) {
		t.Errorf("test GETs %s, whose host %q is not the chart's Service (one of %v)", u, u.Hostname(), hosts)
	}
	if want := fmt.Sprint(svc.Spec.Ports[0].Port); u.Port() != want {
		t.Errorf("test GETs %s on port %q, want the Service's port %s", u, u.Port(), want)
	}
	if u.Scheme != "http" || u.Path != "/readyz" || u.RawQuery != "" {
		t.Errorf("test GETs %s, want http://%s:%d/readyz", u, u.Hostname(), svc.Spec.Ports[0].Port)
	}
}

// hasFlag reports whether argv holds one of flags, alone or as flag=value.
func hasFlag(argv, flags []string) bool {
	return slices.ContainsFunc(argv, func(a string) bool {
		name, _, _ := strings.Cut(a, "=")
		return slices.Contains(flags, name)
	})
}

// TestChartTestHookValues covers what the value sets of TestCharts leave out:
// tests switched off render no hook.
func TestChartTestHookValues(t *testing.T) {
	for _, c := range charts {
		t.Run(c.name+"/tests off", func(t *testing.T) {
			objs := render(t, c, readValues(t, "tests:\n  enabled: false"))
			for _, o := range objs {
				if o.GVK.Kind == "Pod" {
					t.Fatalf("%s: rendered a test pod with tests.enabled false", o.Source)
				}
			}
			collectKinds(t, c, objs, slices.DeleteFunc(slices.Clone(c.kinds), func(k string) bool { return k == "Pod" }))
		})
	}
}

// adapterValuesFile holds the Helm values of the prometheus-community
// prometheus-adapter chart that serve the HPAs' requests-per-second metric.
const adapterValuesFile = "prometheus-adapter-values.yaml"

// adapterValues is the part of the prometheus-adapter chart's values the file
// sets; decoding strictly into it catches a misspelt key. The rule fields are
// those of the adapter's discovery rules (docs/config.md of
// kubernetes-sigs/prometheus-adapter).
type adapterValues struct {
	Prometheus struct {
		URL  string `json:"url"`
		Port int    `json:"port"`
	} `json:"prometheus"`
	Rules struct {
		Default bool          `json:"default"`
		Custom  []adapterRule `json:"custom"`
	} `json:"rules"`
}

type adapterRule struct {
	SeriesQuery string `json:"seriesQuery"`
	Resources   struct {
		Overrides map[string]struct {
			Group    string `json:"group,omitempty"`
			Resource string `json:"resource"`
		} `json:"overrides"`
	} `json:"resources"`
	Name struct {
		Matches string `json:"matches"`
		As      string `json:"as"`
	} `json:"name"`
	MetricsQuery string `json:"metricsQuery"`
}

func readAdapterValues(t *testing.T) adapterValues {
	t.Helper()
	data, err := os.ReadFile(adapterValuesFile)
	if err != nil {
		t.Fatal(err)
	}
	var v adapterValues
	if err := manifest.DecodeStrict(data, &v); err != nil {
		t.Fatalf("%s does not decode strictly into the adapter's values: %v", adapterValuesFile, err)
	}
	return v
}

// podsMetrics are the per-pod custom metrics an HPA scales on, with their
// target average values.
func podsMetrics(hpa *autoscalingv2.HorizontalPodAutoscaler) map[string]resource.Quantity {
	out := map[string]resource.Quantity{}
	for _, m := range hpa.Spec.Metrics {
		if m.Type == autoscalingv2.PodsMetricSourceType && m.Pods != nil && m.Pods.Target.AverageValue != nil {
			out[m.Pods.Metric.Name] = *m.Pods.Target.AverageValue
		}
	}
	return out
}

// TestRequestsPerSecondScaling covers autoscaling.targetRequestsPerSecond:
// off by default and at 0 (the adapter may be absent), and otherwise a Pods
// metric beside CPU named as the adapter rule serves it.
func TestRequestsPerSecondScaling(t *testing.T) {
	served := map[string]bool{}
	for _, rule := range readAdapterValues(t).Rules.Custom {
		served[rule.Name.As] = true
	}
	tests := []struct {
		name   string
		values string
		want   string // the target average value; "" for no metric
	}{
		{"default values", "", ""},
		{"0 turns it off", "autoscaling:\n  targetRequestsPerSecond: 0", ""},
		{"whole requests", "autoscaling:\n  targetRequestsPerSecond: 40", "40"},
		{"fraction of a request", "autoscaling:\n  targetRequestsPerSecond: 2.5", "2500m"},
	}
	for _, c := range charts {
		if !c.scales("HorizontalPodAutoscaler") {
			continue
		}
		for _, tt := range tests {
			t.Run(c.name+"/"+tt.name, func(t *testing.T) {
				r := collect(t, c, render(t, c, readValues(t, tt.values)))
				checkHorizontalScaling(t, r)
				got := podsMetrics(r.hpa)
				if tt.want == "" {
					if len(got) > 0 {
						t.Errorf("HPA scales on %v; with no requests-per-second target it must ask for no custom metric, which a cluster without the adapter lacks", sortedKeys(got))
					}
					return
				}
				if len(got) != 1 {
					t.Fatalf("HPA Pods metrics %v, want exactly one", sortedKeys(got))
				}
				for name, q := range got {
					if !served[name] {
						t.Errorf("HPA asks for custom metric %q, which no rule of %s serves (it serves %v)", name, adapterValuesFile, sortedKeys(served))
					}
					if want := resource.MustParse(tt.want); q.Cmp(want) != 0 {
						t.Errorf("HPA %s target averageValue = %s, want %s", name, q.String(), want.String())
					}
				}
			})
		}
	}
}

// adapterQueryArgs are what the adapter fills a rule's metricsQuery template
// with (pkg/naming of prometheus-adapter), here as it would for a Pods metric
// of product pods.
type adapterQueryArgs struct {
	Series            string
	LabelMatchers     string
	LabelValuesByName map[string]string
	GroupBy           string
	GroupBySlice      []string
}

// TestPrometheusAdapterServesTheHPAMetric proves the adapter rule in
// adapterValuesFile serves the custom metric the product and order HPAs ask
// for with their CI values: named as they ask, per pod, as the 2-minute rate
// of a counter the services' HTTP server really exports.
func TestPrometheusAdapterServesTheHPAMetric(t *testing.T) {
	v := readAdapterValues(t)
	asked := map[string][]string{} // metric -> charts whose HPA asks for it
	for _, c := range charts {
		if !c.scales("HorizontalPodAutoscaler") {
			continue
		}
		r := collect(t, c, renderFile(t, c, c.ciValues))
		for name := range podsMetrics(r.hpa) {
			asked[name] = append(asked[name], c.name)
		}
	}
	if len(asked) == 0 {
		t.Fatalf("no chart's CI values switch on autoscaling.targetRequestsPerSecond; CI would not render the HPAs' custom metric")
	}
	exported := exportedMetrics(t)
	p := parser.NewParser(parser.Options{})
	for _, name := range sortedKeys(asked) {
		t.Run(name, func(t *testing.T) {
			i := slices.IndexFunc(v.Rules.Custom, func(r adapterRule) bool { return r.Name.As == name })
			if i < 0 {
				t.Fatalf("the HPAs of %v ask for %q, which no rule of %s serves (name.as)", asked[name], name, adapterValuesFile)
			}
			rule := v.Rules.Custom[i]
			matchers, err := p.ParseMetricSelector(rule.SeriesQuery)
			if err != nil {
				t.Fatalf("seriesQuery %q: %v", rule.SeriesQuery, err)
			}
			var series string
			for _, m := range matchers {
				if m.Name == "__name__" && m.Type == labels.MatchEqual {
					series = m.Value
				}
			}
			if typ, ok := exported[series]; !ok {
				t.Errorf("seriesQuery %q selects %q, which the services do not export (they export: %s)", rule.SeriesQuery, series, strings.Join(sortedKeys(exported), ", "))
			} else if typ != dto.MetricType_COUNTER {
				t.Errorf("%s is a %s; the rule takes its rate, which needs a counter", series, typ)
			}
			if re, err := regexp.Compile(rule.Name.Matches); err != nil || !re.MatchString(series) {
				t.Errorf("name.matches %q does not match %q (err %v): the adapter would not serve it as %q", rule.Name.Matches, series, err, name)
			}
			for _, l := range []string{"namespace", "pod"} {
				if o := rule.Resources.Overrides[l]; o.Resource != l || o.Group != "" {
					t.Errorf("resources.overrides[%s] = %+v, want {resource: %s}: an HPA's Pods metric is looked up by namespace and pod", l, o, l)
				}
			}
			checkMetricsQuery(t, p, rule.MetricsQuery, series)
		})
	}
}

// checkMetricsQuery proves query, filled in as the adapter fills it, is the
// per-pod sum of the 2-minute rate of series.
func checkMetricsQuery(t *testing.T, p parser.Parser, query, series string) {
	t.Helper()
	tmpl, err := template.New("metricsQuery").Delims("<<", ">>").Option("missingkey=error").Parse(query)
	if err != nil {
		t.Fatalf("metricsQuery %q: %v", query, err)
	}
	var filled strings.Builder
	args := adapterQueryArgs{
		Series:            series,
		LabelMatchers:     `namespace="travluk",pod=~"product-a|product-b"`,
		LabelValuesByName: map[string]string{"namespace": "travluk", "pod": "product-a|product-b"},
		GroupBy:           "pod",
		GroupBySlice:      []string{"pod"},
	}
	if err := tmpl.Execute(&filled, args); err != nil {
		t.Fatalf("metricsQuery %q: %v", query, err)
	}
	expr, err := p.ParseExpr(filled.String())
	if err != nil {
		t.Fatalf("metricsQuery, filled in, is no PromQL: %q: %v", filled.String(), err)
	}
	var summedByPod, rated bool
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.AggregateExpr:
			summedByPod = summedByPod || (n.Op == parser.SUM && !n.Without && slices.Equal(n.Grouping, args.GroupBySlice))
		case *parser.Call:
			if n.Func.Name != "rate" || len(n.Args) != 1 {
				return nil
			}
			ms, ok := n.Args[0].(*parser.MatrixSelector)
			if !ok {
				return nil
			}
			vs, _ := ms.VectorSelector.(*parser.VectorSelector)
			if vs == nil || vs.Name != series || ms.Range != 2*time.Minute {
				t.Errorf("metricsQuery takes %s; want rate(%s{<<.LabelMatchers>>}[2m])", n, series)
				return nil
			}
			for _, want := range []string{"namespace", "pod"} {
				if !slices.ContainsFunc(vs.LabelMatchers, func(m *labels.Matcher) bool { return m.Name == want }) {
					t.Errorf("metricsQuery selects %s without the %s matcher the adapter passes in <<.LabelMatchers>>: it would count every pod", vs, want)
				}
			}
			rated = true
		}
		return nil
	})
	if !rated {
		t.Errorf("metricsQuery %q takes no rate() of %s", filled.String(), series)
	}
	if !summedByPod {
		t.Errorf("metricsQuery %q is no sum by (<<.GroupBy>>): the adapter needs one value per pod", filled.String())
	}
}

// exportedMetrics runs the HTTP server every service runs
// (services/platform/httpserver), sends it one request, and scrapes its
// /metrics: the metric families a service exports once it has served.
func exportedMetrics(t *testing.T) map[string]dto.MetricType {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	listening := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- httpserver.Run(ctx, httpserver.Options{
			Addr:     "127.0.0.1:0",
			Handler:  http.NotFoundHandler(),
			OnListen: func(a net.Addr) { listening <- a },
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("httpserver.Run: %v", err)
		}
	})
	var base string
	select {
	case a := <-listening:
		base = "http://" + a.String()
	case err := <-done:
		t.Fatalf("httpserver.Run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatalf("httpserver.Run did not listen within 10s")
	}
	client := &http.Client{Timeout: 5 * time.Second}
	get := func(path string) *http.Response {
		resp, err := client.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		return resp
	}
	resp := get("/api/anything")
	resp.Body.Close()
	resp = get("/metrics")
	defer resp.Body.Close()
	text := expfmt.NewTextParser(model.UTF8Validation)
	families, err := text.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	out := map[string]dto.MetricType{}
	for name, f := range families {
		out[name] = f.GetType()
	}
	return out
}

// TestE2EValuesChangeOnlyWhatTheClusterNeeds holds make e2e to installing the
// charts as docs/deploy.md does: its values may name the locally built images
// and how they are pulled, the replicas and the HPA switch, and nothing else.
func TestE2EValuesChangeOnlyWhatTheClusterNeeds(t *testing.T) {
	allowed := []string{"image.repository", "image.tag", "image.pullPolicy", "replicaCount",
		"autoscaling.enabled", "tests.image.repository", "tests.image.tag", "tests.image.pullPolicy"}
	for _, c := range charts {
		t.Run(c.name, func(t *testing.T) {
			data, err := os.ReadFile(c.e2eValues())
			if err != nil {
				t.Fatal(err)
			}
			// The chart's schema takes them, and every object decodes strictly.
			renderFile(t, c, c.e2eValues())
			keys := leafKeys("", readValues(t, string(data)))
			if len(keys) == 0 {
				t.Fatalf("%s sets nothing", c.e2eValues())
			}
			for _, k := range keys {
				if !slices.Contains(allowed, k) {
					t.Errorf("%s sets %s; e2e may change only %v", c.e2eValues(), k, allowed)
				}
			}
		})
	}
}

// leafKeys lists the dotted paths of the values' leaves.
func leafKeys(prefix string, values map[string]any) []string {
	var keys []string
	for k, v := range values {
		if m, ok := v.(map[string]any); ok {
			keys = append(keys, leafKeys(prefix+k+".", m)...)
			continue
		}
		keys = append(keys, prefix+k)
	}
	return keys
}

// TestVersionLabelIsAValidLabelValue: app.kubernetes.io/version comes from the
// image tag, which may be longer than a label value may be. skaffold with
// push: false tags each image with its 64-character ID (make e2e's stage
// devloops met the API server refusing every object of such a release).
func TestVersionLabelIsAValidLabelValue(t *testing.T) {
	tags := []struct{ name, tag, want string }{
		{"release", "v1.4.0", "v1.4.0"},
		{"skaffold image ID", strings.Repeat("0e", 32), strings.Repeat("0e", 31) + "0"},
		{"cut where a dash ends it", strings.Repeat("a", 62) + "-b", strings.Repeat("a", 62)},
		{"leading underscore", "_dev", "dev"},
	}
	for _, c := range charts {
		for _, tc := range tags {
			t.Run(c.name+"/"+tc.name, func(t *testing.T) {
				objs := render(t, c, map[string]any{"image": map[string]any{"tag": tc.tag}})
				for _, o := range objs {
					labels := map[string]map[string]string{}
					if m, err := meta.Accessor(o.Value); err == nil {
						labels["metadata"] = m.GetLabels()
					}
					if d, ok := o.Value.(*appsv1.Deployment); ok {
						labels["pod template"] = d.Spec.Template.Labels
					}
					for where, l := range labels {
						v, ok := l["app.kubernetes.io/version"]
						if !ok {
							continue
						}
						if errs := validation.IsValidLabelValue(v); len(errs) > 0 || v != tc.want {
							t.Errorf("%s %s, %s: app.kubernetes.io/version %q (want %q): %v", o.GVK.Kind, o.Name, where, v, tc.want, errs)
						}
					}
				}
			})
		}
	}
}
