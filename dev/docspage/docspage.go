// Package docspage serves the page `make run` shows on /: the services, links
// to their OpenAPI documents and to the AsyncAPI document of the events, and
// a viewer that renders them in the browser. The viewer is this package's own
// files (page/), embedded: the page needs no network and no CDN.
package docspage

import (
	"bytes"
	"embed"
	"errors"

	"html/template"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"

	"sigs.k8s.io/yaml"
)

//go:embed page
var page embed.FS

// Service is one API the page lists; its document is served by the service
// itself, through the stand-in, at OpenAPIPath.
type Service struct {
	Name, Title, OpenAPIPath string
}

// Handler serves GET (and HEAD) / and /docs/*: the page, its viewer, and the
// AsyncAPI document as JSON (asyncAPI, as LoadAsyncAPI returns it; nil
// answers 404 there, and the page says it could not render it).
func Handler(services []Service, asyncAPI []byte) (http.Handler, error) {
	tmpl, err := template.ParseFS(page, "page/index.html")
	if err != nil {
		return nil, err
	}
	var index bytes.Buffer
	if err := tmpl.Execute(&index, struct{ Services []Service }{services}); err != nil {
		return nil, err
	}
	assets, err := fs.Sub(page, "page")
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", serveBytes("text/html; charset=utf-8", index.Bytes()))
	if asyncAPI != nil {
		mux.HandleFunc("GET /docs/asyncapi.json", serveBytes("application/json", asyncAPI))
	} else {
		mux.HandleFunc("GET /docs/asyncapi.json", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "the AsyncAPI document was not found at start (services/asyncapi.yaml of the repository)", http.StatusNotFound)
		})
	}
	mux.Handle("GET /docs/", http.StripPrefix("/docs/", http.FileServerFS(assets)))
	return mux, nil
}

func serveBytes(contentType string, body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(body)
	}
}

// LoadAsyncAPI reads services/asyncapi.yaml of the workspace that holds dir
// (the directory holding go.work, dir or above it) and returns it as JSON,
// which the browser can read.
func LoadAsyncAPI(dir string) ([]byte, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			data, err := os.ReadFile(filepath.Join(dir, "services", "asyncapi.yaml"))
			if err != nil {
				return nil, err
			}
			return yaml.YAMLToJSON(data)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil, errors.New("docspage: no go.work here or above: run from the repository")
		}
		dir = parent
	}
}

// IsPagePath reports whether the page serves path: / and /docs/…, which no
// service route claims.
func IsPagePath(path string) bool {
	return path == "/" || len(path) >= len("/docs/") && path[:len("/docs/")] == "/docs/"
}
