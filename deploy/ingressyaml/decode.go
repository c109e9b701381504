package ingressyaml

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/travluk/ecom/deploy/ingressyaml/traefik"
	"github.com/travluk/ecom/deploy/manifest"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"
)

// edgeKinds are the kinds of k8s/gateway.yaml that manifest.Decode does not
// know, with a constructor of the Go type each decodes into.
var edgeKinds = map[schema.GroupVersionKind]func() any{
	{Group: gatewayv1.GroupName, Version: "v1", Kind: "Gateway"}:   func() any { return new(gatewayv1.Gateway) },
	{Group: gatewayv1.GroupName, Version: "v1", Kind: "HTTPRoute"}: func() any { return new(gatewayv1.HTTPRoute) },
	traefik.GroupVersion.WithKind(MiddlewareKind):                  func() any { return new(traefik.Middleware) },
}

// Decode splits stream and decodes every document strictly, as
// manifest.DecodeAll does: the Gateway API's Gateway and HTTPRoute into
// their sigs.k8s.io/gateway-api types, Traefik's Middleware into traefik.Middleware,
// and every other kind through manifest.Decode.
func Decode(source string, stream []byte) ([]manifest.Object, error) {
	var objs []manifest.Object
	var errs []error
	for i, doc := range manifest.Split(stream) {
		obj, err := decode(fmt.Sprintf("%s#%d", source, i), bytes.TrimSpace(doc))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		objs = append(objs, obj)
	}
	return objs, errors.Join(errs...)
}

func decode(source string, doc []byte) (manifest.Object, error) {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return manifest.Object{}, fmt.Errorf("%s: read apiVersion and kind: %w", source, err)
	}
	gvk := tm.GroupVersionKind()
	newValue, ok := edgeKinds[gvk]
	if !ok {
		return manifest.Decode(source, doc)
	}
	value := newValue()
	if err := manifest.DecodeStrict(doc, value); err != nil {
		return manifest.Object{}, fmt.Errorf("%s: %s: %w", source, gvk.Kind, err)
	}
	return manifest.Object{Source: source, GVK: gvk, Name: value.(metav1.Object).GetName(), Value: value}, nil
}
