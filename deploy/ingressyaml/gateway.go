package ingressyaml

import (
	"fmt"

	"github.com/travluk/ecom/dev/ingress"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

const (
	// GatewayClassName selects Traefik's Gateway API implementation.
	GatewayClassName = "traefik"
	// ListenerName and ListenerPort are the Gateway's one HTTP listener. A
	// Traefik listener's port must equal the port of one of its entry
	// points; 8000 is the port of the "web" entry point in Traefik's Helm
	// chart (which its Service exposes as 80).
	ListenerName = "web"
	ListenerPort = 8000
	// CredentialsName is the HTTPRoute holding only the credential routes,
	// the ones the rate limit applies to.
	CredentialsName = "travluk-credentials"

	// MiddlewareGroup and MiddlewareKind are what an ExtensionRef filter
	// names a Traefik Middleware by.
	MiddlewareGroup = "traefik.io" // traefik.GroupVersion.Group
	MiddlewareKind  = "Middleware"
	// BodyLimitName is the Middleware every route passes through:
	// Traefik's buffering, refusing request bodies over MaxRequestBodyBytes
	// with a 413.
	BodyLimitName = "travluk-body-limit"
	// RateLimitName is the Middleware of the credential routes: Traefik's
	// rateLimit, per client address.
	RateLimitName = "travluk-credentials-rate-limit"
)

// MaxRequestBodyBytes is the edge's request body limit, 2 MiB as nginx's
// proxy-body-size 2m was. The services refuse bodies over 1 MiB with a 413
// problem document; the edge's limit sits above theirs so clients get that
// document rather than Traefik's plain-text 413.
const MaxRequestBodyBytes = 2 << 20

// The credential routes' rate limit, per client address: a person logs in a
// few times a minute at most, while a password-guessing script wants
// thousands. It is ingress-nginx's former limit-rpm 30 with
// limit-burst-multiplier 3: 30 requests a minute on average, bursts of 90.
// Over it Traefik answers 429 itself. The customer service's own throttle
// (per account and per client, 429 with Retry-After) stays the authority;
// this limit only keeps a flood from one address off the pods.
const (
	CredentialsAverage = 30
	CredentialsPeriod  = "1m"
	CredentialsBurst   = 90
)

// gatewayDocument and httpRouteDocument are the objects without their status,
// which has no place in a manifest.
type gatewayDocument struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta     `json:"metadata"`
	Spec            gatewayv1.GatewaySpec `json:"spec"`
}

type httpRouteDocument struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta       `json:"metadata"`
	Spec            gatewayv1.HTTPRouteSpec `json:"spec"`
}

// Gateway returns the Gateway Traefik serves the shop on: one HTTP listener,
// any host, taking routes from its own namespace only.
func Gateway() *gatewayv1.Gateway {
	from := gatewayv1.NamespacesFromSame
	return &gatewayv1.Gateway{
		TypeMeta:   metav1.TypeMeta{APIVersion: gatewayv1.GroupVersion.String(), Kind: "Gateway"},
		ObjectMeta: objectMeta(Name),
		Spec: gatewayv1.GatewaySpec{
			GatewayClassName: GatewayClassName,
			Listeners: []gatewayv1.Listener{{
				Name:     ListenerName,
				Port:     ListenerPort,
				Protocol: gatewayv1.HTTPProtocolType,
				AllowedRoutes: &gatewayv1.AllowedRoutes{
					Namespaces: &gatewayv1.RouteNamespaces{From: &from},
				},
			}},
		},
	}
}

// HTTPRoutes builds the HTTPRoutes that route like routes, attached to the
// Gateway's listener: Name with the ordinary routes, CredentialsName with the
// credential ones. Each route of the table is one rule with one match, Exact
// or PathPrefix as the route is, in the table's order, sending to the route's
// Service and port through the body limit; the credential rules pass the rate
// limit first, so a flood is refused before its bodies are read. Traefik
// applies ExtensionRef filters in their order. The Gateway API prefers an Exact match, then the longest
// prefix, over any other, across routes, so the credentials HTTPRoute's
// exact paths win over the ordinary /api/customers prefix, as in Lookup.
func HTTPRoutes(routes []ingress.Route) ([]*gatewayv1.HTTPRoute, error) {
	if err := validate(routes); err != nil {
		return nil, err
	}
	var ordinary, credentials []gatewayv1.HTTPRouteRule
	for _, r := range routes {
		if r.Credential {
			credentials = append(credentials, rule(r, RateLimitName, BodyLimitName))
		} else {
			ordinary = append(ordinary, rule(r, BodyLimitName))
		}
	}
	out := []*gatewayv1.HTTPRoute{httpRoute(Name, ordinary)}
	if len(credentials) > 0 {
		out = append(out, httpRoute(CredentialsName, credentials))
	}
	for _, r := range out {
		// The API's own bound (maxItems) on an HTTPRoute's rules.
		if len(r.Spec.Rules) > 16 {
			return nil, fmt.Errorf("HTTPRoute %s: %d rules, more than the 16 the Gateway API allows", r.Name, len(r.Spec.Rules))
		}
	}
	return out, nil
}

func httpRoute(name string, rules []gatewayv1.HTTPRouteRule) *gatewayv1.HTTPRoute {
	section := gatewayv1.SectionName(ListenerName)
	return &gatewayv1.HTTPRoute{
		TypeMeta:   metav1.TypeMeta{APIVersion: gatewayv1.GroupVersion.String(), Kind: "HTTPRoute"},
		ObjectMeta: objectMeta(name),
		Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{
				ParentRefs: []gatewayv1.ParentReference{{Name: Name, SectionName: &section}},
			},
			Rules: rules,
		},
	}
}

func rule(r ingress.Route, middlewares ...string) gatewayv1.HTTPRouteRule {
	matchType := gatewayv1.PathMatchPathPrefix
	if r.Exact {
		matchType = gatewayv1.PathMatchExact
	}
	value := r.Prefix
	port := gatewayv1.PortNumber(r.Port)
	filters := make([]gatewayv1.HTTPRouteFilter, 0, len(middlewares))
	for _, m := range middlewares {
		filters = append(filters, gatewayv1.HTTPRouteFilter{
			Type: gatewayv1.HTTPRouteFilterExtensionRef,
			ExtensionRef: &gatewayv1.LocalObjectReference{
				Group: MiddlewareGroup,
				Kind:  MiddlewareKind,
				Name:  gatewayv1.ObjectName(m),
			},
		})
	}
	return gatewayv1.HTTPRouteRule{
		Matches: []gatewayv1.HTTPRouteMatch{{
			Path: &gatewayv1.HTTPPathMatch{Type: &matchType, Value: &value},
		}},
		Filters: filters,
		BackendRefs: []gatewayv1.HTTPBackendRef{{
			BackendRef: gatewayv1.BackendRef{
				BackendObjectReference: gatewayv1.BackendObjectReference{
					Name: gatewayv1.ObjectName(r.Service),
					Port: &port,
				},
			},
		}},
	}
}
