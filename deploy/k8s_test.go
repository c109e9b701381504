package deploy_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/travluk/ecom/deploy/ingressyaml"
	"github.com/travluk/ecom/deploy/manifest"
	"github.com/travluk/ecom/dev/ingress"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

const k8sDir = "../k8s"

// kustomization is the part of kustomize's Kustomization k8s/ uses; decoding
// into it strictly refuses any other field, so a new one is added here first.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Resources  []string `json:"resources"`
}

// k8sManifests returns the names of the YAML files in k8s/ that kustomize
// applies: all of them but kustomization.yaml.
func k8sManifests(t *testing.T) []string {
	t.Helper()
	var names []string
	for _, pattern := range []string{"*.yaml", "*.yml"} {
		m, err := filepath.Glob(filepath.Join(k8sDir, pattern))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range m {
			if base := filepath.Base(p); base != "kustomization.yaml" {
				names = append(names, base)
			}
		}
	}
	slices.Sort(names)
	if len(names) == 0 {
		t.Fatalf("no manifests in %s", k8sDir)
	}
	return names
}

func readK8s(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(k8sDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestK8sManifestsDecodeStrictly(t *testing.T) {
	var all []manifest.Object
	for _, name := range k8sManifests(t) {
		t.Run(name, func(t *testing.T) {
			objs, err := manifest.DecodeAll(name, readK8s(t, name))
			if err != nil {
				t.Fatalf("does not decode strictly into the Kubernetes types:\n%v", err)
			}
			if len(objs) == 0 {
				t.Fatalf("holds no object")
			}
			all = append(all, objs...)
		})
	}

	var namespace string
	for _, o := range all {
		if ns, ok := o.Value.(*corev1.Namespace); ok {
			namespace = ns.Name
		}
	}
	if namespace != ingressyaml.Namespace {
		t.Fatalf("k8s/ creates namespace %q, want %q", namespace, ingressyaml.Namespace)
	}
	for _, o := range all {
		if _, ok := o.Value.(*corev1.Namespace); ok {
			continue
		}
		if o.Value.(interface{ GetNamespace() string }).GetNamespace() != namespace {
			t.Errorf("%s: %s %s is not in namespace %s", o.Source, o.GVK.Kind, o.Name, namespace)
		}
	}
}

func TestKustomizationListsEveryManifest(t *testing.T) {
	var k kustomization
	if err := manifest.DecodeStrict(readK8s(t, "kustomization.yaml"), &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		t.Errorf("kustomization.yaml is %s %s, want kustomize.config.k8s.io/v1beta1 Kustomization", k.APIVersion, k.Kind)
	}
	got := slices.Sorted(slices.Values(k.Resources))
	if diff := cmp.Diff(k8sManifests(t), got); diff != "" {
		t.Errorf("kustomization.yaml resources differ from the files in k8s/ (-files +listed):\n%s", diff)
	}
}

func TestIngressYAMLIsRenderedFromRouteTable(t *testing.T) {
	want, err := ingressyaml.Render(ingress.Routes())
	if err != nil {
		t.Fatalf("Render(ingress.Routes()): %v", err)
	}
	got := readK8s(t, "ingress.yaml")
	if diff := cmp.Diff(lines(want), lines(got)); diff != "" {
		t.Errorf("k8s/ingress.yaml is not the rendering of dev/ingress.Routes(); regenerate it with\n"+
			"\tcd deploy && go run ./cmd/render-ingress -o ../k8s/ingress.yaml\n(-rendered +file):\n%s", diff)
	}

	objs, err := manifest.DecodeAll("ingress.yaml", got)
	if err != nil {
		t.Fatal(err)
	}
	for _, obj := range objs {
		ing := obj.Value.(*networkingv1.Ingress)
		if c := ing.Spec.IngressClassName; c == nil || *c != "nginx" {
			t.Errorf("%s: ingressClassName = %v, want nginx", ing.Name, c)
		}
	}
}

func lines(b []byte) []string { return strings.Split(string(b), "\n") }
