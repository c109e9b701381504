// Package traefik holds the part of Traefik's traefik.io/v1alpha1 Middleware
// custom resource (pkg/provider/kubernetes/crd/traefikio/v1alpha1 in
// github.com/traefik/traefik/v3 v3.6) that the edge uses. Traefik's module is
// far too large a dependency for a few structs, so their fields are repeated
// here; decoding strictly into them refuses any other field.
package traefik

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is the API group and version of Traefik's custom resources.
var GroupVersion = schema.GroupVersion{Group: "traefik.io", Version: "v1alpha1"}

// Middleware is a Traefik Middleware: one kind of middleware, which a
// router, or a Gateway API HTTPRoute's ExtensionRef filter, applies.
type Middleware struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              MiddlewareSpec `json:"spec"`
}

// MiddlewareSpec holds one kind of middleware.
type MiddlewareSpec struct {
	RateLimit *RateLimit `json:"rateLimit,omitempty"`
	Buffering *Buffering `json:"buffering,omitempty"`
}

// RateLimit is Traefik's rateLimit: on average Average requests per Period,
// bursts of up to Burst, per source. Without a sourceCriterion the source is
// the request's remote address. Over the limit Traefik answers 429.
type RateLimit struct {
	Average int64  `json:"average"`
	Period  string `json:"period"`
	Burst   int64  `json:"burst"`
}

// Buffering is Traefik's buffering: it reads the whole request (in memory up
// to 1 MiB, on disk beyond) and answers 413 to a body over
// MaxRequestBodyBytes without forwarding it. It buffers the response too.
type Buffering struct {
	MaxRequestBodyBytes int64 `json:"maxRequestBodyBytes"`
}
