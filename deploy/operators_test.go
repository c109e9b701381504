package deploy_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	mongodbv1 "github.com/mongodb/mongodb-kubernetes-operator/api/v1"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	rabbitmqv1beta1 "github.com/rabbitmq/cluster-operator/v2/api/v1beta1"
	redisfailoverv1 "github.com/spotahome/redis-operator/api/redisfailover/v1"
	"github.com/travluk/ecom/deploy/manifest"
	"helm.sh/helm/v3/pkg/chartutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8slabels "k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// The namespaces k8s/networkpolicies.yaml assumes the cluster's shared pieces
// run in, and the label kube-prometheus-stack selects ServiceMonitors by.
const (
	ingressNamespace    = "traefik"
	prometheusNamespace = "monitoring"
	serviceMonitorLabel = "release"
	serviceMonitorValue = "kube-prometheus-stack"
)

// pod is what a NetworkPolicy sees of a pod: its namespace, its labels, and
// the ports its containers name (what a policy's named port resolves to).
type pod struct {
	name      string
	namespace string
	labels    map[string]string
	ports     []corev1.ContainerPort
}

func port(name string, number int32, proto corev1.Protocol) corev1.ContainerPort {
	return corev1.ContainerPort{Name: name, ContainerPort: number, Protocol: proto}
}

// chartWorld is what the charts render for the three services, installed as
// the README says (release = chart name, namespace travluk), default values.
type chartWorld struct {
	pods        []pod                         // one per Deployment, from its pod template
	testPods    []pod                         // the `helm test` hook pods
	services    []*corev1.Service             // in charts order
	deployments map[string]*appsv1.Deployment // by chart name
}

func renderChartWorld(t *testing.T) chartWorld {
	t.Helper()
	w := chartWorld{deployments: map[string]*appsv1.Deployment{}}
	for _, c := range charts {
		templates, err := manifest.RenderChart(c.dir(), c.release(), nil)
		if err != nil {
			t.Fatalf("render %s: %v", c.dir(), err)
		}
		objs, err := manifest.DecodeTemplates(templates)
		if err != nil {
			t.Fatalf("chart %s does not decode strictly:\n%v", c.name, err)
		}
		for _, o := range objs {
			switch v := o.Value.(type) {
			case *appsv1.Deployment:
				w.deployments[c.name] = v
				var ports []corev1.ContainerPort
				for _, ctr := range v.Spec.Template.Spec.Containers {
					ports = append(ports, ctr.Ports...)
				}
				w.pods = append(w.pods, pod{c.name, v.Namespace, v.Spec.Template.Labels, ports})
			case *corev1.Pod:
				w.testPods = append(w.testPods, pod{c.name + " helm test", v.Namespace, v.Labels, nil})
			case *corev1.Service:
				w.services = append(w.services, v)
			}
		}
		if w.deployments[c.name] == nil {
			t.Fatalf("chart %s renders no Deployment", c.name)
		}
	}
	return w
}

// k8sObjects decodes the objects of one file in k8s/ of type T.
func k8sObjects[T any](t *testing.T, file string) []T {
	t.Helper()
	objs, err := manifest.DecodeAll(file, readK8s(t, file))
	if err != nil {
		t.Fatalf("k8s/%s does not decode strictly: %v", file, err)
	}
	var out []T
	for _, o := range objs {
		if v, ok := o.Value.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

// k8sObject is the one object of type T in a file of k8s/.
func k8sObject[T any](t *testing.T, file string) T {
	t.Helper()
	objs := k8sObjects[T](t, file)
	if len(objs) != 1 {
		var zero T
		t.Fatalf("k8s/%s holds %d objects of type %T, want exactly one", file, len(objs), zero)
	}
	return objs[0]
}

// The labels below are the operators', copied from their sources (the
// packages that set them are internal or unexported, so the tests cannot call
// them); each function names where.

// rabbitmqLabels is what the RabbitMQ Cluster Operator v2.16.0 puts on the
// pods and Services of a RabbitmqCluster (internal/metadata/label.go Label).
func rabbitmqLabels(cluster string) map[string]string {
	return map[string]string{
		"app.kubernetes.io/name":      cluster,
		"app.kubernetes.io/component": "rabbitmq",
		"app.kubernetes.io/part-of":   "rabbitmq",
	}
}

// redisLabels is what Spotahome's Redis Operator v1.2.4 puts on the pods of a
// RedisFailover: the handler's labels (operator/redisfailover/handler.go
// getLabels) merged with generateSelectorLabels(component, name)
// (operator/redisfailover/service/client.go), and on Redis pods the role the
// operator keeps up to date (redisfailovers-role, service/check.go).
func redisLabels(rf *redisfailoverv1.RedisFailover, component, role string) map[string]string {
	l := map[string]string{
		"app.kubernetes.io/managed-by":                "redis-operator",
		"redisfailovers.databases.spotahome.com/name": rf.Name,
		"app.kubernetes.io/name":                      rf.Name,
		"app.kubernetes.io/component":                 component,
		"app.kubernetes.io/part-of":                   "redis-failover",
	}
	if role != "" {
		l["redisfailovers-role"] = role
	}
	return l
}

// dataWorld holds the pods the operators create from k8s/, and the Services
// they put in front of them.
type dataWorld struct {
	mongodb, rabbitmq, redisMaster, redisReplica, sentinel pod
	services                                               []*corev1.Service
}

func operatorWorld(t *testing.T) dataWorld {
	t.Helper()
	mdb := k8sObject[*mongodbv1.MongoDBCommunity](t, "mongodb.yaml")
	rmq := k8sObject[*rabbitmqv1beta1.RabbitmqCluster](t, "rabbitmq.yaml")
	rf := k8sObject[*redisfailoverv1.RedisFailover](t, "redis.yaml")

	redisPort := rf.Spec.Redis.Port
	if redisPort == 0 {
		redisPort = 6379 // api/redisfailover/v1/defaults.go
	}
	var w dataWorld
	// The MongoDB operator labels its pods app=<Service name>
	// (controllers/construct/mongodbstatefulset.go).
	w.mongodb = pod{"mongodb", mdb.Namespace, map[string]string{"app": mdb.ServiceName()},
		[]corev1.ContainerPort{port("mongodb", int32(mdb.GetMongodConfiguration().GetDBPort()), corev1.ProtocolTCP)}}
	// Container ports from internal/resource/statefulset.go; RabbitMQ also
	// listens, undeclared, for Erlang distribution (25672) and the CLI tools
	// (35672 and up).
	w.rabbitmq = pod{"rabbitmq", rmq.Namespace, rabbitmqLabels(rmq.Name), []corev1.ContainerPort{
		port("epmd", 4369, corev1.ProtocolTCP), port("amqp", 5672, corev1.ProtocolTCP),
		port("management", 15672, corev1.ProtocolTCP), port("prometheus", 15692, corev1.ProtocolTCP),
		port("", 25672, corev1.ProtocolTCP), port("", 35672, corev1.ProtocolTCP),
	}}
	redisPorts := []corev1.ContainerPort{port("redis", redisPort, corev1.ProtocolTCP)}
	w.redisMaster = pod{"redis-master", rf.Namespace, redisLabels(rf, "redis", "master"), redisPorts}
	w.redisReplica = pod{"redis-replica", rf.Namespace, redisLabels(rf, "redis", "slave"), redisPorts}
	w.sentinel = pod{"sentinel", rf.Namespace, redisLabels(rf, "sentinel", ""),
		[]corev1.ContainerPort{port("sentinel", 26379, corev1.ProtocolTCP)}}

	svc := func(name, ns string, labels map[string]string, ports ...string) *corev1.Service {
		s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels}}
		for _, p := range ports {
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: p})
		}
		return s
	}
	w.services = []*corev1.Service{
		// controllers/replica_set_controller.go buildService.
		svc(mdb.ServiceName(), mdb.Namespace, map[string]string{"app": mdb.ServiceName()}, "mongodb"),
		// internal/resource/service.go (ports without TLS) and headless_service.go.
		svc(rmq.Name, rmq.Namespace, rabbitmqLabels(rmq.Name), "amqp", "management", "prometheus"),
		svc(rmq.Name+"-nodes", rmq.Namespace, rabbitmqLabels(rmq.Name), "epmd", "cluster-rpc"),
		// operator/redisfailover/service/generator.go generateSentinelService.
		svc("rfs-"+rf.Name, rf.Namespace, redisLabels(rf, "sentinel", ""), "sentinel"),
	}
	w.services = append(w.services, k8sObjects[*corev1.Service](t, "redis.yaml")...)
	return w
}

func (w dataWorld) pods() []pod {
	return []pod{w.mongodb, w.rabbitmq, w.redisMaster, w.redisReplica, w.sentinel}
}

// Pods outside travluk, labelled as their usual installs label them.
var (
	// The Traefik Helm chart's pod: entry points web and websecure.
	ingressController = pod{"traefik", ingressNamespace,
		map[string]string{"app.kubernetes.io/name": "traefik", "app.kubernetes.io/instance": "traefik-traefik"},
		[]corev1.ContainerPort{port("web", 8000, corev1.ProtocolTCP), port("websecure", 8443, corev1.ProtocolTCP)}}
	prometheusServer = pod{"prometheus", prometheusNamespace,
		map[string]string{"app.kubernetes.io/name": "prometheus"},
		[]corev1.ContainerPort{port("web", 9090, corev1.ProtocolTCP)}}
	kubeDNS = pod{"kube-dns", "kube-system", map[string]string{"k8s-app": "kube-dns"},
		[]corev1.ContainerPort{port("dns", 53, corev1.ProtocolUDP), port("dns-tcp", 53, corev1.ProtocolTCP), port("metrics", 9153, corev1.ProtocolTCP)}}
	// charts/redisoperator in github.com/spotahome/redis-operator v1.2.4.
	redisOperator = pod{"redis-operator", "redis-operator",
		map[string]string{"app.kubernetes.io/name": "redis-operator", "app.kubernetes.io/instance": "redis-operator"}, nil}
	// config/manager/manager.yaml in github.com/rabbitmq/cluster-operator v2.16.0.
	rabbitmqOperator = pod{"rabbitmq-operator", "rabbitmq-system",
		map[string]string{"app.kubernetes.io/name": "rabbitmq-cluster-operator", "app.kubernetes.io/component": "rabbitmq-operator"}, nil}
	stranger = pod{"stranger", "default", map[string]string{"run": "curl"},
		[]corev1.ContainerPort{port("http", 8080, corev1.ProtocolTCP)}}
	strangerInside = pod{"stranger in travluk", "travluk", map[string]string{"run": "debug"}, nil}
)

// policies evaluates NetworkPolicies as the Kubernetes API documents them:
// a pod selected by no policy of a direction is open in that direction; a
// selected one admits what any rule of any selecting policy admits. ipBlock
// peers are not evaluated (k8s/ uses none).
type policies []*networkingv1.NetworkPolicy

// allows reports whether from may open a connection to port/proto on to.
func (ps policies) allows(t *testing.T, from, to pod, proto corev1.Protocol, port int32) bool {
	t.Helper()
	return ps.admits(t, networkingv1.PolicyTypeEgress, from, to, to, proto, port) &&
		ps.admits(t, networkingv1.PolicyTypeIngress, to, from, to, proto, port)
}

// admits reports whether the policies selecting subject in direction dir
// let it exchange a connection with peer; dst is the receiving pod, whose
// container ports named ports resolve to.
func (ps policies) admits(t *testing.T, dir networkingv1.PolicyType, subject, peer, dst pod, proto corev1.Protocol, port int32) bool {
	t.Helper()
	isolated := false
	for _, p := range ps {
		if p.Namespace != subject.namespace || !selects(t, p.Name, &p.Spec.PodSelector, subject.labels) || !hasPolicyType(p, dir) {
			continue
		}
		isolated = true
		if dir == networkingv1.PolicyTypeIngress {
			for _, r := range p.Spec.Ingress {
				if peersMatch(t, p, r.From, peer) && portsMatch(r.Ports, dst, proto, port) {
					return true
				}
			}
			continue
		}
		for _, r := range p.Spec.Egress {
			if peersMatch(t, p, r.To, peer) && portsMatch(r.Ports, dst, proto, port) {
				return true
			}
		}
	}
	return !isolated
}

// isolatesEgress reports whether any policy limits what p may connect to.
func (ps policies) isolatesEgress(t *testing.T, p pod) []string {
	var names []string
	for _, np := range ps {
		if np.Namespace == p.namespace && selects(t, np.Name, &np.Spec.PodSelector, p.labels) && hasPolicyType(np, networkingv1.PolicyTypeEgress) {
			names = append(names, np.Name)
		}
	}
	return names
}

// hasPolicyType applies the API's default: Ingress always, Egress when the
// policy has egress rules.
func hasPolicyType(p *networkingv1.NetworkPolicy, dir networkingv1.PolicyType) bool {
	if len(p.Spec.PolicyTypes) == 0 {
		return dir == networkingv1.PolicyTypeIngress || len(p.Spec.Egress) > 0
	}
	return slices.Contains(p.Spec.PolicyTypes, dir)
}

func selects(t *testing.T, policy string, sel *metav1.LabelSelector, labels map[string]string) bool {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		t.Fatalf("NetworkPolicy %s: invalid selector: %v", policy, err)
	}
	return s.Matches(k8slabels.Set(labels))
}

// peersMatch: no peers means every pod; a podSelector alone means pods of the
// policy's namespace; a namespaceSelector means pods of the namespaces it
// selects (by their labels, here kubernetes.io/metadata.name), narrowed by a
// podSelector beside it.
func peersMatch(t *testing.T, p *networkingv1.NetworkPolicy, peers []networkingv1.NetworkPolicyPeer, other pod) bool {
	t.Helper()
	if len(peers) == 0 {
		return true
	}
	for _, peer := range peers {
		if peer.IPBlock != nil {
			t.Fatalf("NetworkPolicy %s: ipBlock peers are not evaluated here; select pods instead", p.Name)
		}
		if peer.PodSelector == nil && peer.NamespaceSelector == nil {
			t.Fatalf("NetworkPolicy %s: a peer with neither podSelector nor namespaceSelector", p.Name)
		}
		nsOK := other.namespace == p.Namespace
		if peer.NamespaceSelector != nil {
			nsOK = selects(t, p.Name, peer.NamespaceSelector, map[string]string{"kubernetes.io/metadata.name": other.namespace})
		}
		if nsOK && (peer.PodSelector == nil || selects(t, p.Name, peer.PodSelector, other.labels)) {
			return true
		}
	}
	return false
}

// portsMatch: no ports means every port; a port without a number means every
// port of its protocol (TCP unless given); a named port is the receiving
// pod's container port of that name and protocol.
func portsMatch(ports []networkingv1.NetworkPolicyPort, dst pod, proto corev1.Protocol, number int32) bool {
	if len(ports) == 0 {
		return true
	}
	for _, p := range ports {
		if protocol(p.Protocol) != proto {
			continue
		}
		switch {
		case p.Port == nil:
			return true
		case p.Port.Type == intstr.Int:
			end := p.Port.IntVal
			if p.EndPort != nil {
				end = *p.EndPort
			}
			if number >= p.Port.IntVal && number <= end {
				return true
			}
		default:
			for _, cp := range dst.ports {
				if cp.Name == p.Port.StrVal && protocol(&cp.Protocol) == proto && cp.ContainerPort == number {
					return true
				}
			}
		}
	}
	return false
}

func protocol(p *corev1.Protocol) corev1.Protocol {
	if p == nil || *p == "" {
		return corev1.ProtocolTCP
	}
	return *p
}

// unusedPort is a port no pod here listens on: reaching it means a rule
// opened every port.
const unusedPort = 9999

// layer is which policies a reachability question consults: both ends', or
// only the sender's egress or the receiver's ingress.
type layer int

const (
	bothEnds layer = iota
	egressOnly
	ingressOnly
)

// reachable lists "pod:port/proto" for every port of targets (and
// unusedPort) from may open, as far as the policies of layer say.
func (ps policies) reachable(t *testing.T, l layer, from pod, targets []pod) []string {
	t.Helper()
	var out []string
	for _, to := range targets {
		probes := append(slices.Clone(to.ports), port("", unusedPort, corev1.ProtocolTCP))
		for _, p := range probes {
			proto := protocol(&p.Protocol)
			egress := ps.admits(t, networkingv1.PolicyTypeEgress, from, to, to, proto, p.ContainerPort)
			ingress := ps.admits(t, networkingv1.PolicyTypeIngress, to, from, to, proto, p.ContainerPort)
			if (l == egressOnly || ingress) && (l == ingressOnly || egress) {
				out = append(out, fmt.Sprintf("%s:%d/%s", to.name, p.ContainerPort, proto))
			}
		}
	}
	slices.Sort(out)
	return out
}

func readPolicies(t *testing.T) policies {
	t.Helper()
	ps := k8sObjects[*networkingv1.NetworkPolicy](t, "networkpolicies.yaml")
	if len(ps) == 0 {
		t.Fatal("k8s/networkpolicies.yaml holds no NetworkPolicy")
	}
	return ps
}

func TestNetworkPoliciesLetEachPodReachExactlyWhatItNeeds(t *testing.T) {
	ps := readPolicies(t)
	world := renderChartWorld(t)
	data := operatorWorld(t)
	svc := map[string]pod{}
	for _, p := range world.pods {
		svc[p.name] = p
	}
	// Every port of the pods the policies are about: the services' and the
	// operator-managed ones.
	targets := slices.Concat(world.pods, data.pods())

	redisAndSentinels := []string{"redis-master:6379/TCP", "redis-replica:6379/TCP", "sentinel:26379/TCP"}
	everyHTTP := []string{"customer:8080/TCP", "order:8080/TCP", "product:8080/TCP"}
	tests := []struct {
		from pod
		want []string
	}{
		{svc["customer"], slices.Concat([]string{"mongodb:27017/TCP"}, redisAndSentinels)},
		{svc["product"], slices.Concat([]string{"customer:8080/TCP", "mongodb:27017/TCP", "rabbitmq:5672/TCP"}, redisAndSentinels)},
		{svc["order"], slices.Concat([]string{"customer:8080/TCP", "mongodb:27017/TCP", "rabbitmq:5672/TCP"}, redisAndSentinels)},
		{ingressController, everyHTTP},
		{prometheusServer, slices.Concat(everyHTTP, []string{"rabbitmq:15692/TCP"})},
		{stranger, nil},
		{strangerInside, nil},
		// The operators and the data pods among themselves.
		{redisOperator, redisAndSentinels},
		{rabbitmqOperator, []string{"rabbitmq:15672/TCP"}},
		{data.mongodb, []string{"mongodb:27017/TCP"}},
		{data.rabbitmq, []string{"rabbitmq:25672/TCP", "rabbitmq:35672/TCP", "rabbitmq:4369/TCP"}},
		{data.redisMaster, redisAndSentinels},
		{data.redisReplica, redisAndSentinels},
		{data.sentinel, redisAndSentinels},
	}
	for _, tt := range tests {
		t.Run(tt.from.name, func(t *testing.T) {
			if tt.from.labels == nil {
				t.Fatalf("no pod %q in the rendered charts", tt.from.name)
			}
			want := slices.Sorted(slices.Values(tt.want))
			if diff := cmp.Diff(want, ps.reachable(t, bothEnds, tt.from, targets)); diff != "" {
				t.Errorf("what %s (namespace %s) may connect to differs (-want +allowed):\n%s", tt.from.name, tt.from.namespace, diff)
			}
			if _, isService := svc[tt.from.name]; !isService {
				return
			}
			// A service's own egress, and its peers' ingress, must each
			// grant exactly its needs: either end alone keeps it in bounds.
			for _, l := range []struct {
				layer
				name string
			}{{egressOnly, "its egress policies"}, {ingressOnly, "the receivers' ingress policies"}} {
				if diff := cmp.Diff(want, ps.reachable(t, l.layer, tt.from, targets)); diff != "" {
					t.Errorf("what %s may connect to by %s alone differs (-want +allowed):\n%s", tt.from.name, l.name, diff)
				}
			}
		})
	}
	for _, test := range world.testPods {
		t.Run(test.name, func(t *testing.T) {
			own := svc[strings.TrimSuffix(test.name, " helm test")]
			i := slices.IndexFunc(own.ports, func(p corev1.ContainerPort) bool { return p.Name == "http" })
			if i < 0 {
				t.Fatalf("%s's pods name no http port", own.name)
			}
			if http := own.ports[i].ContainerPort; !ps.allows(t, test, own, corev1.ProtocolTCP, http) {
				t.Errorf("`helm test` pod (labels %v) may not reach %s:%d, so `helm test` fails", test.labels, own.name, http)
			}
		})
	}
	t.Run("egress outside the namespace", func(t *testing.T) {
		pairs := []struct {
			to    pod
			proto corev1.Protocol
			port  int32
			want  bool
		}{
			{kubeDNS, corev1.ProtocolUDP, 53, true},
			{kubeDNS, corev1.ProtocolTCP, 53, true},
			{kubeDNS, corev1.ProtocolTCP, 9153, false},
			{stranger, corev1.ProtocolTCP, 8080, false},
			{ingressController, corev1.ProtocolTCP, 8443, false},
			{prometheusServer, corev1.ProtocolTCP, 9090, false},
		}
		for _, from := range world.pods {
			for _, p := range pairs {
				if got := ps.allows(t, from, p.to, p.proto, p.port); got != p.want {
					t.Errorf("%s may connect to %s (%s) %d/%s: %v, want %v", from.name, p.to.name, p.to.namespace, p.port, p.proto, got, p.want)
				}
			}
		}
	})
	t.Run("operator-managed pods keep their egress", func(t *testing.T) {
		for _, p := range data.pods() {
			if names := ps.isolatesEgress(t, p); len(names) > 0 {
				t.Errorf("%s: NetworkPolicies %v limit its egress; the operators' pods must reach each other and the Kubernetes API", p.name, names)
			}
		}
	})
}

// TestPolicyEvaluator pins the evaluator's reading of the API on small
// policies, so a wrong answer in the test above is the manifests', not its.
func TestPolicyEvaluator(t *testing.T) {
	tcp, udp := corev1.ProtocolTCP, corev1.ProtocolUDP
	a := pod{"a", "ns", map[string]string{"app": "a"}, []corev1.ContainerPort{port("http", 8080, tcp)}}
	b := pod{"b", "ns", map[string]string{"app": "b"}, []corev1.ContainerPort{port("http", 8081, tcp), port("dns", 53, udp)}}
	other := pod{"c", "other", map[string]string{"app": "a"}, nil}
	p8080 := intstr.FromInt32(8080)
	pHTTP := intstr.FromString("http")
	pol := func(sel map[string]string, spec networkingv1.NetworkPolicySpec) *networkingv1.NetworkPolicy {
		spec.PodSelector = metav1.LabelSelector{MatchLabels: sel}
		return &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}, Spec: spec}
	}
	from := func(peers ...networkingv1.NetworkPolicyPeer) []networkingv1.NetworkPolicyIngressRule {
		return []networkingv1.NetworkPolicyIngressRule{{From: peers}}
	}
	podPeer := func(app string) networkingv1.NetworkPolicyPeer {
		return networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}}
	}
	tests := []struct {
		name     string
		ps       policies
		from, to pod
		proto    corev1.Protocol
		port     int32
		want     bool
	}{
		{"no policy", nil, a, b, tcp, 1, true},
		{"default deny ingress", policies{pol(map[string]string{"app": "b"}, networkingv1.NetworkPolicySpec{})}, a, b, tcp, 8081, false},
		{"deny ingress of another pod", policies{pol(map[string]string{"app": "x"}, networkingv1.NetworkPolicySpec{})}, a, b, tcp, 8081, true},
		{"egress rules imply the Egress type", policies{pol(map[string]string{"app": "a"}, networkingv1.NetworkPolicySpec{
			Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{podPeer("x")}}}})}, a, b, tcp, 8081, false},
		{"pod peer", policies{pol(map[string]string{"app": "b"}, networkingv1.NetworkPolicySpec{Ingress: from(podPeer("a"))})}, a, b, tcp, 8081, true},
		{"pod peer is namespace-local", policies{pol(map[string]string{"app": "b"}, networkingv1.NetworkPolicySpec{Ingress: from(podPeer("a"))})}, other, b, tcp, 8081, false},
		{"namespace peer", policies{pol(map[string]string{"app": "b"}, networkingv1.NetworkPolicySpec{Ingress: from(networkingv1.NetworkPolicyPeer{
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "other"}}})})}, other, b, tcp, 8081, true},
		{"namespace and pod peer", policies{pol(map[string]string{"app": "b"}, networkingv1.NetworkPolicySpec{Ingress: from(networkingv1.NetworkPolicyPeer{
			NamespaceSelector: &metav1.LabelSelector{}, PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "z"}}})})}, other, b, tcp, 8081, false},
		{"numbered port", policies{pol(map[string]string{"app": "b"}, networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{
			Ports: []networkingv1.NetworkPolicyPort{{Port: &p8080}}}}})}, a, b, tcp, 8081, false},
		{"named port of the receiver", policies{pol(map[string]string{"app": "b"}, networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{
			Ports: []networkingv1.NetworkPolicyPort{{Port: &pHTTP}}}}})}, a, b, tcp, 8081, true},
		{"named port is TCP unless told", policies{pol(map[string]string{"app": "b"}, networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{
			Ports: []networkingv1.NetworkPolicyPort{{Port: ptrTo(intstr.FromString("dns"))}}}}})}, a, b, udp, 53, false},
		{"named port of another protocol", policies{pol(map[string]string{"app": "b"}, networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{
			Ports: []networkingv1.NetworkPolicyPort{{Port: ptrTo(intstr.FromString("dns"))}}}}})}, a, b, tcp, 53, false},
		{"named UDP port", policies{pol(map[string]string{"app": "b"}, networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{
			Ports: []networkingv1.NetworkPolicyPort{{Protocol: &udp, Port: ptrTo(intstr.FromString("dns"))}}}}})}, a, b, udp, 53, true},
		{"port range", policies{pol(map[string]string{"app": "b"}, networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{
			Ports: []networkingv1.NetworkPolicyPort{{Port: &p8080, EndPort: ptrTo(int32(8090))}}}}})}, a, b, tcp, 8081, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.ps.allows(t, tt.from, tt.to, tt.proto, tt.port); got != tt.want {
				t.Errorf("allows(%s -> %s %d/%s) = %v, want %v", tt.from.name, tt.to.name, tt.port, tt.proto, got, tt.want)
			}
		})
	}
}

func ptrTo[T any](v T) *T { return &v }

func fmtPtr[T any](p *T) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprint(*p)
}

// metricsPath is the path services/platform/httpserver serves metrics on,
// read from its source, and checks that each service serves through it.
func metricsPath(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile("../services/platform/httpserver/httpserver.go")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`\w+\.Handle\("GET (/[^"]*)", promhttp\.`).FindStringSubmatch(string(src))
	if m == nil {
		t.Fatal("services/platform/httpserver/httpserver.go registers no promhttp handler; where do the services serve metrics?")
	}
	for _, c := range charts {
		run, err := os.ReadFile(filepath.Join("../services", c.name, "server", "run.go"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(run), "httpserver.Listen(") {
			t.Errorf("services/%s/server/run.go does not serve through httpserver.Listen, so it may not serve %s", c.name, m[1])
		}
	}
	return m[1]
}

// monitorSelects reports whether sm's selectors pick svc.
func monitorSelects(t *testing.T, sm *monitoringv1.ServiceMonitor, svc *corev1.Service) bool {
	t.Helper()
	ns := sm.Spec.NamespaceSelector
	inNamespace := ns.Any || slices.Contains(ns.MatchNames, svc.Namespace) || (len(ns.MatchNames) == 0 && svc.Namespace == sm.Namespace)
	return inNamespace && selects(t, "ServiceMonitor "+sm.Name, &sm.Spec.Selector, svc.Labels)
}

func servicePortNamed(svc *corev1.Service, name string) *corev1.ServicePort {
	for i := range svc.Spec.Ports {
		if svc.Spec.Ports[i].Name == name {
			return &svc.Spec.Ports[i]
		}
	}
	return nil
}

func TestServiceMonitorsScrapeTheServicesMetrics(t *testing.T) {
	monitors := k8sObjects[*monitoringv1.ServiceMonitor](t, "servicemonitors.yaml")
	world := renderChartWorld(t)
	data := operatorWorld(t)
	all := slices.Concat(world.services, data.services)
	served := metricsPath(t)

	scrapedBy := map[string][]string{} // Service -> ServiceMonitor endpoints scraping it
	for _, sm := range monitors {
		if got := sm.Labels[serviceMonitorLabel]; got != serviceMonitorValue {
			t.Errorf("ServiceMonitor %s: label %s=%q, want %q: kube-prometheus-stack's Prometheus would not pick it up",
				sm.Name, serviceMonitorLabel, got, serviceMonitorValue)
		}
		if len(sm.Spec.Endpoints) == 0 {
			t.Errorf("ServiceMonitor %s has no endpoints", sm.Name)
		}
		for i, ep := range sm.Spec.Endpoints {
			// Prometheus scrapes a selected Service's endpoints only on the
			// port the endpoint names; a Service without it gives no target.
			var targets []string
			for _, svc := range all {
				if monitorSelects(t, sm, svc) && servicePortNamed(svc, ep.Port) != nil {
					targets = append(targets, svc.Name)
					scrapedBy[svc.Name] = append(scrapedBy[svc.Name], fmt.Sprintf("%s endpoint %d", sm.Name, i))
				}
			}
			if len(targets) != 1 {
				t.Errorf("ServiceMonitor %s endpoint %d (port %q) scrapes Services %v, want exactly one", sm.Name, i, ep.Port, targets)
			}
		}
	}

	// The services' Services, and the RabbitMQ Service with the prometheus port.
	wantScraped := []string{k8sObject[*rabbitmqv1beta1.RabbitmqCluster](t, "rabbitmq.yaml").Name}
	for _, svc := range world.services {
		wantScraped = append(wantScraped, svc.Name)
	}
	// rabbitmq_prometheus answers on the port the operator names prometheus
	// (15692); management (15672) serves the HTTP API, not metrics.
	for _, sm := range monitors {
		for i, ep := range sm.Spec.Endpoints {
			for _, svc := range data.services {
				if monitorSelects(t, sm, svc) && svc.Name == wantScraped[0] && ep.Port != "prometheus" {
					t.Errorf("ServiceMonitor %s endpoint %d scrapes RabbitMQ's port %q, want prometheus", sm.Name, i, ep.Port)
				}
			}
		}
	}
	for _, name := range wantScraped {
		if n := len(scrapedBy[name]); n != 1 {
			t.Errorf("Service %s is scraped by %v, want exactly one ServiceMonitor endpoint", name, scrapedBy[name])
		}
	}
	if diff := cmp.Diff(slices.Sorted(slices.Values(wantScraped)), sortedKeys(scrapedBy)); diff != "" {
		t.Errorf("scraped Services differ (-want +scraped):\n%s", diff)
	}

	// The services' endpoints: the path is the one the pods announce and the
	// code serves, on the port the pods announce.
	for _, svc := range world.services {
		for _, sm := range monitors {
			for _, ep := range sm.Spec.Endpoints {
				sp := servicePortNamed(svc, ep.Port)
				if !monitorSelects(t, sm, svc) || sp == nil {
					continue
				}
				d := deploymentBehind(t, world, svc)
				ann := d.Spec.Template.Annotations
				path := ep.Path
				if path == "" {
					path = "/metrics" // the Prometheus default
				}
				if path != served || ann["prometheus.io/path"] != served {
					t.Errorf("Service %s: ServiceMonitor %s scrapes %q, the pods announce prometheus.io/path %q, the services serve %q",
						svc.Name, sm.Name, path, ann["prometheus.io/path"], served)
				}
				if target := containerPortOf(d, sp.TargetPort); fmt.Sprint(target) != ann["prometheus.io/port"] {
					t.Errorf("Service %s: port %s reaches container port %d, the pods announce prometheus.io/port %q",
						svc.Name, sp.Name, target, ann["prometheus.io/port"])
				}
			}
		}
	}
}

func deploymentBehind(t *testing.T, w chartWorld, svc *corev1.Service) *appsv1.Deployment {
	t.Helper()
	for _, d := range w.deployments {
		if d.Namespace == svc.Namespace && k8slabels.SelectorFromSet(svc.Spec.Selector).Matches(k8slabels.Set(d.Spec.Template.Labels)) {
			return d
		}
	}
	t.Fatalf("Service %s selects no rendered Deployment's pods", svc.Name)
	return nil
}

// containerPortOf resolves a Service's targetPort on d's containers.
func containerPortOf(d *appsv1.Deployment, target intstr.IntOrString) int32 {
	if target.Type == intstr.Int {
		return target.IntVal
	}
	for _, c := range d.Spec.Template.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name == target.StrVal {
				return p.ContainerPort
			}
		}
	}
	return 0
}

// chartDatabase is the database a chart's service uses: config.mongodbDatabase
// in its values.yaml.
func chartDatabase(t *testing.T, c chart) string {
	t.Helper()
	values, err := chartutil.ReadValuesFile(filepath.Join(c.dir(), "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := values.PathValue("config.mongodbDatabase")
	if s, ok := db.(string); err != nil || !ok || s == "" {
		t.Fatalf("charts/%s/values.yaml: config.mongodbDatabase = %v (%v), want a database name", c.name, db, err)
	}
	return db.(string)
}

func TestMongoDBHasAUserPerServiceDatabase(t *testing.T) {
	mdb := k8sObject[*mongodbv1.MongoDBCommunity](t, "mongodb.yaml")
	if mdb.Spec.Members != 3 || mdb.Spec.Type != mongodbv1.ReplicaSet {
		t.Errorf("MongoDBCommunity %s: %d members of type %q, want a 3-member ReplicaSet", mdb.Name, mdb.Spec.Members, mdb.Spec.Type)
	}
	if !slices.Contains(mdb.Spec.Security.Authentication.Modes, "SCRAM") {
		t.Errorf("authentication modes %v, want SCRAM: the services log in with a password", mdb.Spec.Security.Authentication.Modes)
	}
	// featureCompatibilityVersion must be the version's major.minor, or the
	// operator sets a compatibility the binaries do not have.
	if v := strings.Split(mdb.Spec.Version, "."); len(v) != 3 || mdb.Spec.FeatureCompatibilityVersion != v[0]+"."+v[1] {
		t.Errorf("version %q with featureCompatibilityVersion %q, want x.y.z with x.y", mdb.Spec.Version, mdb.Spec.FeatureCompatibilityVersion)
	}

	users := map[string]mongodbv1.MongoDBUser{}
	secretNames := map[string]string{}
	for _, u := range mdb.Spec.Users {
		users[u.DB] = u
		for _, name := range []string{u.GetScramCredentialsSecretName(), u.GetConnectionStringSecretName(mdb.Name), u.PasswordSecretRef.Name} {
			if prev, dup := secretNames[name]; dup {
				t.Errorf("users %s and %s share Secret %q; the operator needs one per user", prev, u.Name, name)
			}
			secretNames[name] = u.Name
		}
	}
	var dbs []string
	for _, c := range charts {
		db := chartDatabase(t, c)
		dbs = append(dbs, db)
		t.Run(c.name, func(t *testing.T) {
			u, ok := users[db]
			if !ok {
				t.Fatalf("no user stored in database %q (charts/%s config.mongodbDatabase); users: %v", db, c.name, sortedKeys(users))
			}
			if diff := cmp.Diff([]mongodbv1.Role{{Name: "readWrite", DB: db}}, u.Roles); diff != "" {
				t.Errorf("user %s roles differ (-want +got); it must read and write %s and nothing else:\n%s", u.Name, db, diff)
			}
			if u.PasswordSecretRef.Name == "" {
				t.Errorf("user %s has no passwordSecretRef", u.Name)
			}
			if u.ConnectionStringSecretName == "" || u.ScramCredentialsSecretName == "" {
				t.Errorf("user %s: connectionStringSecretName %q, scramCredentialsSecretName %q; name both, so a person finds the Secrets",
					u.Name, u.ConnectionStringSecretName, u.ScramCredentialsSecretName)
			}
		})
	}
	if len(users) != len(mdb.Spec.Users) || len(users) != len(dbs) {
		t.Errorf("users stored in databases %v, want one per service database %v and no other", sortedKeys(users), dbs)
	}

	// spec.statefulSet.spec is decoded loosely by the operator's type; decode
	// it strictly into a StatefulSetSpec so a misspelt override fails here.
	for _, doc := range manifest.Split(readK8s(t, "mongodb.yaml")) {
		var raw struct {
			Kind string `json:"kind"`
			Spec struct {
				StatefulSet struct {
					Spec json.RawMessage `json:"spec"`
				} `json:"statefulSet"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal(doc, &raw); err != nil {
			t.Fatal(err)
		}
		if raw.Kind != "MongoDBCommunity" {
			continue
		}
		if err := manifest.DecodeStrict(raw.Spec.StatefulSet.Spec, new(appsv1.StatefulSetSpec)); err != nil {
			t.Errorf("spec.statefulSet.spec is no StatefulSetSpec: %v", err)
		}
	}
}

func TestRabbitmqClusterHoldsQuorumQueues(t *testing.T) {
	rmq := k8sObject[*rabbitmqv1beta1.RabbitmqCluster](t, "rabbitmq.yaml")
	if r := rmq.Spec.Replicas; r == nil || *r != 3 {
		t.Errorf("replicas = %s, want 3: quorum queues need a majority of an odd number of nodes", fmtPtr(r))
	}
	conf := map[string]string{}
	for line := range strings.Lines(rmq.Spec.Rabbitmq.AdditionalConfig) {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(strings.TrimSpace(line), "#") {
			conf[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	for key, want := range map[string]string{
		"default_queue_type": "quorum",
		// The ServiceMonitor's queue-depth series exist only per object.
		"prometheus.return_per_object_metrics": "true",
	} {
		if conf[key] != want {
			t.Errorf("additionalConfig %s = %q, want %q", key, conf[key], want)
		}
	}
	// With TLS the operator's Service names the metrics port prometheus-tls,
	// which the ServiceMonitor does not scrape.
	if rmq.Spec.TLS.SecretName != "" {
		t.Errorf("TLS is on; change the RabbitMQ ServiceMonitor to port prometheus-tls with https")
	}
	if rmq.Spec.Persistence.Storage == nil || rmq.Spec.Resources == nil || rmq.Spec.Resources.Limits.Memory().IsZero() {
		t.Errorf("persistence %v, resources %v: want a volume and a memory limit (RabbitMQ's watermark derives from it)",
			rmq.Spec.Persistence.Storage, rmq.Spec.Resources)
	}
}

func TestRedisFailoverAndItsMasterService(t *testing.T) {
	rf := k8sObject[*redisfailoverv1.RedisFailover](t, "redis.yaml")
	if rf.Spec.Redis.Replicas != 3 || rf.Spec.Sentinel.Replicas != 3 {
		t.Errorf("%d Redis servers and %d Sentinels, want 3 and 3", rf.Spec.Redis.Replicas, rf.Spec.Sentinel.Replicas)
	}
	if rf.Spec.Auth.SecretPath == "" {
		t.Errorf("no auth.secretPath: Redis would take connections without a password")
	}
	data := operatorWorld(t)
	master := k8sObject[*corev1.Service](t, "redis.yaml")
	var selected []string
	for _, p := range slices.Concat(data.pods(), []pod{redisOperator}) {
		if p.namespace == master.Namespace && k8slabels.SelectorFromSet(master.Spec.Selector).Matches(k8slabels.Set(p.labels)) {
			selected = append(selected, p.name)
		}
	}
	if diff := cmp.Diff([]string{data.redisMaster.name}, selected); diff != "" {
		t.Errorf("Service %s selects the wrong pods (-want +selected); REDIS_URL must reach the master only:\n%s", master.Name, diff)
	}
	if len(master.Spec.Ports) != 1 || master.Spec.Ports[0].TargetPort.IntValue() != int(data.redisMaster.ports[0].ContainerPort) {
		t.Errorf("Service %s ports %+v, want one reaching Redis's port %d", master.Name, master.Spec.Ports, data.redisMaster.ports[0].ContainerPort)
	}
}

// TestDisruptionBudgetsCoverTheDataPods checks each budget in k8s/ selects
// exactly one tier's pods, so a drain keeps that tier's majority.
func TestDisruptionBudgetsCoverTheDataPods(t *testing.T) {
	data := operatorWorld(t)
	want := map[string][]string{
		"mongodb":        {data.mongodb.name},
		"rabbitmq":       {data.rabbitmq.name},
		"redis":          {data.redisMaster.name, data.redisReplica.name},
		"redis-sentinel": {data.sentinel.name},
	}
	got := map[string][]string{}
	for _, file := range []string{"mongodb.yaml", "rabbitmq.yaml", "redis.yaml"} {
		for _, pdb := range k8sObjects[*policyv1.PodDisruptionBudget](t, file) {
			for _, p := range data.pods() {
				if p.namespace == pdb.Namespace && selects(t, "PodDisruptionBudget "+pdb.Name, pdb.Spec.Selector, p.labels) {
					got[pdb.Name] = append(got[pdb.Name], p.name)
				}
			}
			if got[pdb.Name] == nil {
				got[pdb.Name] = []string{}
			}
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pods each PodDisruptionBudget selects differ (-want +got):\n%s", diff)
	}
}

// TestOperatorPodsMeetRestrictedPodSecurity checks the overrides that let the
// operators' pods into a namespace enforcing the "restricted" Pod Security
// Standard: the operators' own defaults lack a seccomp profile (all three)
// and dropped capabilities (MongoDB, RabbitMQ). The container names are the
// operators' (see the comments in each file).
func TestOperatorPodsMeetRestrictedPodSecurity(t *testing.T) {
	ns := k8sObject[*corev1.Namespace](t, "namespace.yaml")
	if ns.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
		t.Skipf("namespace %s does not enforce the restricted Pod Security Standard", ns.Name)
	}
	podOK := func(t *testing.T, what string, sc *corev1.PodSecurityContext) {
		t.Helper()
		if sc == nil || sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault || !isTrue(sc.RunAsNonRoot) {
			t.Errorf("%s: pod securityContext %+v, want runAsNonRoot and seccompProfile RuntimeDefault", what, sc)
		}
	}
	containersOK := func(t *testing.T, what string, got []corev1.Container, want ...string) {
		t.Helper()
		var names []string
		for _, c := range got {
			names = append(names, c.Name)
			sc := c.SecurityContext
			if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.Capabilities == nil ||
				!slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
				t.Errorf("%s container %s: securityContext %+v, want allowPrivilegeEscalation false and capabilities drop [ALL]", what, c.Name, sc)
			}
		}
		if diff := cmp.Diff(want, names); diff != "" {
			t.Errorf("%s: overridden containers differ from the operator's (-operator's +overridden):\n%s", what, diff)
		}
	}

	t.Run("mongodb", func(t *testing.T) {
		mdb := k8sObject[*mongodbv1.MongoDBCommunity](t, "mongodb.yaml")
		spec := mdb.Spec.StatefulSetConfiguration.SpecWrapper.Spec.Template.Spec
		podOK(t, "MongoDBCommunity", spec.SecurityContext)
		containersOK(t, "MongoDBCommunity", spec.Containers, "mongod", "mongodb-agent")
		containersOK(t, "MongoDBCommunity init", spec.InitContainers, "mongod-posthook", "mongodb-agent-readinessprobe")
	})
	t.Run("rabbitmq", func(t *testing.T) {
		rmq := k8sObject[*rabbitmqv1beta1.RabbitmqCluster](t, "rabbitmq.yaml")
		sts := rmq.Spec.Override.StatefulSet
		if sts == nil || sts.Spec == nil || sts.Spec.Template == nil || sts.Spec.Template.Spec == nil {
			t.Fatal("RabbitmqCluster has no override.statefulSet.spec.template.spec; the operator's pods would be refused")
		}
		spec := sts.Spec.Template.Spec
		podOK(t, "RabbitmqCluster", spec.SecurityContext)
		containersOK(t, "RabbitmqCluster", spec.Containers, "rabbitmq")
		containersOK(t, "RabbitmqCluster init", spec.InitContainers, "setup-container")
	})
	t.Run("redis", func(t *testing.T) {
		rf := k8sObject[*redisfailoverv1.RedisFailover](t, "redis.yaml")
		podOK(t, "RedisFailover redis", rf.Spec.Redis.SecurityContext)
		podOK(t, "RedisFailover sentinel", rf.Spec.Sentinel.SecurityContext)
	})
}
