package images

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// startRegistry starts an in-memory registry for the test and returns it,
// its host:port, and a registries.conf that tells buildah (through
// CONTAINERS_REGISTRIES_CONF) it speaks plain HTTP, as an operator would
// for a local registry.
func startRegistry(t *testing.T) (reg *registry, host, conf string) {
	t.Helper()
	reg = newRegistry()
	srv := httptest.NewServer(reg)
	t.Cleanup(srv.Close)
	host = strings.TrimPrefix(srv.URL, "http://")
	conf = filepath.Join(t.TempDir(), "registries.conf")
	if err := os.WriteFile(conf, []byte("[[registry]]\nlocation = \""+host+"\"\ninsecure = true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return reg, host, conf
}

// checkPushed checks the registry holds repo:tag as build.sh pushed it with
// PUSH_IMAGE=true: its manifest with the OCI annotations, its config and
// every layer.
func checkPushed(t *testing.T, reg *registry, repo, tag, version string) {
	t.Helper()
	raw, ok := reg.manifest(repo, tag)
	if !ok {
		t.Errorf("with PUSH_IMAGE=true the registry received no manifest for %s:%s", repo, tag)
		return
	}
	var manifest struct {
		Config      struct{ Digest string }
		Layers      []struct{ Digest string }
		Annotations map[string]string
	}
	decodeJSON(t, raw, &manifest)
	if got := manifest.Annotations["org.opencontainers.image.version"]; got != version {
		t.Errorf("the pushed manifest's org.opencontainers.image.version = %q, want %q", got, version)
	}
	for _, l := range manifest.Layers {
		if _, ok := reg.blob(l.Digest); !ok {
			t.Errorf("the registry did not receive layer %s", l.Digest)
		}
	}
	rawConfig, ok := reg.blob(manifest.Config.Digest)
	if !ok {
		t.Errorf("the registry did not receive the image config %s", manifest.Config.Digest)
		return
	}
	var config struct{ Config struct{ User string } }
	decodeJSON(t, rawConfig, &config)
	if config.Config.User != nonRootUser {
		t.Errorf("the pushed image runs as user %q, want %q", config.Config.User, nonRootUser)
	}
}

// registry is an in-memory registry speaking just enough of the OCI
// distribution API for `buildah push`: blob uploads (chunked or in one
// request) and manifests by tag. It keeps what it receives for the test to
// read.
type registry struct {
	mu        sync.Mutex
	blobs     map[string][]byte // by digest
	manifests map[string][]byte // by "repository:tag"
	uploads   map[string]*bytes.Buffer
}

func newRegistry() *registry {
	return &registry{blobs: map[string][]byte{}, manifests: map[string][]byte{}, uploads: map[string]*bytes.Buffer{}}
}

// manifest returns the manifest pushed as repo:tag.
func (r *registry) manifest(repo, tag string) ([]byte, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.manifests[repo+":"+tag]
	return m, ok
}

// blob returns the blob with the given digest.
func (r *registry) blob(digest string) ([]byte, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, ok := r.blobs[digest]
	return b, ok
}

func (r *registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	p := strings.TrimPrefix(req.URL.Path, "/v2/")
	switch {
	case p == "" || p == "/":
		w.WriteHeader(http.StatusOK)
	case strings.Contains(p, "/blobs/uploads/"):
		repo, id, _ := strings.Cut(p, "/blobs/uploads/")
		r.upload(w, req, repo, id, body)
	case strings.Contains(p, "/blobs/"):
		_, digest, _ := strings.Cut(p, "/blobs/")
		b, ok := r.blobs[digest]
		if !ok {
			http.NotFound(w, req)
			return
		}
		w.Header().Set("Docker-Content-Digest", digest)
		w.Header().Set("Content-Length", fmt.Sprint(len(b)))
		if req.Method == http.MethodGet {
			_, _ = w.Write(b)
		}
	case strings.Contains(p, "/manifests/"):
		repo, ref, _ := strings.Cut(p, "/manifests/")
		key := repo + ":" + ref
		switch req.Method {
		case http.MethodPut:
			r.manifests[key] = body
			w.Header().Set("Docker-Content-Digest", digestOf(body))
			w.WriteHeader(http.StatusCreated)
		default:
			m, ok := r.manifests[key]
			if !ok {
				http.NotFound(w, req)
				return
			}
			w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
			w.Header().Set("Docker-Content-Digest", digestOf(m))
			if req.Method == http.MethodGet {
				_, _ = w.Write(m)
			}
		}
	default:
		http.NotFound(w, req)
	}
}

// upload serves POST (start, or a whole blob with ?digest=), PATCH (a
// chunk) and PUT (the last chunk, with ?digest=) of a blob upload.
func (r *registry) upload(w http.ResponseWriter, req *http.Request, repo, id string, body []byte) {
	if req.Method == http.MethodPost {
		b := make([]byte, 8)
		_, _ = rand.Read(b) // never fails (crypto/rand)
		id = hex.EncodeToString(b)
		r.uploads[id] = new(bytes.Buffer)
	}
	buf, ok := r.uploads[id]
	if !ok {
		http.NotFound(w, req)
		return
	}
	buf.Write(body)
	digest := req.URL.Query().Get("digest")
	if digest == "" {
		w.Header().Set("Location", "/v2/"+repo+"/blobs/uploads/"+id)
		w.Header().Set("Range", fmt.Sprintf("0-%d", max(buf.Len()-1, 0)))
		w.Header().Set("Docker-Upload-UUID", id)
		w.WriteHeader(http.StatusAccepted)
		return
	}
	delete(r.uploads, id)
	if got := digestOf(buf.Bytes()); got != digest {
		http.Error(w, "digest "+got+", announced "+digest, http.StatusBadRequest)
		return
	}
	r.blobs[digest] = bytes.Clone(buf.Bytes())
	w.Header().Set("Location", "/v2/"+repo+"/blobs/"+digest)
	w.Header().Set("Docker-Content-Digest", digest)
	w.WriteHeader(http.StatusCreated)
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}
