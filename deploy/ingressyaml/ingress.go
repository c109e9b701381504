package ingressyaml

import (
	"github.com/travluk/ecom/dev/ingress"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ingressDocument is an Ingress without its status, which has no place in a
// manifest.
type ingressDocument struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta        `json:"metadata"`
	Spec            networkingv1.IngressSpec `json:"spec"`
}

// Ingress builds the plain Ingress that routes like routes: one path per
// route in the table's order, for any host, Exact or Prefix as the route is.
//
// It has no annotations and no ingressClassName, on purpose: it is for a
// cluster without the Gateway API, whose default IngressClass (the one
// annotated ingressclass.kubernetes.io/is-default-class) takes it; set
// spec.ingressClassName with a kustomize patch where there is none. Without
// controller-specific annotations it carries neither the body limit nor the
// credential paths' rate limit of k8s/gateway.yaml; the services' own limits
// (1 MiB bodies, the login throttle) still hold.
func Ingress(routes []ingress.Route) (*networkingv1.Ingress, error) {
	if err := validate(routes); err != nil {
		return nil, err
	}
	paths := make([]networkingv1.HTTPIngressPath, 0, len(routes))
	for _, r := range routes {
		pathType := networkingv1.PathTypePrefix
		if r.Exact {
			pathType = networkingv1.PathTypeExact
		}
		paths = append(paths, networkingv1.HTTPIngressPath{
			Path:     r.Prefix,
			PathType: &pathType,
			Backend: networkingv1.IngressBackend{
				Service: &networkingv1.IngressServiceBackend{
					Name: r.Service,
					Port: networkingv1.ServiceBackendPort{Number: int32(r.Port)},
				},
			},
		})
	}
	return &networkingv1.Ingress{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "Ingress"},
		ObjectMeta: objectMeta(Name),
		Spec: networkingv1.IngressSpec{
			Rules: []networkingv1.IngressRule{{
				IngressRuleValue: networkingv1.IngressRuleValue{
					HTTP: &networkingv1.HTTPIngressRuleValue{Paths: paths},
				},
			}},
		},
	}, nil
}
