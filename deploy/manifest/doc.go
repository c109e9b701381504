// Package manifest renders Helm charts through the Helm SDK and decodes
// Kubernetes manifests strictly: every document must name a kind this package
// knows, and every field in it must exist in that kind's typed struct, with
// the exact spelling and case the API server uses. A field the API server
// would drop or refuse ("contianerPort", "ContainerPort") is an error here,
// long before a cluster sees it.
package manifest
