package deploy_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// The promtool unit tests of the alerts, and the rules file they name: the
// PrometheusRule's spec.groups, which TestAlertRulesPromtool writes next to
// a copy of the test file.
const (
	alertTestsFile = "alerts/travluk_test.yaml"
	alertRulesFile = "travluk.rules.yaml"
	// promtoolE2E is where make test-alerts and make e2e-tools put promtool
	// (e2e/tools/prometheus/build.sh), relative to the repository root.
	promtoolE2E = ".e2e/bin/promtool"
)

// promtoolTests is the part of a promtool test file this test reads.
type promtoolTests struct {
	RuleFiles []string `json:"rule_files"`
	Tests     []struct {
		Name           string `json:"name"`
		AlertRuleTests []struct {
			EvalTime  string `json:"eval_time"`
			Alertname string `json:"alertname"`
			ExpAlerts []struct {
				ExpLabels      map[string]string `json:"exp_labels"`
				ExpAnnotations map[string]string `json:"exp_annotations"`
			} `json:"exp_alerts"`
		} `json:"alert_rule_test"`
	} `json:"tests"`
}

func readAlertTests(t *testing.T) ([]byte, promtoolTests) {
	t.Helper()
	data, err := os.ReadFile(alertTestsFile)
	if err != nil {
		t.Fatal(err)
	}
	var pt promtoolTests
	if err := yaml.Unmarshal(data, &pt); err != nil {
		t.Fatalf("%s: %v", alertTestsFile, err)
	}
	return data, pt
}

// TestAlertRulesPromtoolCoversEveryAlert needs no promtool: it checks that
// the unit tests try every alert of the PrometheusRule, with a case where it
// fires (its labels and rendered annotations checked) and one where it stays
// quiet, and name no alert the rule lacks. promtool compares a misspelt
// alertname's alerts with none, so a quiet case of it would pass.
func TestAlertRulesPromtoolCoversEveryAlert(t *testing.T) {
	_, pt := readAlertTests(t)
	if !slices.Equal(pt.RuleFiles, []string{alertRulesFile}) {
		t.Errorf("%s: rule_files %q, want [%s], the file TestAlertRulesPromtool writes", alertTestsFile, pt.RuleFiles, alertRulesFile)
	}
	alerts := make(map[string]bool)
	for _, g := range prometheusRule(t).Spec.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				alerts[r.Alert] = true
			}
		}
	}
	if len(alerts) == 0 {
		t.Fatal("the PrometheusRule has no alert")
	}
	fires := make(map[string]int)
	quiet := make(map[string]int)
	for _, tg := range pt.Tests {
		for _, c := range tg.AlertRuleTests {
			where := fmt.Sprintf("%s: test %q at %s", alertTestsFile, tg.Name, c.EvalTime)
			if !alerts[c.Alertname] {
				t.Errorf("%s: alertname %q is no alert of k8s/prometheusrule.yaml", where, c.Alertname)
				continue
			}
			if len(c.ExpAlerts) == 0 {
				quiet[c.Alertname]++
				continue
			}
			fires[c.Alertname]++
			for _, a := range c.ExpAlerts {
				if a.ExpLabels["severity"] == "" || a.ExpAnnotations["summary"] == "" {
					t.Errorf("%s: %s: an expected alert without exp_labels.severity or exp_annotations.summary", where, c.Alertname)
				}
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(alerts)) {
		if fires[name] == 0 {
			t.Errorf("alert %s: no case in %s where it fires", name, alertTestsFile)
		}
		if quiet[name] == 0 {
			t.Errorf("alert %s: no case in %s where it stays quiet (exp_alerts: [])", name, alertTestsFile)
		}
	}
}

// TestAlertRulesPromtool runs the unit tests of deploy/alerts/ with promtool
// against the rules of k8s/prometheusrule.yaml, as the Prometheus Operator
// hands them to Prometheus: spec.groups as a rules file.
func TestAlertRulesPromtool(t *testing.T) {
	promtool := findPromtool(t)
	data, _ := readAlertTests(t)
	rules, err := yaml.Marshal(map[string]any{"groups": prometheusRule(t).Spec.Groups})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rulesPath := filepath.Join(dir, alertRulesFile)
	testsPath := filepath.Join(dir, filepath.Base(alertTestsFile))
	if err := os.WriteFile(rulesPath, rules, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(testsPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := runPromtool(t, promtool, "check", "rules", "--lint-fatal", rulesPath); err != nil {
		t.Fatalf("promtool check rules on k8s/prometheusrule.yaml's spec: %v\n%s\nrules file:\n%s", err, out, rules)
	}
	out, err := runPromtool(t, promtool, "test", "rules", testsPath)
	if err != nil {
		t.Fatalf("promtool test rules %s: %v\n%s", alertTestsFile, err, out)
	}
	t.Logf("promtool test rules %s:\n%s", alertTestsFile, out)
}

func runPromtool(t *testing.T, promtool string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, promtool, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// findPromtool returns $PROMTOOL, or else the repository's .e2e/bin/promtool.
// Without either it skips, or fails when REQUIRE_SERVICES=1 (as in CI).
func findPromtool(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("PROMTOOL"); p != "" {
		abs, err := exec.LookPath(p)
		if err != nil {
			t.Fatalf("PROMTOOL=%s: %v", p, err)
		}
		return abs
	}
	p, err := filepath.Abs(filepath.Join("..", filepath.FromSlash(promtoolE2E)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err == nil {
		return p
	} else if !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	msg := fmt.Sprintf("promtool not found: PROMTOOL is unset and there is no %s (make test-alerts builds it with e2e/tools/prometheus/build.sh)", promtoolE2E)
	if os.Getenv("REQUIRE_SERVICES") == "1" {
		t.Fatal(msg + "; REQUIRE_SERVICES=1 requires it")
	}
	t.Skip(msg + "; REQUIRE_SERVICES=1 turns this skip into a failure")
	return ""
}
