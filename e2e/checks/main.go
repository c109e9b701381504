// Command checks runs make e2e's checks against the shop on the e2e cluster,
// through the Gateway's address as a client calls it: the customer journey,
// a rollout restart of each service under a bounded load with no failed
// request, and the order pods deleted while buys are in flight with nothing
// lost or oversold; Prometheus scraping the shop and evaluating its alerts and
// dashboard queries (monitoring); the product HPA scaling out and in under load
// (autoscale); the customer VPA's recommendation (vpa); what each pod can and
// cannot connect to under the NetworkPolicies (netpol). It drives the cluster
// with kubectl.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "checks:", err)
		os.Exit(1)
	}
}

type config struct {
	base, adminEmail, adminPassword string
	kubectl, namespace              string
	requests                        int
	over                            time.Duration
	prometheus, k8s, results        string
	scaleRPS                        int
	scaleLoad, scaleInWithin        time.Duration
}

func run(args []string) error {
	var c config
	flags := flag.NewFlagSet("checks", flag.ContinueOnError)
	flags.StringVar(&c.base, "base", "http://127.0.0.1:8000", "the Gateway's address")
	flags.StringVar(&c.adminEmail, "admin-email", "", "the shop's admin account (the customer chart's ADMIN_EMAIL)")
	flags.StringVar(&c.kubectl, "kubectl", "kubectl", "kubectl, with KUBECONFIG set")
	flags.StringVar(&c.namespace, "namespace", "travluk", "the shop's namespace")
	flags.IntVar(&c.requests, "requests", 2000, "requests of the load during each rollout restart")
	flags.DurationVar(&c.over, "over", 60*time.Second, "the time the load spreads them over")
	flags.StringVar(&c.prometheus, "prometheus", "", "Prometheus's address, for the monitoring check")
	flags.StringVar(&c.k8s, "k8s", "k8s", "the k8s/ directory whose ServiceMonitors, alerts and dashboard the monitoring check checks")
	flags.StringVar(&c.results, "results", "", "where the autoscale check writes its table and plot")
	flags.IntVar(&c.scaleRPS, "scale-rps", 40, "catalog reads per second of the autoscale check's load")
	flags.DurationVar(&c.scaleLoad, "scale-load", 4*time.Minute, "the longest the autoscale check's load runs")
	flags.DurationVar(&c.scaleInWithin, "scale-in-within", 6*time.Minute, "how soon after the load product must be back at minReplicas")
	only := flags.String("only", "", "run only these checks, comma-separated (journey, restart, delete-order, monitoring, autoscale, vpa, netpol)")
	adapterValues := flags.String("adapter-config", "", "print the prometheus-adapter config of these Helm values and exit")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if *adapterValues != "" {
		text, err := adapterConfig(*adapterValues)
		if err == nil {
			fmt.Print(text)
		}
		return err
	}
	c.adminPassword = os.Getenv("E2E_ADMIN_PASSWORD")
	if c.adminEmail == "" || c.adminPassword == "" {
		return fmt.Errorf("-admin-email and $E2E_ADMIN_PASSWORD are required")
	}
	s := &shop{base: strings.TrimRight(c.base, "/"), client: &http.Client{Timeout: 15 * time.Second}}
	admin, err := s.loginRetrying(c.adminEmail, c.adminPassword)
	if err != nil {
		return fmt.Errorf("admin login: %w", err)
	}
	runID := fmt.Sprintf("%x", time.Now().UnixNano())
	checks := []struct {
		name string
		run  func() error
	}{
		{"journey", func() error { return journey(s, admin.AccessToken, runID) }},
		{"restart", func() error { return restarts(s, c, admin.AccessToken, runID) }},
		{"delete-order", func() error { return deleteOrderPods(s, c, admin.AccessToken, runID) }},
		{"monitoring", func() error { return monitoring(s, c, admin.AccessToken, runID) }},
		{"autoscale", func() error { return autoscale(s, c) }},
		{"vpa", func() error { return vpa(c) }},
		{"netpol", func() error { return netpol(s, c, admin.AccessToken, runID) }},
	}
	for _, check := range checks {
		if *only != "" && !strings.Contains(","+*only+",", ","+check.name+",") {
			continue
		}
		start := time.Now()
		fmt.Printf("== e2e check %s\n", check.name)
		if err := check.run(); err != nil {
			return fmt.Errorf("%s: %w", check.name, err)
		}
		fmt.Printf("== e2e check %s passed in %.0f s\n", check.name, time.Since(start).Seconds())
	}
	return nil
}

// customers registers n customers and returns their access tokens.
func customers(s *shop, n int, runID, tag string) ([]string, error) {
	var out []string
	for i := range n {
		t, err := s.register("Load "+tag, fmt.Sprintf("%s-%d-%s@e2e.example", tag, i, runID), "correct horse "+tag)
		if err != nil {
			return nil, err
		}
		out = append(out, t.AccessToken)
	}
	return out, nil
}

func products(s *shop, admin string, n int, stock int64, runID, tag string) (ledger, []string, error) {
	l := ledger{initial: make(map[string]int64), orders: make(map[string]bool)}
	var ids []string
	for i := range n {
		p, err := s.newProduct(admin, fmt.Sprintf("%s %d %s", tag, i, runID), stock)
		if err != nil {
			return l, nil, err
		}
		l.initial[p.ID] = stock
		ids = append(ids, p.ID)
	}
	return l, ids, nil
}

// loadSetup registers four customers and stocks n products for one check's
// load: the traffic (eight workers) over them and the ledger of that stock.
func loadSetup(s *shop, admin string, n int, stock int64, runID, tag string) (traffic, ledger, error) {
	tokens, err := customers(s, 4, runID, tag)
	if err != nil {
		return traffic{}, ledger{}, err
	}
	l, ids, err := products(s, admin, n, stock, runID, tag)
	if err != nil {
		return traffic{}, ledger{}, err
	}
	return traffic{shop: s, tokens: tokens, products: ids, workers: 8}, l, nil
}

// restarts restarts each service's Deployment while the load runs, and
// wants no failed request and every order settled.
func restarts(s *shop, c config, admin, runID string) error {
	load, l, err := loadSetup(s, admin, 4, 1000, runID, "restart")
	if err != nil {
		return err
	}
	load.withBuys = true
	for _, svc := range []string{"customer", "product", "order"} {
		tr := load
		done := make(chan error, 1)
		go func() {
			time.Sleep(c.over / 10) // the load runs before, during and after
			if _, err := kubectl(c, 0, "rollout", "restart", "deployment/"+svc); err != nil {
				done <- err
				return
			}
			_, err := kubectl(c, c.over, "rollout", "status", "deployment/"+svc, "--timeout", c.over.String())
			done <- err
		}()
		res := tr.run(c.requests, c.over)
		if err := <-done; err != nil {
			return fmt.Errorf("rollout restart of %s: %w", svc, err)
		}
		fmt.Printf("   restart %s under load: %s\n", svc, res)
		if res.failed() > 0 {
			return fmt.Errorf("restart of %s: %s", svc, res)
		}
		for _, id := range res.orders {
			l.orders[id] = true
		}
	}
	return eventually(90*time.Second, func() error { return l.settled(s, admin) })
}

// deleteOrderPods deletes every order pod while buys are in flight: every
// 2xx buy must end confirmed, and no stock may be lost or oversold.
func deleteOrderPods(s *shop, c config, admin, runID string) error {
	tr, l, err := loadSetup(s, admin, 2, 300, runID, "delete")
	if err != nil {
		return err
	}
	tr.onlyBuys = true
	done := make(chan error, 1)
	go func() {
		time.Sleep(5 * time.Second)
		_, err := kubectl(c, time.Minute, "delete", "pod", "-l", "app.kubernetes.io/name=order", "--wait=true")
		done <- err
	}()
	// 8 buys a second: what the embedded MongoDB-wire store sustains here
	// without the services' readiness probes timing out on it.
	res := tr.run(240, 30*time.Second)
	if err := <-done; err != nil {
		return err
	}
	fmt.Printf("   order pods deleted during buys: %s\n", res)
	for _, id := range res.orders {
		l.orders[id] = true
	}
	if len(res.orders) == 0 {
		return fmt.Errorf("no buy succeeded: %s", res)
	}
	if _, err := kubectl(c, 2*time.Minute, "rollout", "status", "deployment/order", "--timeout", "2m"); err != nil {
		return err
	}
	return eventually(2*time.Minute, func() error { return l.settled(s, admin) })
}

// kubectl runs kubectl in the shop's namespace, within limit when it is not 0,
// and returns what it printed on stdout; an error carries its stderr.
func kubectl(c config, limit time.Duration, args ...string) (string, error) {
	ctx := context.Background()
	if limit > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, limit+10*time.Second)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, c.kubectl, append([]string{"-n", c.namespace}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out), nil
}
