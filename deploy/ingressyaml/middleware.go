package ingressyaml

import (
	"github.com/travluk/ecom/deploy/ingressyaml/traefik"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Middlewares returns the Middlewares the HTTPRoutes name: the body limit
// and the credential routes' rate limit.
func Middlewares() []*traefik.Middleware {
	tm := metav1.TypeMeta{APIVersion: traefik.GroupVersion.String(), Kind: MiddlewareKind}
	return []*traefik.Middleware{
		{TypeMeta: tm, ObjectMeta: objectMeta(BodyLimitName), Spec: traefik.MiddlewareSpec{
			Buffering: &traefik.Buffering{MaxRequestBodyBytes: MaxRequestBodyBytes},
		}},
		{TypeMeta: tm, ObjectMeta: objectMeta(RateLimitName), Spec: traefik.MiddlewareSpec{
			RateLimit: &traefik.RateLimit{Average: CredentialsAverage, Period: CredentialsPeriod, Burst: CredentialsBurst},
		}},
	}
}
