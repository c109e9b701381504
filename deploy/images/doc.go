// Package images holds no code of its own: its test keeps images/build.sh,
// the daemonless image build behind `make images`, skaffold and Tilt, true to
// what the charts assume. It builds each service's image with buildah, pushing
// it (PUSH_IMAGE=true, as skaffold asks) to an in-memory registry, and checks
// what a user pulling it would see: a scratch filesystem with one static
// binary and the host's CA bundle, no shell, the non-root user 65532, the OCI
// labels and annotations, port 8080. Then it starts the image with podman,
// under the charts' security context, against the test's stores and waits for
// 200 from /healthz.
//
// Without podman and buildah the test skips, unless REQUIRE_SERVICES=1 (as in
// CI), which turns the skip into a failure.
package images
