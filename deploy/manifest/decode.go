package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	vpav1 "k8s.io/autoscaler/vertical-pod-autoscaler/pkg/apis/autoscaling.k8s.io/v1"

	mongodbv1 "github.com/mongodb/mongodb-kubernetes-operator/api/v1"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	rabbitmqv1beta1 "github.com/rabbitmq/cluster-operator/v2/api/v1beta1"
	redisfailoverv1 "github.com/spotahome/redis-operator/api/redisfailover/v1"
	"github.com/travluk/ecom/deploy/ingressyaml/traefik"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Object is one decoded manifest document.
type Object struct {
	Source string                  // file, or chart template, the document came from
	GVK    schema.GroupVersionKind // from its apiVersion and kind
	Name   string
	Value  any // pointer to the typed struct, e.g. *appsv1.Deployment
}

// kinds maps every kind the project ships to a constructor of its typed
// struct: the Kubernetes core types, and the Go types the operators publish
// for their custom resources (VPA, Prometheus Operator, RabbitMQ Cluster
// Operator, MongoDB Community Operator, Spotahome's Redis operator).
var kinds = map[schema.GroupVersionKind]func() any{
	corev1.SchemeGroupVersion.WithKind("Pod"):                      func() any { return new(corev1.Pod) },
	networkingv1.SchemeGroupVersion.WithKind("NetworkPolicy"):      func() any { return new(networkingv1.NetworkPolicy) },
	monitoringv1.SchemeGroupVersion.WithKind("ServiceMonitor"):     func() any { return new(monitoringv1.ServiceMonitor) },
	monitoringv1.SchemeGroupVersion.WithKind("PrometheusRule"):     func() any { return new(monitoringv1.PrometheusRule) },
	mongodbv1.GroupVersion.WithKind("MongoDBCommunity"):            func() any { return new(mongodbv1.MongoDBCommunity) },
	rabbitmqv1beta1.GroupVersion.WithKind("RabbitmqCluster"):       func() any { return new(rabbitmqv1beta1.RabbitmqCluster) },
	redisfailoverv1.SchemeGroupVersion.WithKind("RedisFailover"):   func() any { return new(redisfailoverv1.RedisFailover) },
	appsv1.SchemeGroupVersion.WithKind("Deployment"):               func() any { return new(appsv1.Deployment) },
	corev1.SchemeGroupVersion.WithKind("Service"):                  func() any { return new(corev1.Service) },
	corev1.SchemeGroupVersion.WithKind("ConfigMap"):                func() any { return new(corev1.ConfigMap) },
	corev1.SchemeGroupVersion.WithKind("ServiceAccount"):           func() any { return new(corev1.ServiceAccount) },
	corev1.SchemeGroupVersion.WithKind("Namespace"):                func() any { return new(corev1.Namespace) },
	policyv1.SchemeGroupVersion.WithKind("PodDisruptionBudget"):    func() any { return new(policyv1.PodDisruptionBudget) },
	networkingv1.SchemeGroupVersion.WithKind("Ingress"):            func() any { return new(networkingv1.Ingress) },
	vpav1.SchemeGroupVersion.WithKind("VerticalPodAutoscaler"):     func() any { return new(vpav1.VerticalPodAutoscaler) },
	{Group: gatewayv1.GroupName, Version: "v1", Kind: "Gateway"}:   func() any { return new(gatewayv1.Gateway) },
	{Group: gatewayv1.GroupName, Version: "v1", Kind: "HTTPRoute"}: func() any { return new(gatewayv1.HTTPRoute) },
	traefik.GroupVersion.WithKind("Middleware"):                    func() any { return new(traefik.Middleware) },
	autoscalingv2.SchemeGroupVersion.WithKind("HorizontalPodAutoscaler"): func() any {
		return new(autoscalingv2.HorizontalPodAutoscaler)
	},
}

// Kinds lists the apiVersion/kind pairs Decode accepts, sorted.
func Kinds() []string {
	var out []string
	for gvk := range kinds {
		out = append(out, gvk.GroupVersion().String()+" "+gvk.Kind)
	}
	sort.Strings(out)
	return out
}

var separator = regexp.MustCompile(`(?m)^---[ \t]*(#.*)?$`)

// Split cuts a multi-document YAML stream at its "---" lines and drops
// documents holding nothing but blank lines and comments.
func Split(stream []byte) [][]byte {
	var docs [][]byte
	for _, doc := range separator.Split(string(stream), -1) {
		if isEmpty(doc) {
			continue
		}
		docs = append(docs, []byte(doc))
	}
	return docs
}

func isEmpty(doc string) bool {
	for line := range strings.Lines(doc) {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			return false
		}
	}
	return true
}

// Decode decodes one YAML document strictly into the typed struct of its kind.
// It fails on a kind it does not know, on a duplicate key, and on a field the
// struct lacks, including one that differs only in case; every offending
// field is named in the error.
func Decode(source string, doc []byte) (Object, error) {
	data, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return Object{}, fmt.Errorf("%s: %w", source, err)
	}
	var tm metav1.TypeMeta
	if err := kjson.UnmarshalCaseSensitivePreserveInts(data, &tm); err != nil {
		return Object{}, fmt.Errorf("%s: read apiVersion and kind: %w", source, err)
	}
	gvk := tm.GroupVersionKind()
	newValue, ok := kinds[gvk]
	if !ok {
		return Object{}, fmt.Errorf("%s: no typed struct for apiVersion %q kind %q (known: %s)",
			source, tm.APIVersion, tm.Kind, strings.Join(Kinds(), ", "))
	}
	value := newValue()
	if err := decodeStrict(data, value); err != nil {
		return Object{}, fmt.Errorf("%s: %s: %w", source, gvk.Kind, err)
	}
	meta, _ := value.(metav1.Object)
	return Object{Source: source, GVK: gvk, Name: meta.GetName(), Value: value}, nil
}

// DecodeStrict decodes one YAML document into v, failing on duplicate keys and
// on fields v does not have, like Decode, for types that are not Kubernetes
// objects (a kustomization file, say).
func DecodeStrict(doc []byte, v any) error {
	data, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return err
	}
	return decodeStrict(data, v)
}

// decodeStrict is the API server's own strict decoding: case-sensitive field
// names, unknown and duplicate fields reported, integers kept as integers.
func decodeStrict(data []byte, v any) error {
	strictErrs, err := kjson.UnmarshalStrict(data, v)
	if err != nil {
		return err
	}
	if len(strictErrs) > 0 {
		return errors.Join(strictErrs...)
	}
	return nil
}

// DecodeAll splits stream and decodes every document in it.
func DecodeAll(source string, stream []byte) ([]Object, error) {
	var objs []Object
	var errs []error
	for i, doc := range Split(stream) {
		obj, err := Decode(fmt.Sprintf("%s#%d", source, i), bytes.TrimSpace(doc))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		objs = append(objs, obj)
	}
	return objs, errors.Join(errs...)
}
