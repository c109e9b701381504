package deploy_test

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/travluk/ecom/deploy/ingressyaml"
	"github.com/travluk/ecom/deploy/manifest"
	"github.com/travluk/ecom/dev/ingress"
	"helm.sh/helm/v3/pkg/chartutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	vpav1 "k8s.io/autoscaler/vertical-pod-autoscaler/pkg/apis/autoscaling.k8s.io/v1"
)

const customerChartDir = "../charts/customer"

// customerRelease is how the chart is installed: the ingress and the other
// services reach it as customer:8080, in the ingress's namespace.
var customerRelease = manifest.Release{Name: "customer", Namespace: ingressyaml.Namespace}

// customerValueCases are the value sets every check runs against.
var customerValueCases = []struct {
	name       string
	valuesFile string // "" renders the chart's own values.yaml
}{
	{"default values", ""},
	{"ci values", "testdata/customer-ci-values.yaml"},
}

// contractRequired are the variables the service refuses to start without
// (services/customer/README.md); JWT_SIGNING_KEY_FILE is how a cluster gives
// every replica the same signing key instead of one generated per pod.
var contractRequired = []string{"MONGODB_URI", "REDIS_URL", "JWT_SIGNING_KEY_FILE"}

// secretVars must only ever come from a Secret, never a literal or a ConfigMap.
var secretVars = []string{"MONGODB_URI", "REDIS_URL", "ADMIN_EMAIL", "ADMIN_PASSWORD", "JWT_SIGNING_KEY"}

// customerObjects is what the customer chart renders, by kind.
type customerObjects struct {
	all            []manifest.Object
	deployment     *appsv1.Deployment
	container      *corev1.Container // the customer container of deployment
	service        *corev1.Service
	configMap      *corev1.ConfigMap
	serviceAccount *corev1.ServiceAccount // nil when the values use an existing one
	vpa            *vpav1.VerticalPodAutoscaler
	pdb            *policyv1.PodDisruptionBudget
}

func TestCustomerChart(t *testing.T) {
	checks := []struct {
		name  string
		check func(*testing.T, customerObjects)
	}{
		{"container and service ports", checkPorts},
		{"probes hit the real endpoints", checkProbes},
		{"ingress reaches the service", checkIngressBackend},
		{"every variable is one the service reads", checkEnvNamesRead},
		{"required variables are set", checkRequiredEnv},
		{"secrets come from secrets", checkSecretsReferenced},
		{"signing key mounted as a file", checkSigningKeyMounted},
		{"restricted security context", checkSecurityContext},
		{"selectors and references agree", checkSelectors},
		{"resources within the VPA bounds", checkResources},
		{"recommended labels", checkLabels},
	}
	for _, tc := range customerValueCases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			objs := renderCustomer(t, tc.valuesFile)
			t.Logf("rendered and strictly decoded %d objects in %v", len(objs), time.Since(start).Round(time.Microsecond))
			c := collectCustomer(t, objs)
			for _, ch := range checks {
				t.Run(ch.name, func(t *testing.T) { ch.check(t, c) })
			}
		})
	}
}

func TestCustomerChartSchemaRejectsBadValues(t *testing.T) {
	tests := []struct {
		name    string
		values  string
		wantErr string
	}{
		{"misspelt top-level key", "replicaCuont: 3", "replicaCuont"},
		{"misspelt nested key", "config:\n  jwtIsuer: shop", "jwtIsuer"},
		{"misspelt probe field", "probes:\n  liveness:\n    periodSecond: 5", "periodSecond"},
		{"misspelt secret reference", "secrets:\n  existingSecrets: customer", "existingSecrets"},
		{"misspelt VPA bound", "vpa:\n  maxAllowed:\n    memroy: 1Gi", "memroy"},
		{"unknown VPA mode", "vpa:\n  updateMode: Sometimes", "updateMode"},
		{"deprecated VPA mode Auto", "vpa:\n  updateMode: Auto", "updateMode"},
		{"port as a string", "port: \"8080\"", "port"},
		{"TTL that is no Go duration", "config:\n  accessTokenTTL: 15 minutes", "accessTokenTTL"},
		{"log level out of range", "config:\n  logLevel: verbose", "logLevel"},
		{"secret name with capitals", "signingKey:\n  existingSecret: JWT", "existingSecret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			values, err := chartutil.ReadValues([]byte(tt.values))
			if err != nil {
				t.Fatalf("test values do not parse: %v", err)
			}
			_, err = manifest.RenderChart(customerChartDir, customerRelease, values)
			if err == nil {
				t.Fatalf("chart accepted values %q; values.schema.json should refuse them", tt.values)
			}
			if msg := err.Error(); !strings.Contains(msg, "schema") || !strings.Contains(msg, tt.wantErr) {
				t.Errorf("want values.schema.json to refuse %q, got:\n%v", tt.wantErr, err)
			}
		})
	}
}

func BenchmarkRenderCustomerChart(b *testing.B) {
	for b.Loop() {
		templates, err := manifest.RenderChart(customerChartDir, customerRelease, nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := manifest.DecodeTemplates(templates); err != nil {
			b.Fatal(err)
		}
	}
}

func renderCustomer(t *testing.T, valuesFile string) []manifest.Object {
	t.Helper()
	values := map[string]any{}
	if valuesFile != "" {
		v, err := chartutil.ReadValuesFile(valuesFile)
		if err != nil {
			t.Fatalf("read %s: %v", valuesFile, err)
		}
		values = v
	}
	templates, err := manifest.RenderChart(customerChartDir, customerRelease, values)
	if err != nil {
		t.Fatalf("render %s: %v", customerChartDir, err)
	}
	objs, err := manifest.DecodeTemplates(templates)
	if err != nil {
		t.Fatalf("the rendered chart does not decode strictly into the Kubernetes types:\n%v", err)
	}
	return objs
}

func collectCustomer(t *testing.T, objs []manifest.Object) customerObjects {
	t.Helper()
	c := customerObjects{all: objs}
	seen := map[string]string{}
	for _, o := range objs {
		if prev, dup := seen[o.GVK.Kind]; dup {
			t.Fatalf("chart renders two %s objects (%s and %s); the checks expect one", o.GVK.Kind, prev, o.Source)
		}
		seen[o.GVK.Kind] = o.Source
		switch v := o.Value.(type) {
		case *appsv1.Deployment:
			c.deployment = v
		case *corev1.Service:
			c.service = v
		case *corev1.ConfigMap:
			c.configMap = v
		case *corev1.ServiceAccount:
			c.serviceAccount = v
		case *vpav1.VerticalPodAutoscaler:
			c.vpa = v
		case *policyv1.PodDisruptionBudget:
			c.pdb = v
		default:
			t.Fatalf("%s: chart renders an unexpected %s", o.Source, o.GVK.Kind)
		}
	}
	for kind, missing := range map[string]bool{
		"Deployment": c.deployment == nil, "Service": c.service == nil, "ConfigMap": c.configMap == nil,
		"VerticalPodAutoscaler": c.vpa == nil, "PodDisruptionBudget": c.pdb == nil,
	} {
		if missing {
			t.Fatalf("chart renders no %s (rendered: %v)", kind, sortedKeys(seen))
		}
	}
	containers := c.deployment.Spec.Template.Spec.Containers
	if len(containers) != 1 || containers[0].Name != "customer" {
		t.Fatalf("Deployment has containers %v, want exactly one named customer", containerNames(containers))
	}
	c.container = &containers[0]
	return c
}

func containerNames(cs []corev1.Container) []string {
	var names []string
	for _, c := range cs {
		names = append(names, c.Name)
	}
	return names
}

// httpPort is the container port named http, the one the service listens on.
func httpPort(t *testing.T, c customerObjects) corev1.ContainerPort {
	t.Helper()
	for _, p := range c.container.Ports {
		if p.Name == "http" {
			return p
		}
	}
	t.Fatalf("container has no port named http (ports: %+v)", c.container.Ports)
	return corev1.ContainerPort{}
}

// resolvePort turns a port reference (a number or a container port name) into
// the container port number it points at, or 0 when it points at none.
func resolvePort(c customerObjects, p intstr.IntOrString) int32 {
	for _, cp := range c.container.Ports {
		if (p.Type == intstr.String && cp.Name == p.StrVal) || (p.Type == intstr.Int && cp.ContainerPort == p.IntVal) {
			return cp.ContainerPort
		}
	}
	return 0
}

func checkPorts(t *testing.T, c customerObjects) {
	http := httpPort(t, c)
	if http.Protocol != "" && http.Protocol != corev1.ProtocolTCP {
		t.Errorf("port http has protocol %s, want TCP", http.Protocol)
	}
	env := containerEnv(t, c)
	if want := fmt.Sprintf(":%d", http.ContainerPort); env["HTTP_ADDR"].Value != want {
		t.Errorf("HTTP_ADDR = %q, want %q to match container port http", env["HTTP_ADDR"].Value, want)
	}
	if c.service.Spec.Type != corev1.ServiceTypeClusterIP {
		t.Errorf("Service type = %s, want ClusterIP (only the ingress is exposed)", c.service.Spec.Type)
	}
	if len(c.service.Spec.Ports) != 1 || c.service.Spec.Ports[0].Name != "http" {
		t.Fatalf("Service ports = %+v, want exactly one named http", c.service.Spec.Ports)
	}
	sp := c.service.Spec.Ports[0]
	if got := resolvePort(c, sp.TargetPort); got != http.ContainerPort {
		t.Errorf("Service targetPort %s reaches container port %d, want port http (%d)", sp.TargetPort.String(), got, http.ContainerPort)
	}
	if sp.Port != ingress.ServicePort {
		t.Errorf("Service port = %d, want %d, the port the ingress and JWKS_URL use", sp.Port, ingress.ServicePort)
	}
}

func checkProbes(t *testing.T, c customerObjects) {
	http := httpPort(t, c)
	tests := []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{
		{"startupProbe", c.container.StartupProbe, "/healthz"},
		{"livenessProbe", c.container.LivenessProbe, "/healthz"},
		{"readinessProbe", c.container.ReadinessProbe, "/readyz"},
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
		if got := resolvePort(c, get.Port); got != http.ContainerPort {
			t.Errorf("%s: port %s reaches container port %d, want port http (%d), the Service's target",
				tt.name, get.Port.String(), got, http.ContainerPort)
		}
		if get.Scheme != "" && get.Scheme != corev1.URISchemeHTTP {
			t.Errorf("%s: scheme = %s, want HTTP", tt.name, get.Scheme)
		}
	}
}

// checkIngressBackend proves the route table's customer routes land on this
// chart's Service and port.
func checkIngressBackend(t *testing.T, c customerObjects) {
	n := 0
	for _, r := range ingress.Routes() {
		if r.Service != "customer" {
			continue
		}
		n++
		if c.service.Name != r.Service {
			t.Errorf("route %s goes to Service %q, but the chart's Service is %q", r.Prefix, r.Service, c.service.Name)
		}
		if !slices.ContainsFunc(c.service.Spec.Ports, func(p corev1.ServicePort) bool { return int(p.Port) == r.Port }) {
			t.Errorf("route %s goes to port %d, which the Service does not expose", r.Prefix, r.Port)
		}
	}
	if n == 0 {
		t.Errorf("dev/ingress.Routes() sends nothing to the customer service")
	}
}

// containerEnv returns every variable the container gets: its env entries and
// the keys of the chart's ConfigMap it takes with envFrom.
func containerEnv(t *testing.T, c customerObjects) map[string]corev1.EnvVar {
	t.Helper()
	env := map[string]corev1.EnvVar{}
	for _, from := range c.container.EnvFrom {
		switch {
		case from.ConfigMapRef != nil && from.ConfigMapRef.Name == c.configMap.Name:
			for k, v := range c.configMap.Data {
				env[from.Prefix+k] = corev1.EnvVar{Name: from.Prefix + k, Value: v}
			}
		case from.ConfigMapRef != nil:
			t.Fatalf("envFrom names ConfigMap %q, which the chart does not render", from.ConfigMapRef.Name)
		default:
			t.Fatalf("envFrom %+v: take secrets variable by variable (secretKeyRef) so their names can be checked", from)
		}
	}
	for _, e := range c.container.Env {
		if _, dup := env[e.Name]; dup {
			t.Errorf("%s is set twice (env and the ConfigMap); keep one", e.Name)
		}
		env[e.Name] = e
	}
	return env
}

func checkEnvNamesRead(t *testing.T, c customerObjects) {
	reads := customerEnvReads(t)
	for _, name := range sortedKeys(containerEnv(t, c)) {
		if _, ok := reads.all[name]; ok {
			continue
		}
		if _, ok := readByLibraries[name]; ok {
			continue
		}
		t.Errorf("chart sets %s, which services/customer never reads (it reads: %s)",
			name, strings.Join(sortedKeys(reads.all), ", "))
	}
}

func checkRequiredEnv(t *testing.T, c customerObjects) {
	env := containerEnv(t, c)
	required := slices.Clone(contractRequired)
	for _, name := range sortedKeys(customerEnvReads(t).required) {
		if !slices.Contains(required, name) {
			required = append(required, name)
		}
	}
	for _, name := range required {
		if _, ok := env[name]; !ok {
			t.Errorf("chart does not set %s, which the service requires", name)
		}
	}
	if _, ok := env["DATA_DIR"]; ok {
		t.Errorf("chart sets DATA_DIR: in a cluster the signing key comes from a Secret and nothing is kept on the pod's disk")
	}
}

func checkSecretsReferenced(t *testing.T, c customerObjects) {
	for _, e := range c.container.Env {
		if !slices.Contains(secretVars, e.Name) {
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
	for k := range c.configMap.Data {
		if slices.Contains(secretVars, k) {
			t.Errorf("ConfigMap holds %s, a secret", k)
		}
	}
	if _, ok := containerEnv(t, c)["JWT_SIGNING_KEY"]; ok {
		t.Errorf("chart sets JWT_SIGNING_KEY; the key is mounted as a file (JWT_SIGNING_KEY_FILE)")
	}
}

func checkSigningKeyMounted(t *testing.T, c customerObjects) {
	file := containerEnv(t, c)["JWT_SIGNING_KEY_FILE"].Value
	if !path.IsAbs(file) {
		t.Fatalf("JWT_SIGNING_KEY_FILE = %q, want an absolute path", file)
	}
	for _, m := range c.container.VolumeMounts {
		rel, ok := strings.CutPrefix(file, strings.TrimSuffix(m.MountPath, "/")+"/")
		if !ok {
			continue
		}
		if !m.ReadOnly {
			t.Errorf("volume %s holding the signing key is mounted read-write", m.Name)
		}
		vol := podVolume(c, m.Name)
		if vol == nil || vol.Secret == nil {
			t.Fatalf("JWT_SIGNING_KEY_FILE %s lies in volume %s, which is not a Secret volume", file, m.Name)
		}
		if !slices.ContainsFunc(vol.Secret.Items, func(k corev1.KeyToPath) bool { return k.Path == rel }) {
			t.Errorf("Secret volume %s puts no key at %s (items: %+v)", m.Name, rel, vol.Secret.Items)
		}
		return
	}
	t.Errorf("JWT_SIGNING_KEY_FILE %s is under no volume mount (mounts: %+v)", file, c.container.VolumeMounts)
}

func podVolume(c customerObjects, name string) *corev1.Volume {
	for i, v := range c.deployment.Spec.Template.Spec.Volumes {
		if v.Name == name {
			return &c.deployment.Spec.Template.Spec.Volumes[i]
		}
	}
	return nil
}

func checkSecurityContext(t *testing.T, c customerObjects) {
	pod := c.deployment.Spec.Template.Spec
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Errorf("pod automountServiceAccountToken must be false")
	}
	if sa := c.serviceAccount; sa != nil {
		if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
			t.Errorf("ServiceAccount automountServiceAccountToken must be false")
		}
		if pod.ServiceAccountName != sa.Name {
			t.Errorf("pod runs as ServiceAccount %q, the chart renders %q", pod.ServiceAccountName, sa.Name)
		}
	}
	psc, sc := pod.SecurityContext, c.container.SecurityContext
	if psc == nil || sc == nil {
		t.Fatalf("pod and container both need a securityContext")
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
	for _, ch := range checks {
		if !ch.ok {
			t.Errorf("security context: want %s", ch.what)
		}
	}
	for _, m := range c.container.VolumeMounts {
		vol := podVolume(c, m.Name)
		if m.ReadOnly || (vol != nil && vol.EmptyDir != nil && m.MountPath == "/tmp") {
			continue
		}
		t.Errorf("volume %s is writable at %s; only an emptyDir at /tmp may be", m.Name, m.MountPath)
	}
}

func isTrue(b *bool) bool { return b != nil && *b }

func checkSelectors(t *testing.T, c customerObjects) {
	podLabels := c.deployment.Spec.Template.Labels
	sel := c.deployment.Spec.Selector
	if sel == nil || len(sel.MatchLabels) == 0 || !subset(sel.MatchLabels, podLabels) {
		t.Errorf("Deployment selector %v does not select its own pods (labels %v)", sel, podLabels)
	}
	if len(c.service.Spec.Selector) == 0 || !subset(c.service.Spec.Selector, podLabels) {
		t.Errorf("Service selector %v does not select the pods (labels %v)", c.service.Spec.Selector, podLabels)
	}
	if got := c.pdb.Spec.Selector; got == nil || !subset(got.MatchLabels, podLabels) || len(got.MatchLabels) == 0 {
		t.Errorf("PodDisruptionBudget selector %v does not select the pods (labels %v)", got, podLabels)
	}
	ref := c.vpa.Spec.TargetRef
	if ref == nil || ref.APIVersion != "apps/v1" || ref.Kind != "Deployment" || ref.Name != c.deployment.Name {
		t.Errorf("VPA targetRef = %+v, want apps/v1 Deployment %s", ref, c.deployment.Name)
	}
	if rp := c.vpa.Spec.ResourcePolicy; rp == nil || len(rp.ContainerPolicies) == 0 || rp.ContainerPolicies[0].ContainerName != c.container.Name {
		t.Errorf("VPA resourcePolicy does not name container %s: %+v", c.container.Name, rp)
	}
	if up := c.vpa.Spec.UpdatePolicy; up == nil || up.UpdateMode == nil || *up.UpdateMode == "Auto" {
		t.Errorf("VPA updatePolicy %+v: name an explicit updateMode (Auto is deprecated)", up)
	}
	for _, o := range c.all {
		if ns := o.Value.(metav1.Object).GetNamespace(); ns != customerRelease.Namespace {
			t.Errorf("%s %s is in namespace %q, want the release namespace %q", o.GVK.Kind, o.Name, ns, customerRelease.Namespace)
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

func checkResources(t *testing.T, c customerObjects) {
	res := c.container.Resources
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
			t.Errorf("container sets no %s.%s", need.what, need.name)
		}
	}
	if lim, ok := res.Limits[corev1.ResourceMemory]; ok && lim.Cmp(res.Requests[corev1.ResourceMemory]) < 0 {
		t.Errorf("memory limit %s is below the request %s", lim.String(), res.Requests.Memory().String())
	}
	policy := c.vpa.Spec.ResourcePolicy.ContainerPolicies[0]
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		minQ, maxQ, req := policy.MinAllowed[name], policy.MaxAllowed[name], res.Requests[name]
		if minQ.IsZero() || maxQ.IsZero() {
			t.Errorf("VPA sets no minAllowed/maxAllowed %s", name)
			continue
		}
		if minQ.Cmp(maxQ) > 0 {
			t.Errorf("VPA minAllowed %s %s exceeds maxAllowed %s", name, minQ.String(), maxQ.String())
		}
		if !within(req, minQ, maxQ) {
			t.Errorf("request %s %s lies outside the VPA bounds [%s, %s]", name, req.String(), minQ.String(), maxQ.String())
		}
	}
}

func within(q, lo, hi resource.Quantity) bool { return q.Cmp(lo) >= 0 && q.Cmp(hi) <= 0 }

func checkLabels(t *testing.T, c customerObjects) {
	want := []string{
		"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version",
		"app.kubernetes.io/managed-by", "app.kubernetes.io/part-of", "helm.sh/chart",
	}
	for _, o := range c.all {
		labels := o.Value.(metav1.Object).GetLabels()
		for _, l := range want {
			if labels[l] == "" {
				t.Errorf("%s %s has no %s label", o.GVK.Kind, o.Name, l)
			}
		}
	}
}
