package deploy_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// envReads is what the Go source of a service reads from its environment.
type envReads struct {
	all      map[string][]string // variable name -> where it is read (file:line)
	required map[string]bool     // read with config.Env.Required
}

// envReaders are the calls whose first argument names an environment
// variable: the methods of platform/config.Env, os.Getenv and os.LookupEnv,
// and the getenv functions that run(ctx, getenv, ...) passes around.
var envReaders = map[string]bool{
	"String": true, "Required": true, "Int": true, "Duration": true, "Bool": true,
	"Getenv": true, "LookupEnv": true, "getenv": true,
}

var envName = regexp.MustCompile(`^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$`)

// readByLibraries are variables the chart may set although no line of ours
// reads them: the Go runtime and the OpenTelemetry SDK read them themselves.
var readByLibraries = map[string]string{
	"GOMEMLIMIT":                  "the Go runtime's soft memory limit",
	"OTEL_SERVICE_NAME":           "the OpenTelemetry SDK's resource detection",
	"OTEL_EXPORTER_OTLP_ENDPOINT": "the OpenTelemetry OTLP exporter",
}

func readsUnder(r envReads, dir string) bool {
	for _, where := range r.all {
		for _, w := range where {
			if strings.Contains(filepath.ToSlash(w), dir+"/") {
				return true
			}
		}
	}
	return false
}

// scanEnvReads parses every non-test Go file under dirs and collects the
// names passed, as a string literal or a string constant, to an envReader.
// It leaves out cmd/ directories: they hold the module's other programs (a
// seeder, say), which the chart does not run and whose variables it need not set.
func scanEnvReads(dirs ...string) (envReads, error) {
	fset := token.NewFileSet()
	var files []*ast.File
	consts := map[string]string{}
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && path != dir && (isTestOnlyDir(d.Name()) || d.Name() == "cmd") {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			files = append(files, f)
			collectStringConsts(f, consts)
			return nil
		})
		if err != nil {
			return envReads{}, err
		}
	}
	reads := envReads{all: map[string][]string{}, required: map[string]bool{}}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			fn := calleeName(call.Fun)
			if !envReaders[fn] {
				return true
			}
			name, ok := stringValue(call.Args[0], consts)
			if !ok || !envName.MatchString(name) {
				return true
			}
			reads.all[name] = append(reads.all[name], fset.Position(call.Pos()).String())
			if fn == "Required" {
				reads.required[name] = true
			}
			return true
		})
	}
	return reads, nil
}

// isTestOnlyDir reports whether a directory holds only what tests use:
// testdata, hidden directories, and <pkg>test helper packages such as
// redistest, whose reads (REQUIRE_SERVICES, say) the service never makes.
func isTestOnlyDir(name string) bool {
	return name == "testdata" || strings.HasPrefix(name, ".") || strings.HasSuffix(name, "test")
}

func calleeName(fun ast.Expr) string {
	switch f := fun.(type) {
	case *ast.Ident:
		return f.Name
	case *ast.SelectorExpr:
		return f.Sel.Name
	}
	return ""
}

func collectStringConsts(f *ast.File, consts map[string]string) {
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if i < len(vs.Values) {
					if s, ok := stringValue(vs.Values[i], nil); ok {
						consts[name.Name] = s
					}
				}
			}
		}
	}
}

func stringValue(e ast.Expr, consts map[string]string) (string, bool) {
	switch v := e.(type) {
	case *ast.BasicLit:
		if v.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(v.Value)
		return s, err == nil
	case *ast.Ident:
		s, ok := consts[v.Name]
		return s, ok
	}
	return "", false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func TestScanEnvReadsFindsLiteralsAndConstants(t *testing.T) {
	dir := t.TempDir()
	src := `package x

import "os"

const envRedis = "REDIS_URL"

func load(env interface{ Required(string) string; Duration(string, int) int }, getenv func(string) string) {
	env.Required("MONGODB_URI")
	env.Required(envRedis)
	env.Duration("ACCESS_TOKEN_TTL", 15)
	_ = getenv("LOG_LEVEL")
	_ = os.Getenv("HTTP_ADDR")
	println("NOT_AN_ENV_READ")
}
`
	if err := os.WriteFile(filepath.Join(dir, "config.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config_test.go"), []byte(`package x; func f(g func(string) string) { g("ONLY_IN_TESTS") }`), 0o644); err != nil {
		t.Fatal(err)
	}
	helpers := filepath.Join(dir, "redistest")
	if err := os.Mkdir(helpers, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(helpers, "redistest.go"), []byte(`package redistest; import "os"; var _ = os.Getenv("REQUIRE_SERVICES")`), 0o644); err != nil {
		t.Fatal(err)
	}
	seeder := filepath.Join(dir, "cmd", "seed")
	if err := os.MkdirAll(seeder, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(seeder, "main.go"), []byte(`package main; func f(env interface{ Required(string) string }) { env.Required("SEED_FILE") }`), 0o644); err != nil {
		t.Fatal(err)
	}
	reads, err := scanEnvReads(dir)
	if err != nil {
		t.Fatalf("scanEnvReads: %v", err)
	}
	want := []string{"ACCESS_TOKEN_TTL", "HTTP_ADDR", "LOG_LEVEL", "MONGODB_URI", "REDIS_URL"}
	if got := sortedKeys(reads.all); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("reads = %v, want %v", got, want)
	}
	if got := sortedKeys(reads.required); strings.Join(got, " ") != "MONGODB_URI REDIS_URL" {
		t.Errorf("required = %v, want [MONGODB_URI REDIS_URL]", got)
	}
}
