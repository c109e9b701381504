package images

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/travluk/ecom/dev/testenv"
)

// nonRootUser is the user and group the images run as: distroless's
// "nonroot", the number the charts' securityContext names.
const nonRootUser = "65532:65532"

// hostCABundle is the bundle build.sh copies in, where Debian keeps it and
// where Go's crypto/x509 looks first.
const hostCABundle = "/etc/ssl/certs/ca-certificates.crt"

// Addresses nothing listens on. The product and order services only reach
// the JWKS endpoint when a token arrives, and connect to RabbitMQ in the
// background, retrying: /healthz answers without either. Using no broker
// also leaves no queues behind on CI's.
const (
	noJWKS   = "http://127.0.0.1:1/.well-known/jwks.json"
	noBroker = "amqp://guest:guest@127.0.0.1:1/"
)

// healthDeadline bounds a container's start: the service creates its MongoDB
// indexes before it listens.
const healthDeadline = 90 * time.Second

// TestServiceImagesBuildAndServe builds each service's image with
// images/build.sh as skaffold does for a remote cluster, pushing it
// (PUSH_IMAGE=true) to a registry of the test's own; then checks what a
// user pulling it would find, and starts it.
func TestServiceImagesBuildAndServe(t *testing.T) {
	requireTools(t, "podman", "buildah")
	root, script := buildScript(t)
	hostCA, err := os.ReadFile(hostCABundle)
	if err != nil {
		t.Fatalf("the host has no CA bundle to copy into the images: %v", err)
	}
	reg, registryHost, registriesConf := startRegistry(t)
	run := randomHex(t, 4)
	version := "v0.0.0-imagetest." + run
	stores := map[string]string{
		"MONGODB_URI": testenv.Mongo(t),
		"REDIS_URL":   testenv.Redis(t),
	}

	tests := []struct {
		service string
		env     map[string]string // beyond the stores, the database and HTTP_ADDR
	}{
		{"customer", map[string]string{"JWT_SIGNING_KEY": signingKeyPEM(t)}},
		{"product", map[string]string{"JWKS_URL": noJWKS, "AMQP_URL": noBroker}},
		{"order", map[string]string{"JWKS_URL": noJWKS, "AMQP_URL": noBroker}},
	}
	for _, tt := range tests {
		t.Run(tt.service, func(t *testing.T) {
			repo := "travluk/" + tt.service
			ref := registryHost + "/" + repo + ":" + run
			started := time.Now()
			buildImage(t, script, tt.service, ref, version,
				"PUSH_IMAGE=true", "CONTAINERS_REGISTRIES_CONF="+registriesConf)
			img := inspectImage(t, ref)
			t.Logf("%s: built in %s, %.1f MB uncompressed", tt.service, time.Since(started).Round(time.Second), float64(img.Size)/1e6)
			checkPushed(t, reg, repo, run, version)

			entrypoint := "/" + tt.service
			checkConfig(t, img, entrypoint)
			checkMetadata(t, img, map[string]string{
				"org.opencontainers.image.source":   "https://github.com/travluk/ecom",
				"org.opencontainers.image.version":  version,
				"org.opencontainers.image.revision": gitHead(t, root),
				"org.opencontainers.image.title":    "travluk-" + tt.service,
			}, started)
			checkFilesystem(t, exportFilesystem(t, ref), tt.service, entrypoint, hostCA)

			env := maps.Clone(tt.env)
			maps.Copy(env, stores)
			env["MONGODB_DATABASE"] = testenv.Database(t)
			addr := testenv.FreeAddr(t)
			env["HTTP_ADDR"] = addr
			ctr := startContainer(t, ref, env)
			waitHealthy(t, ctr, "http://"+addr+"/healthz", healthDeadline)
			checkProcessUser(t, ctr)
		})
	}
}

// buildScript returns the repository's root and images/build.sh in it.
func buildScript(t *testing.T) (root, script string) {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	script = filepath.Join(root, "images", "build.sh")
	if _, err := os.Stat(script); err != nil {
		t.Fatalf("the image build script is missing: %v", err)
	}
	return root, script
}

// requireTools skips the test when a tool is missing, unless
// REQUIRE_SERVICES=1 says this machine must have it.
func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	var missing []string
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("%s not installed: the image test builds with buildah and runs with podman (apt-get install podman buildah runc)", strings.Join(missing, " and "))
	if os.Getenv("REQUIRE_SERVICES") == "1" {
		t.Fatal(msg + "; REQUIRE_SERVICES=1 requires them")
	}
	t.Skip(msg + "; REQUIRE_SERVICES=1 turns this skip into a failure")
}

// buildSettings are the variables build.sh reads besides its arguments.
// The test sets those it checks and clears the others, which a developer
// may have exported: PUSH_IMAGE would push the test's image.
var buildSettings = []string{"VERSION", "PUSH_IMAGE", "IMAGE_SOURCE", "IMAGE_LICENSES", "SOURCE_DATE_EPOCH", "GOARCH", "GOOS"}

// buildImage runs build.sh from a directory of its own, as skaffold does
// from wherever it is started, with VERSION and the settings given
// ("NAME=value"), and removes the image when t ends.
func buildImage(t *testing.T, script, service, ref, version string, settings ...string) {
	t.Helper()
	t.Cleanup(func() { podman(t, "rmi", "--force", "--ignore", ref) })
	cmd := exec.Command(script, service, ref)
	cmd.Dir = t.TempDir()
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return slices.Contains(buildSettings, name)
	})
	cmd.Env = append(cmd.Env, "VERSION="+version)
	cmd.Env = append(cmd.Env, settings...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("images/build.sh %s %s: %v\n%s", service, ref, err, out)
	}
}

// imageInfo is the part of `podman image inspect` the checks read.
type imageInfo struct {
	Architecture string
	Os           string
	Size         int64
	Config       struct {
		User         string
		ExposedPorts map[string]struct{}
		Entrypoint   []string
		Cmd          []string
		Labels       map[string]string
	}
	Annotations map[string]string
}

func inspectImage(t *testing.T, ref string) imageInfo {
	t.Helper()
	var infos []imageInfo
	decodeJSON(t, podman(t, "image", "inspect", ref), &infos)
	if len(infos) != 1 {
		t.Fatalf("podman image inspect %s: %d images, want 1", ref, len(infos))
	}
	return infos[0]
}

// checkConfig checks how a container of the image starts: as the non-root
// user, with the service binary and nothing else on its command line,
// listening where the charts' probes knock.
func checkConfig(t *testing.T, img imageInfo, entrypoint string) {
	t.Helper()
	if img.Config.User != nonRootUser {
		t.Errorf("the image runs as user %q, want the non-root %q", img.Config.User, nonRootUser)
	}
	if diff := cmp.Diff([]string{entrypoint}, img.Config.Entrypoint); diff != "" {
		t.Errorf("the image's entrypoint is not the service binary (-want +got):\n%s", diff)
	}
	if len(img.Config.Cmd) != 0 {
		t.Errorf("the image passes arguments %q to the service, which reads only its environment", img.Config.Cmd)
	}
	if diff := cmp.Diff([]string{"8080/tcp"}, slices.Sorted(maps.Keys(img.Config.ExposedPorts))); diff != "" {
		t.Errorf("the image's exposed ports (-want +got):\n%s", diff)
	}
	if img.Os != "linux" || img.Architecture != runtime.GOARCH {
		t.Errorf("the image is for %s/%s, want linux/%s", img.Os, img.Architecture, runtime.GOARCH)
	}
}

// ociKeys are the OCI keys build.sh sets, each both as a label (shown by
// `podman inspect`, `docker inspect`) and as a manifest annotation (shown
// by registries and `skopeo inspect`).
var ociKeys = []string{
	"org.opencontainers.image.source",
	"org.opencontainers.image.version",
	"org.opencontainers.image.revision",
	"org.opencontainers.image.title",
	"org.opencontainers.image.description",
	"org.opencontainers.image.licenses",
	"org.opencontainers.image.created",
}

// checkMetadata checks every OCI key is set, equally as label and as
// annotation, to the value in want where want names one; and that the
// creation time is this build's.
func checkMetadata(t *testing.T, img imageInfo, want map[string]string, built time.Time) {
	t.Helper()
	for _, key := range ociKeys {
		label, annotation := img.Config.Labels[key], img.Annotations[key]
		switch {
		case label == "":
			t.Errorf("the image has no label %s", key)
		case annotation == "":
			t.Errorf("the image has no annotation %s", key)
		case label != annotation:
			t.Errorf("%s: label %q, annotation %q; want them equal", key, label, annotation)
		case want[key] != "" && label != want[key]:
			t.Errorf("%s = %q, want %q", key, label, want[key])
		}
	}
	created, err := time.Parse(time.RFC3339, img.Config.Labels["org.opencontainers.image.created"])
	if err != nil {
		t.Errorf("org.opencontainers.image.created is not an RFC 3339 time: %v", err)
	} else if created.Before(built.Add(-time.Second)) || created.After(time.Now()) {
		t.Errorf("org.opencontainers.image.created = %s, want the build's time (%s to now)", created, built.Format(time.RFC3339))
	}
}

// gitHead is the commit the images are built from, or "" (not checked)
// outside a git checkout.
func gitHead(t *testing.T, root string) string {
	t.Helper()
	out, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Logf("no git revision to compare the revision label with: %v", err)
		return ""
	}
	return string(bytes.TrimSpace(out))
}

// startContainer starts the image with the environment given and removes
// the container when t ends. It runs under the restrictions the charts'
// securityContext sets: read-only root filesystem, no capabilities, no
// privilege escalation.
func startContainer(t *testing.T, ref string, env map[string]string) string {
	t.Helper()
	args := []string{"run", "--detach",
		// This machine's quirks, not the image's: crun refuses its hybrid
		// cgroups ("cgroups in hybrid mode not supported"), and the default
		// ulimits cannot be set ("setrlimit RLIMIT_NOFILE: Operation not
		// permitted"). runc with explicit ulimits runs everywhere.
		"--runtime", "runc", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
		// The stores run inside this test process, on 127.0.0.1.
		"--network", "host",
		"--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
	}
	for _, name := range slices.Sorted(maps.Keys(env)) {
		args = append(args, "--env", name+"="+env[name])
	}
	args = append(args, ref)
	id := string(bytes.TrimSpace(podman(t, args...)))
	t.Cleanup(func() { podman(t, "rm", "--force", "--time", "0", id) })
	return id
}

// podman runs podman, failing t with its output on error; during cleanup
// it only logs, so that one failed removal does not hide the others.
func podman(t *testing.T, args ...string) []byte {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command("podman", args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := fmt.Sprintf("podman %s: %v\n%s", args[0], err, stderr.Bytes())
		if isCleanup(args) {
			t.Log(msg)
		} else {
			t.Fatal(msg)
		}
	}
	return out
}

func isCleanup(args []string) bool { return args[0] == "rm" || args[0] == "rmi" }

func signingKeyPEM(t *testing.T) string {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}
