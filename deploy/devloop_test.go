package deploy_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/travluk/ecom/deploy/manifest"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
	"go.starlark.net/syntax"
	"helm.sh/helm/v3/pkg/strvals"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// skaffoldModule is the skaffold release whose JSON schema skaffold.yaml is
// validated against; its source comes from the Go module proxy because
// skaffold cannot be `go install`ed.
const skaffoldModule = "github.com/GoogleContainerTools/skaffold/v2@v2.16.1"

// devPorts are the localhost ports `make run` gives the services (dev/stack:
// CUSTOMER_ADDR, PRODUCT_ADDR, ORDER_ADDR); both dev loops forward the same.
var devPorts = map[string]int{"customer": 8081, "product": 8082, "order": 8083}

// devloopChart is what the dev loops must agree with in one chart.
type devloopChart struct {
	dir        string // e.g. "charts/customer", relative to the repository root
	repository string // values image.repository
	port       int    // values port: the container port
}

// devloopCharts reads charts/*/values.yaml.
func devloopCharts(t *testing.T) map[string]devloopChart {
	t.Helper()
	dirs, err := filepath.Glob("../charts/*/Chart.yaml")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no charts in charts/: %v", err)
	}
	out := map[string]devloopChart{}
	for _, c := range dirs {
		dir := filepath.Dir(c)
		var v struct {
			Image struct{ Repository string }
			Port  int
		}
		b, err := os.ReadFile(filepath.Join(dir, "values.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(b, &v); err != nil {
			t.Fatalf("%s/values.yaml: %v", dir, err)
		}
		name := filepath.Base(dir)
		out[name] = devloopChart{dir: "charts/" + name, repository: v.Image.Repository, port: v.Port}
	}
	return out
}

// repoPathExists reports whether a path named relative to the repository root exists.
func repoPathExists(p string) bool {
	_, err := os.Stat(filepath.Join("..", filepath.FromSlash(p)))
	return err == nil
}

// skaffoldSource downloads (or finds in the module cache) skaffold's module
// source and returns its directory.
func skaffoldSource(t *testing.T) string {
	t.Helper()
	cmd := exec.Command("go", "mod", "download", "-json", skaffoldModule)
	// Outside any module and workspace: this is a download, not a dependency.
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go mod download %s (skaffold's schema comes from its module source): %v\n%s%s", skaffoldModule, err, out, stderr.Bytes())
	}
	var mod struct{ Dir, Error string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		t.Fatalf("go mod download %s: no directory in %s (%v)", skaffoldModule, out, err)
	}
	return mod.Dir
}

// skaffoldConfig is the part of a skaffold Config the cross-checks read; the
// JSON schema has already refused anything misspelt.
type skaffoldConfig struct {
	APIVersion string `json:"apiVersion"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Build struct {
		Artifacts []struct {
			Image  string `json:"image"`
			Custom *struct {
				BuildCommand string `json:"buildCommand"`
				Dependencies struct {
					Paths []string `json:"paths"`
				} `json:"dependencies"`
			} `json:"custom"`
		} `json:"artifacts"`
	} `json:"build"`
	Manifests struct {
		Kustomize *struct {
			Paths []string `json:"paths"`
		} `json:"kustomize"`
		Helm *struct {
			Releases []struct {
				Name              string            `json:"name"`
				ChartPath         string            `json:"chartPath"`
				Namespace         string            `json:"namespace"`
				SetValueTemplates map[string]string `json:"setValueTemplates"`
			} `json:"releases"`
		} `json:"helm"`
	} `json:"manifests"`
	Deploy struct {
		Kubectl *json.RawMessage `json:"kubectl"`
		Helm    *struct {
			Hooks struct {
				Before []skaffoldHook `json:"before"`
				After  []skaffoldHook `json:"after"`
			} `json:"hooks"`
		} `json:"helm"`
	} `json:"deploy"`
	PortForward []skaffoldPortForward `json:"portForward"`
	Profiles    []struct {
		Name  string `json:"name"`
		Build struct {
			Local struct {
				Push *bool `json:"push"`
			} `json:"local"`
		} `json:"build"`
	} `json:"profiles"`
}

type skaffoldHook struct {
	Host struct {
		Command []string `json:"command"`
	} `json:"host"`
}

type skaffoldPortForward struct {
	ResourceType string `json:"resourceType"`
	ResourceName string `json:"resourceName"`
	Namespace    string `json:"namespace"`
	Port         int    `json:"port"`
	LocalPort    int    `json:"localPort"`
}

// readSkaffold validates every document of skaffold.yaml against skaffold's
// JSON schema for the version it declares and returns the documents, in order.
func readSkaffold(t *testing.T, stream []byte, source string) []skaffoldConfig {
	t.Helper()
	var configs []skaffoldConfig
	schemas := map[string]*jsonschema.Schema{}
	for i, doc := range manifest.Split(stream) {
		js, err := yaml.YAMLToJSON(doc)
		if err != nil {
			t.Fatalf("skaffold.yaml document %d: %v", i+1, err)
		}
		var cfg skaffoldConfig
		if err := json.Unmarshal(js, &cfg); err != nil {
			t.Fatalf("skaffold.yaml document %d: %v", i+1, err)
		}
		version, ok := strings.CutPrefix(cfg.APIVersion, "skaffold/")
		if !ok {
			t.Fatalf("skaffold.yaml document %d: apiVersion %q is not skaffold's", i+1, cfg.APIVersion)
		}
		sch := schemas[version]
		if sch == nil {
			sch = compileSkaffoldSchema(t, source, version)
			schemas[version] = sch
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(inst); err != nil {
			t.Errorf("skaffold.yaml document %d (%s) is not valid skaffold %s: %v", i+1, cfg.Metadata.Name, version, err)
		}
		configs = append(configs, cfg)
	}
	return configs
}

func compileSkaffoldSchema(t *testing.T, source, version string) *jsonschema.Schema {
	t.Helper()
	file := filepath.Join(source, "docs-v2", "content", "en", "schemas", version+".json")
	f, err := os.Open(file)
	if err != nil {
		t.Fatalf("skaffold %s has no schema for %s: %v", skaffoldModule, version, err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(file, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(file)
	if err != nil {
		t.Fatalf("compile %s: %v", file, err)
	}
	return sch
}

// latestSkaffoldVersion is the config version the skaffold release writes and reads natively.
func latestSkaffoldVersion(t *testing.T, source string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(source, "pkg", "skaffold", "schema", "latest", "config.go"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`const Version string = "([^"]+)"`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no Version constant in skaffold's schema/latest/config.go")
	}
	return string(m[1])
}

// skaffoldTemplateName is how skaffold names an image in IMAGE_REPO_/IMAGE_TAG_
// templates: every character that is not a letter, digit or _ becomes _.
func skaffoldTemplateName(image string) string {
	return regexp.MustCompile(`[^A-Za-z0-9_]`).ReplaceAllString(image, "_")
}

func TestSkaffoldYAML(t *testing.T) {
	stream, err := os.ReadFile("../skaffold.yaml")
	if err != nil {
		t.Fatal(err)
	}
	source := skaffoldSource(t)
	configs := readSkaffold(t, stream, source)
	checkSkaffold(t, configs, latestSkaffoldVersion(t, source), devloopCharts(t))
}

// checkSkaffold holds skaffold.yaml to the charts, k8s/ and images/build.sh.
func checkSkaffold(t *testing.T, configs []skaffoldConfig, latest string, charts map[string]devloopChart) {
	t.Helper()
	byRepository := map[string]string{} // image.repository -> chart name
	for name, c := range charts {
		byRepository[c.repository] = name
	}
	kustomizeAt, helmAt := -1, -1
	built := map[string]bool{}
	released := map[string]bool{}
	for i, cfg := range configs {
		where := fmt.Sprintf("skaffold.yaml config %q", cfg.Metadata.Name)
		if cfg.APIVersion != latest {
			t.Errorf("%s: apiVersion %s, want %s, the current schema of %s", where, cfg.APIVersion, latest, skaffoldModule)
		}
		for _, a := range cfg.Build.Artifacts {
			svc, ok := byRepository[a.Image]
			if !ok {
				t.Errorf("%s: artifact %s is no chart's image.repository; the charts would never run it", where, a.Image)
				continue
			}
			built[svc] = true
			if a.Custom == nil {
				t.Errorf("%s: artifact %s is not built with the custom builder (images/build.sh)", where, a.Image)
				continue
			}
			if want := fmt.Sprintf(`images/build.sh %s "$IMAGE"`, svc); a.Custom.BuildCommand != want {
				t.Errorf("%s: artifact %s buildCommand %q, want %q", where, a.Image, a.Custom.BuildCommand, want)
			}
			for _, p := range []string{"services/" + svc, "services/platform", "go.work"} {
				if !slices.Contains(a.Custom.Dependencies.Paths, p) {
					t.Errorf("%s: artifact %s is not rebuilt when %s changes (dependencies.paths %v)", where, a.Image, p, a.Custom.Dependencies.Paths)
				}
			}
			for _, p := range a.Custom.Dependencies.Paths {
				if !repoPathExists(p) {
					t.Errorf("%s: artifact %s depends on %s, which does not exist", where, a.Image, p)
				}
			}
		}
		if k := cfg.Manifests.Kustomize; k != nil {
			kustomizeAt = i
			if !cmp.Equal(k.Paths, []string{"k8s"}) {
				t.Errorf("%s: kustomize paths %v, want [k8s]", where, k.Paths)
			}
			if cfg.Deploy.Kubectl == nil {
				t.Errorf("%s: k8s/ is rendered but no kubectl deployer applies it", where)
			}
		}
		if h := cfg.Manifests.Helm; h != nil {
			helmAt = i
			if cfg.Deploy.Helm == nil {
				t.Errorf("%s: helm releases without the helm deployer", where)
			}
			for _, r := range h.Releases {
				svc := filepath.Base(r.ChartPath)
				c, ok := charts[svc]
				if !ok || r.ChartPath != c.dir || !repoPathExists(r.ChartPath+"/Chart.yaml") {
					t.Errorf("%s: release %s: chartPath %s is not one of charts/*", where, r.Name, r.ChartPath)
					continue
				}
				released[svc] = true
				if r.Name != svc {
					t.Errorf("%s: chart %s released as %q; the other services and the ingress reach it as %q", where, r.ChartPath, r.Name, svc)
				}
				if r.Namespace != "travluk" {
					t.Errorf("%s: release %s in namespace %q, want travluk", where, r.Name, r.Namespace)
				}
				n := skaffoldTemplateName(c.repository)
				want := map[string]string{
					"image.repository": "{{.IMAGE_REPO_" + n + "}}",
					"image.tag":        "{{.IMAGE_TAG_" + n + "}}",
				}
				if diff := cmp.Diff(want, r.SetValueTemplates); diff != "" {
					t.Errorf("%s: release %s would not run the image skaffold built (setValueTemplates -want +got):\n%s", where, r.Name, diff)
				}
			}
			for _, hook := range slices.Concat(cfg.Deploy.Helm.Hooks.Before, cfg.Deploy.Helm.Hooks.After) {
				if len(hook.Host.Command) > 0 && strings.Contains(hook.Host.Command[0], "/") && !repoPathExists(hook.Host.Command[0]) {
					t.Errorf("%s: helm hook runs %s, which does not exist", where, hook.Host.Command[0])
				}
			}
			pushes := map[string]*bool{}
			for _, p := range cfg.Profiles {
				pushes[p.Name] = p.Build.Local.Push
			}
			for profile, want := range map[string]bool{"local": false, "registry": true} {
				if got, ok := pushes[profile]; !ok || got == nil || *got != want {
					t.Errorf("%s: profile %q must set build.local.push: %v", where, profile, want)
				}
			}
			forwarded := map[string]int{}
			for _, pf := range cfg.PortForward {
				if c, ok := charts[pf.ResourceName]; ok && pf.ResourceType == "service" {
					if pf.Namespace != "travluk" || pf.Port != c.port {
						t.Errorf("%s: port-forward of service %s to %s:%d, want travluk:%d", where, pf.ResourceName, pf.Namespace, pf.Port, c.port)
					}
					forwarded[pf.ResourceName] = pf.LocalPort
				}
			}
			if diff := cmp.Diff(devPorts, forwarded); diff != "" {
				t.Errorf("%s: services not forwarded to the ports `make run` uses (-want +got):\n%s", where, diff)
			}
		}
	}
	if kustomizeAt < 0 || helmAt < 0 {
		t.Fatalf("skaffold.yaml must deploy k8s/ (kustomize) and the charts (helm); kustomize in config %d, helm in config %d", kustomizeAt, helmAt)
	}
	if kustomizeAt >= helmAt {
		t.Errorf("skaffold.yaml deploys the charts before k8s/: the namespace must exist first (skaffold deploys configs in order)")
	}
	for name := range charts {
		if !built[name] {
			t.Errorf("skaffold.yaml builds no image for charts/%s", name)
		}
		if !released[name] {
			t.Errorf("skaffold.yaml deploys no release of charts/%s", name)
		}
	}
}

// tiltAPI lists the built-ins Tilt gives a Tiltfile (Tilt's API reference,
// docs.tilt.dev/api.html, and its os, config, shlex and sys modules). A name
// not here is an error when the Tiltfile is resolved, as it would be in Tilt.
var tiltAPI = []string{
	"allow_k8s_contexts", "analytics_settings", "blob", "ci_settings", "custom_build",
	"dc_resource", "decode_json", "decode_yaml", "decode_yaml_stream", "default_registry",
	"disable_snapshots", "docker_build", "docker_compose", "docker_prune_settings",
	"enable_feature", "encode_json", "encode_yaml", "encode_yaml_stream", "exec_action",
	"exit", "fall_back_on", "filter_yaml", "helm", "http_get_action", "include",
	"initial_sync", "k8s_context", "k8s_custom_deploy", "k8s_kind", "k8s_namespace",
	"k8s_resource", "k8s_yaml", "kustomize", "link", "listdir", "load_dynamic", "local",
	"local_resource", "port_forward", "probe", "read_file", "read_json", "read_yaml",
	"read_yaml_stream", "restart_container", "run", "secret_settings", "set_team",
	"struct", "sync", "tcp_socket_action", "trigger_mode", "update_settings",
	"version_settings", "warn", "watch_file", "watch_settings", "workload_to_resource_function",
	"TRIGGER_MODE_AUTO", "TRIGGER_MODE_MANUAL",
}

var tiltModules = map[string][]string{
	"os":     {"getcwd", "getenv", "putenv", "unsetenv", "environ", "name"},
	"config": {"define_string", "define_string_list", "define_bool", "define_object", "parse", "set_enabled_resources", "clear_enabled_resources", "main_path", "main_dir", "tilt_subcommand"},
	"shlex":  {"quote"},
	"sys":    {"argv", "executable"},
}

// tiltCall is one call of a Tilt built-in the Tiltfile made.
type tiltCall struct {
	fn     string
	args   starlark.Tuple
	kwargs map[string]starlark.Value
}

// arg returns the positional argument i or the keyword argument name.
func (c tiltCall) arg(i int, name string) starlark.Value {
	if i < len(c.args) {
		return c.args[i]
	}
	return c.kwargs[name]
}

// tiltRun is what executing a Tiltfile with the stubs recorded.
type tiltRun struct {
	calls []tiltCall
	// k8sYAML are the objects handed to k8s_yaml, decoded.
	k8sYAML []map[string]any
}

func (r *tiltRun) named(fn string) []tiltCall {
	var out []tiltCall
	for _, c := range r.calls {
		if c.fn == fn {
			out = append(out, c)
		}
	}
	return out
}

// execTiltfile runs the Tiltfile in the repository root with stubs for Tilt's
// built-ins. kustomize, helm and the YAML codecs do the real work (helm through
// the Helm SDK); the rest record their arguments.
func execTiltfile(t *testing.T, src []byte) (*tiltRun, error) {
	t.Helper()
	run := &tiltRun{}
	predeclared := starlark.StringDict{}
	record := func(name string, result func(tiltCall) (starlark.Value, error)) *starlark.Builtin {
		return starlark.NewBuiltin(name, func(_ *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			c := tiltCall{fn: name, args: args, kwargs: map[string]starlark.Value{}}
			for _, kv := range kwargs {
				c.kwargs[string(kv[0].(starlark.String))] = kv[1]
			}
			run.calls = append(run.calls, c)
			if result == nil {
				return starlark.None, nil
			}
			return result(c)
		})
	}
	for _, name := range tiltAPI {
		predeclared[name] = record(name, nil)
	}
	predeclared["TRIGGER_MODE_AUTO"] = starlark.String("TRIGGER_MODE_AUTO")
	predeclared["TRIGGER_MODE_MANUAL"] = starlark.String("TRIGGER_MODE_MANUAL")
	for mod, members := range tiltModules {
		m := &starlarkstruct.Module{Name: mod, Members: starlark.StringDict{}}
		for _, name := range members {
			m.Members[name] = record(mod+"."+name, nil)
		}
		predeclared[mod] = m
	}
	// A developer without TRAVLUK_REGISTRY set: os.getenv returns its default.
	predeclared["os"].(*starlarkstruct.Module).Members["getenv"] = record("os.getenv", func(c tiltCall) (starlark.Value, error) {
		if d := c.arg(1, "default"); d != nil {
			return d, nil
		}
		return starlark.None, nil
	})
	for _, name := range []string{"sync", "run", "fall_back_on", "initial_sync", "restart_container"} {
		predeclared[name] = record(name, func(c tiltCall) (starlark.Value, error) {
			return starlarkstruct.FromStringDict(starlark.String("live_update_step"), starlark.StringDict{"step": starlark.String(c.fn)}), nil
		})
	}
	predeclared["kustomize"] = record("kustomize", func(c tiltCall) (starlark.Value, error) {
		dir, ok := starlark.AsString(c.arg(0, "pathToDir"))
		if !ok {
			return nil, fmt.Errorf("kustomize: path is not a string")
		}
		return kustomizeResources(dir)
	})
	predeclared["helm"] = record("helm", func(c tiltCall) (starlark.Value, error) {
		return helmTemplate(c)
	})
	predeclared["decode_yaml_stream"] = record("decode_yaml_stream", func(c tiltCall) (starlark.Value, error) {
		s, ok := starlark.AsString(c.arg(0, "yaml"))
		if !ok {
			return nil, fmt.Errorf("decode_yaml_stream: not a string")
		}
		var list []starlark.Value
		for _, doc := range manifest.Split([]byte(s)) {
			var v any
			if err := yaml.Unmarshal(doc, &v); err != nil {
				return nil, err
			}
			sv, err := toStarlark(v)
			if err != nil {
				return nil, err
			}
			list = append(list, sv)
		}
		return starlark.NewList(list), nil
	})
	predeclared["encode_yaml_stream"] = record("encode_yaml_stream", func(c tiltCall) (starlark.Value, error) {
		list, ok := c.arg(0, "objs").(*starlark.List)
		if !ok {
			return nil, fmt.Errorf("encode_yaml_stream: not a list")
		}
		var docs []string
		for v := range list.Elements() {
			g, err := fromStarlark(v)
			if err != nil {
				return nil, err
			}
			b, err := yaml.Marshal(g)
			if err != nil {
				return nil, err
			}
			docs = append(docs, string(b))
		}
		return starlark.String(strings.Join(docs, "---\n")), nil
	})
	predeclared["k8s_yaml"] = record("k8s_yaml", func(c tiltCall) (starlark.Value, error) {
		s, ok := starlark.AsString(c.arg(0, "yaml"))
		if !ok {
			return nil, fmt.Errorf("k8s_yaml: this check only follows YAML passed as a string or blob, not file paths")
		}
		for _, doc := range manifest.Split([]byte(s)) {
			var m map[string]any
			if err := yaml.Unmarshal(doc, &m); err != nil {
				return nil, err
			}
			run.k8sYAML = append(run.k8sYAML, m)
		}
		return starlark.None, nil
	})

	opts := &syntax.FileOptions{Set: true, While: true, TopLevelControl: true, GlobalReassign: true, Recursion: true}
	thread := &starlark.Thread{
		Name: "Tiltfile",
		Load: func(_ *starlark.Thread, module string) (starlark.StringDict, error) {
			return nil, fmt.Errorf("load(%q): the Tiltfile loads nothing; an extension would need its own stubs here", module)
		},
		Print: func(_ *starlark.Thread, msg string) { t.Log("Tiltfile:", msg) },
	}
	// Tilt runs a Tiltfile from its own directory: the repository root.
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	if err := os.Chdir(".."); err != nil {
		return nil, err
	}
	defer os.Chdir(wd)
	_, err = starlark.ExecFileOptions(opts, thread, "Tiltfile", src, predeclared)
	return run, err
}

// kustomizeResources concatenates the resources a kustomization.yaml lists,
// which is what kustomize builds from k8s/ as long as it only lists files.
func kustomizeResources(dir string) (starlark.Value, error) {
	b, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		return nil, fmt.Errorf("kustomize(%q): %w", dir, err)
	}
	var k struct{ Resources []string }
	if err := yaml.Unmarshal(b, &k); err != nil {
		return nil, err
	}
	var docs []string
	for _, r := range k.Resources {
		doc, err := os.ReadFile(filepath.Join(dir, r))
		if err != nil {
			return nil, fmt.Errorf("kustomize(%q): resource %s: %w", dir, r, err)
		}
		docs = append(docs, string(doc))
	}
	return starlark.String(strings.Join(docs, "\n---\n")), nil
}

// helmTemplate renders a chart as Tilt's helm() (helm template) does, with
// the Helm SDK: the chart's schema refuses a misspelt --set.
func helmTemplate(c tiltCall) (starlark.Value, error) {
	dir, ok := starlark.AsString(c.arg(0, "pathToChartDir"))
	if !ok {
		return nil, fmt.Errorf("helm: chart path is not a string")
	}
	name, _ := starlark.AsString(c.kwargs["name"])
	namespace, _ := starlark.AsString(c.kwargs["namespace"])
	values := map[string]any{}
	var sets []string
	switch s := c.kwargs["set"].(type) {
	case nil:
	case starlark.String:
		sets = []string{string(s)}
	case *starlark.List:
		for v := range s.Elements() {
			str, ok := starlark.AsString(v)
			if !ok {
				return nil, fmt.Errorf("helm(%q): set holds %s, not a string", dir, v.Type())
			}
			sets = append(sets, str)
		}
	default:
		return nil, fmt.Errorf("helm(%q): set is a %s", dir, s.Type())
	}
	for _, s := range sets {
		if err := strvals.ParseInto(s, values); err != nil {
			return nil, fmt.Errorf("helm(%q): set %q: %w", dir, s, err)
		}
	}
	if _, ok := c.kwargs["values"]; ok {
		return nil, fmt.Errorf("helm(%q): values files are not followed by this check; use set", dir)
	}
	templates, err := manifest.RenderChart(dir, manifest.Release{Name: name, Namespace: namespace}, values)
	if err != nil {
		return nil, err
	}
	var docs []string
	for _, tpl := range templates {
		docs = append(docs, "# Source: "+tpl.Name+"\n"+tpl.Content)
	}
	return starlark.String(strings.Join(docs, "\n---\n")), nil
}

// toStarlark converts decoded YAML into the Starlark values Tilt's
// decode_yaml_stream returns.
func toStarlark(v any) (starlark.Value, error) {
	switch v := v.(type) {
	case nil:
		return starlark.None, nil
	case bool:
		return starlark.Bool(v), nil
	case string:
		return starlark.String(v), nil
	case float64:
		if v == float64(int64(v)) {
			return starlark.MakeInt64(int64(v)), nil
		}
		return starlark.Float(v), nil
	case []any:
		var list []starlark.Value
		for _, e := range v {
			s, err := toStarlark(e)
			if err != nil {
				return nil, err
			}
			list = append(list, s)
		}
		return starlark.NewList(list), nil
	case map[string]any:
		d := starlark.NewDict(len(v))
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			s, err := toStarlark(v[k])
			if err != nil {
				return nil, err
			}
			if err := d.SetKey(starlark.String(k), s); err != nil {
				return nil, err
			}
		}
		return d, nil
	}
	return nil, fmt.Errorf("cannot convert %T to Starlark", v)
}

// fromStarlark is the inverse, for encode_yaml_stream.
func fromStarlark(v starlark.Value) (any, error) {
	switch v := v.(type) {
	case starlark.NoneType:
		return nil, nil
	case starlark.Bool:
		return bool(v), nil
	case starlark.String:
		return string(v), nil
	case starlark.Int:
		i, ok := v.Int64()
		if !ok {
			return nil, fmt.Errorf("integer %s too large", v)
		}
		return i, nil
	case starlark.Float:
		return float64(v), nil
	case *starlark.List:
		out := []any{}
		for e := range v.Elements() {
			g, err := fromStarlark(e)
			if err != nil {
				return nil, err
			}
			out = append(out, g)
		}
		return out, nil
	case *starlark.Dict:
		out := map[string]any{}
		for _, item := range v.Items() {
			k, ok := starlark.AsString(item[0])
			if !ok {
				return nil, fmt.Errorf("map key %s is not a string", item[0])
			}
			g, err := fromStarlark(item[1])
			if err != nil {
				return nil, err
			}
			out[k] = g
		}
		return out, nil
	}
	return nil, fmt.Errorf("encode_yaml_stream: cannot encode a %s", v.Type())
}

// starlarkStrings returns a string, or the strings of a list, as Tilt accepts
// either for paths and port forwards.
func starlarkStrings(v starlark.Value) []string {
	if s, ok := starlark.AsString(v); ok {
		return []string{s}
	}
	var out []string
	if l, ok := v.(*starlark.List); ok {
		for e := range l.Elements() {
			if s, ok := starlark.AsString(e); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

func TestTiltfile(t *testing.T) {
	src, err := os.ReadFile("../Tiltfile")
	if err != nil {
		t.Fatal(err)
	}
	run, err := execTiltfile(t, src)
	if err != nil {
		if e, ok := err.(*starlark.EvalError); ok {
			t.Fatalf("tilt up would fail: %s", e.Backtrace())
		}
		t.Fatalf("tilt up would fail: %v", err)
	}
	checkTiltfile(t, run, devloopCharts(t))
}

// checkTiltfile holds what the Tiltfile did to the charts, k8s/ and the repository.
func checkTiltfile(t *testing.T, run *tiltRun, charts map[string]devloopChart) {
	t.Helper()
	str := func(c tiltCall, i int, name string) string {
		s, _ := starlark.AsString(c.arg(i, name))
		return s
	}

	var kustomized []string
	for _, c := range run.named("kustomize") {
		kustomized = append(kustomized, str(c, 0, "pathToDir"))
	}
	if !cmp.Equal(kustomized, []string{"k8s"}) {
		t.Errorf("Tiltfile runs kustomize on %v, want k8s once", kustomized)
	}

	var chartPaths, wantPaths []string
	for _, c := range charts {
		wantPaths = append(wantPaths, c.dir)
	}
	for _, c := range run.named("helm") {
		p := str(c, 0, "pathToChartDir")
		chartPaths = append(chartPaths, p)
		if name := str(c, 1, "name"); name != filepath.Base(p) {
			t.Errorf("Tiltfile renders %s as release %q, want %q: the other services reach it by that name", p, name, filepath.Base(p))
		}
		if ns := str(c, 2, "namespace"); ns != "travluk" {
			t.Errorf("Tiltfile renders %s into namespace %q, want travluk", p, ns)
		}
	}
	sort.Strings(chartPaths)
	sort.Strings(wantPaths)
	if !cmp.Equal(chartPaths, wantPaths) {
		t.Errorf("Tiltfile renders charts %v, want exactly %v", chartPaths, wantPaths)
	}

	// Images: each build is a chart's image, and every chart's image is built.
	repositories := map[string]string{}
	for name, c := range charts {
		repositories[c.repository] = name
	}
	built := map[string]bool{}
	for _, c := range slices.Concat(run.named("custom_build"), run.named("docker_build")) {
		ref := str(c, 0, "ref")
		svc, ok := repositories[ref]
		if !ok {
			t.Errorf("Tiltfile builds %s, which is no chart's image.repository: Tilt would never deploy it", ref)
			continue
		}
		built[svc] = true
	}
	for name := range charts {
		if !built[name] {
			t.Errorf("Tiltfile builds no image for charts/%s", name)
		}
	}

	// Every object Tilt would apply decodes strictly, and each service's
	// Deployment runs the image Tilt builds with the live update directory.
	deployments := map[string]bool{}
	for _, obj := range run.k8sYAML {
		doc, err := yaml.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		o, err := manifest.Decode("Tiltfile k8s_yaml", doc)
		if err != nil {
			t.Errorf("Tiltfile applies an object Kubernetes would refuse: %v", err)
			continue
		}
		d, ok := o.Value.(*appsv1.Deployment)
		if !ok {
			continue
		}
		deployments[d.Name] = true
		for _, ctr := range d.Spec.Template.Spec.Containers {
			if repo, _, _ := strings.Cut(ctr.Image, ":"); repositories[repo] == "" {
				t.Errorf("Deployment %s runs %s, not an image the Tiltfile builds", d.Name, ctr.Image)
			}
			if !slices.ContainsFunc(ctr.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == "/tilt/live" }) {
				t.Errorf("Deployment %s container %s has no writable /tilt/live for live update (the root filesystem is read-only)", d.Name, ctr.Name)
			}
		}
	}

	// Resources: port forwards and dependencies.
	resources := map[string]bool{}
	for _, c := range run.named("local_resource") {
		resources[str(c, 0, "name")] = true
	}
	for _, c := range run.named("k8s_resource") {
		if n := str(c, 1, "new_name"); n != "" {
			resources[n] = true
		} else {
			resources[str(c, 0, "workload")] = true
		}
	}
	forwarded := map[string]int{}
	for _, c := range run.named("k8s_resource") {
		workload := str(c, 0, "workload")
		if workload != "" && !deployments[workload] {
			t.Errorf("Tiltfile configures resource %q, but no workload of that name is deployed", workload)
		}
		for _, dep := range starlarkStrings(c.arg(4, "resource_deps")) {
			if !resources[dep] {
				t.Errorf("resource %q depends on %q, which the Tiltfile never defines", workload, dep)
			}
		}
		for _, pf := range starlarkStrings(c.arg(2, "port_forwards")) {
			chart, ok := charts[workload]
			if !ok {
				continue
			}
			var local, remote int
			if _, err := fmt.Sscanf(pf, "%d:%d", &local, &remote); err != nil || remote != chart.port {
				t.Errorf("resource %s forwards %q, want LOCAL:%d (the chart's container port)", workload, pf, chart.port)
			}
			forwarded[workload] = local
		}
	}
	if diff := cmp.Diff(devPorts, forwarded); diff != "" {
		t.Errorf("Tiltfile does not forward the services to the ports `make run` uses (-want +got):\n%s", diff)
	}
	for _, c := range run.named("local_resource") {
		for _, dep := range starlarkStrings(c.arg(4, "resource_deps")) {
			if !resources[dep] {
				t.Errorf("local resource %q depends on %q, which the Tiltfile never defines", str(c, 0, "name"), dep)
			}
		}
	}

	// Paths: everything the Tiltfile names exists, but what a local resource
	// builds (go build -o PATH).
	var outputs []string
	for _, c := range run.named("local_resource") {
		for _, m := range regexp.MustCompile(`-o (\S+)`).FindAllStringSubmatch(str(c, 1, "cmd"), -1) {
			outputs = append(outputs, m[1])
		}
	}
	var paths []string
	for _, c := range run.named("local_resource") {
		paths = append(paths, starlarkStrings(c.arg(2, "deps"))...)
		paths = append(paths, strings.Fields(str(c, 1, "cmd"))...)
	}
	for _, c := range run.named("custom_build") {
		paths = append(paths, starlarkStrings(c.arg(2, "deps"))...)
		paths = append(paths, strings.Fields(str(c, 1, "command"))...)
	}
	for _, c := range slices.Concat(run.named("fall_back_on"), run.named("sync")) {
		paths = append(paths, starlarkStrings(c.arg(0, "files"))...)
		paths = append(paths, starlarkStrings(c.arg(0, "local_path"))...)
	}
	for _, p := range paths {
		// Words of a command that are not repository paths: flags, variables,
		// service names. Go package patterns (./services/x) are paths.
		isPath := strings.HasPrefix(p, "./") || p == "go.work" ||
			(strings.Contains(p, "/") && !strings.HasPrefix(p, "$") && !strings.Contains(p, "="))
		if !isPath {
			continue
		}
		if slices.Contains(outputs, p) {
			continue
		}
		if !repoPathExists(p) {
			t.Errorf("Tiltfile names %s, which does not exist", p)
		}
	}
}
