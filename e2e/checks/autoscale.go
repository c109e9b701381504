package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// hpaSample is what the product HPA and its Deployment showed at one moment.
type hpaSample struct {
	at                time.Duration // since the load began
	current, desired  int
	ready             int
	requestsPerSecond string // the HPA's reading of http_requests_per_second, per pod
	loaded            bool
}

// autoscale puts a bounded catalog load on product through the Gateway and
// wants its HPA to scale out from minReplicas, then back in to it after the
// load ends. The replica counts over time go to results/hpa-product.tsv and
// a plot, results/hpa-product.svg.
func autoscale(s *shop, c config) error {
	// The metrics APIs the HPA reads must answer first.
	if err := eventually(2*time.Minute, func() error {
		if _, err := kubectl(c, time.Minute, "get", "--raw", "/apis/metrics.k8s.io/v1beta1/namespaces/"+c.namespace+"/pods"); err != nil {
			return err
		}
		out, err := kubectl(c, time.Minute, "get", "--raw",
			"/apis/custom.metrics.k8s.io/v1beta2/namespaces/"+c.namespace+"/pods/*/http_requests_per_second?labelSelector=app.kubernetes.io%2Fname%3Dproduct")
		if err != nil {
			return err
		}
		if !strings.Contains(out, `"describedObject"`) {
			return fmt.Errorf("custom.metrics.k8s.io: no http_requests_per_second for product's pods yet: %s", out)
		}
		return nil
	}); err != nil {
		return err
	}
	fewest, most, err := hpaBounds(c)
	if err != nil {
		return err
	}
	if err := eventually(2*time.Minute, func() error {
		smp, err := sampleHPA(c)
		if err != nil {
			return err
		}
		if smp.current != fewest || smp.ready != fewest {
			return fmt.Errorf("product at %d replicas (%d ready) before the load, want minReplicas %d", smp.current, smp.ready, fewest)
		}
		return nil
	}); err != nil {
		return err
	}
	fmt.Printf("   product HPA: %d..%d replicas, at %d; metrics.k8s.io and custom.metrics.k8s.io answer\n", fewest, most, fewest)

	var samples []hpaSample
	start := time.Now()
	record := func(loaded bool) (hpaSample, error) {
		smp, err := sampleHPA(c)
		smp.at, smp.loaded = time.Since(start), loaded
		if err == nil {
			samples = append(samples, smp)
		}
		return smp, err
	}
	defer func() {
		if err := writeHPAResults(c.results, samples, fewest, most); err != nil {
			fmt.Fprintln(os.Stderr, "checks: writing the HPA plot:", err)
		}
	}()

	// The load: catalog reads only (every client's first request), spread
	// evenly, for at most c.scaleLoad; it stops early once the HPA scaled out.
	ctx, stop := context.WithTimeout(context.Background(), c.scaleLoad)
	defer stop()
	loadDone := make(chan result, 1)
	go func() {
		loadDone <- catalogLoad(ctx, s, c.scaleRPS)
	}()
	var scaledOut time.Duration
	for scaledOut == 0 {
		select {
		case res := <-loadDone:
			return fmt.Errorf("the load ended (%s) and product never scaled out above %d replicas", res, fewest)
		case <-time.After(5 * time.Second):
		}
		smp, err := record(true)
		if err != nil {
			fmt.Println("   sample:", err)
			continue
		}
		if smp.current > fewest && smp.ready == smp.current {
			scaledOut = smp.at
		}
	}
	// Keep the load up a little longer, to see how far it goes.
	time.Sleep(15 * time.Second)
	stop()
	res := <-loadDone
	loadEnded := time.Since(start)
	peak := 0
	for _, smp := range samples {
		peak = max(peak, smp.current)
	}
	fmt.Printf("   scaled out %.0f s after the load began, to a peak of %d pods; load: %s\n", scaledOut.Seconds(), peak, res)
	if res.failed() > 0 {
		return fmt.Errorf("load: %s", res)
	}

	deadline := time.Now().Add(c.scaleInWithin)
	for {
		time.Sleep(5 * time.Second)
		smp, err := record(false)
		if err == nil && smp.current == fewest && smp.ready == fewest {
			fmt.Printf("   scaled back in to %d pods %.0f s after the load ended\n", fewest, (smp.at - loadEnded).Seconds())
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("product still at %d replicas %s after the load ended (want %d)", smp.current, c.scaleInWithin, fewest)
		}
	}
}

// catalogLoad sends rps catalog reads a second until ctx ends.
func catalogLoad(ctx context.Context, s *shop, rps int) result {
	res := result{failures: make(map[string]int)}
	tick := time.NewTicker(time.Second / time.Duration(rps))
	defer tick.Stop()
	answers := make(chan answer, 64)
	inFlight := 0
	for {
		select {
		case <-ctx.Done():
			for ; inFlight > 0; inFlight-- {
				countAnswer(&res, <-answers)
			}
			return res
		case a := <-answers:
			inFlight--
			countAnswer(&res, a)
		case <-tick.C:
			if inFlight >= cap(answers) {
				res.failures["GET /api/products: client saturated"]++
				continue
			}
			inFlight++
			go func() { answers <- s.do("GET", "/api/products?limit=5", "", nil) }()
		}
	}
}

func countAnswer(res *result, a answer) {
	res.sent++
	switch {
	case a.err != nil:
		res.failures["GET /api/products: "+shortError(a.err)]++
	case a.status != 200:
		res.failures[fmt.Sprintf("GET /api/products: %d", a.status)]++
	}
}

func hpaBounds(c config) (fewest, most int, err error) {
	out, err := kubectl(c, time.Minute, "get", "hpa/product", "-o", "jsonpath={.spec.minReplicas} {.spec.maxReplicas}")
	if err != nil {
		return 0, 0, err
	}
	if _, err := fmt.Sscan(out, &fewest, &most); err != nil {
		return 0, 0, fmt.Errorf("hpa/product bounds %q: %w", out, err)
	}
	return fewest, most, nil
}

func sampleHPA(c config) (hpaSample, error) {
	out, err := kubectl(c, 30*time.Second, "get", "hpa/product", "deployment/product", "-o", "json")
	if err != nil {
		return hpaSample{}, err
	}
	var list struct {
		Items []struct {
			Kind   string `json:"kind"`
			Status struct {
				CurrentReplicas int `json:"currentReplicas"`
				DesiredReplicas int `json:"desiredReplicas"`
				ReadyReplicas   int `json:"readyReplicas"`
				CurrentMetrics  []struct {
					Type string `json:"type"`
					Pods struct {
						Current struct {
							AverageValue string `json:"averageValue"`
						} `json:"current"`
					} `json:"pods"`
				} `json:"currentMetrics"`
			} `json:"status"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		return hpaSample{}, err
	}
	var smp hpaSample
	for _, it := range list.Items {
		switch it.Kind {
		case "HorizontalPodAutoscaler":
			smp.current, smp.desired = it.Status.CurrentReplicas, it.Status.DesiredReplicas
			for _, m := range it.Status.CurrentMetrics {
				if m.Type == "Pods" {
					smp.requestsPerSecond = m.Pods.Current.AverageValue
				}
			}
		case "Deployment":
			smp.ready = it.Status.ReadyReplicas
		}
	}
	return smp, nil
}

// writeHPAResults writes the samples as a table and as an SVG step plot of
// the replica counts, the load's span shaded.
func writeHPAResults(dir string, samples []hpaSample, fewest, most int) error {
	if dir == "" || len(samples) == 0 {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var tsv strings.Builder
	tsv.WriteString("seconds\tload\tcurrent\tdesired\tready\trequests_per_second_per_pod\n")
	for _, s := range samples {
		fmt.Fprintf(&tsv, "%.0f\t%v\t%d\t%d\t%d\t%s\n", s.at.Seconds(), s.loaded, s.current, s.desired, s.ready, s.requestsPerSecond)
	}
	if err := os.WriteFile(filepath.Join(dir, "hpa-product.tsv"), []byte(tsv.String()), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "hpa-product.svg"), []byte(hpaPlot(samples, fewest, most)), 0o644)
}

func hpaPlot(samples []hpaSample, fewest, most int) string {
	const w, h, left, right, top, bottom = 640.0, 300.0, 50.0, 20.0, 30.0, 40.0
	end := samples[len(samples)-1].at.Seconds()
	x := func(sec float64) float64 { return left + (w-left-right)*sec/end }
	y := func(n int) float64 { return h - bottom - (h-top-bottom)*float64(n)/float64(most) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="12">`+"\n", w, h)
	b.WriteString(`<rect width="100%" height="100%" fill="white"/>` + "\n")
	// The load's span.
	var loadEnd float64
	for _, s := range samples {
		if s.loaded {
			loadEnd = s.at.Seconds()
		}
	}
	fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#fde9c8"/>`+"\n", x(0), top, x(loadEnd)-x(0), h-top-bottom)
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" fill="#a06000">load</text>`+"\n", x(0)+4, top+14)
	// Axes and grid.
	for n := 0; n <= most; n++ {
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%.1f" y="%.1f" text-anchor="end">%d</text>`+"\n",
			left, w-right, y(n), y(n), left-6, y(n)+4, n)
	}
	step := 60.0
	for sec := 0.0; sec <= end; sec += step {
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%.0f</text>`+"\n", x(sec), h-bottom+16, sec)
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">seconds since the load began</text>`+"\n", (left+w-right)/2, h-6)
	fmt.Fprintf(&b, `<text x="%.1f" y="18">product HPA: replicas over time (fewest %d, most %d)</text>`+"\n", left, fewest, most)
	line := func(color string, value func(hpaSample) int, label string, offset float64) {
		var pts []string
		for i, s := range samples {
			if i > 0 {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(s.at.Seconds()), y(value(samples[i-1]))-offset))
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(s.at.Seconds()), y(value(s))-offset))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", color, strings.Join(pts, " "))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" fill="%s">%s</text>`+"\n", w-right-140, top+14+offset*6, color, label)
	}
	line("#1f77b4", func(s hpaSample) int { return s.desired }, "desired (HPA)", 0)
	line("#2ca02c", func(s hpaSample) int { return s.ready }, "ready pods", 2)
	b.WriteString("</svg>\n")
	return b.String()
}

// vpa wants the customer VPA's recommender to have given a target for the
// customer container within the VPA's own minAllowed and maxAllowed.
func vpa(c config) error {
	var last string
	err := eventually(4*time.Minute, func() error {
		out, err := kubectl(c, 30*time.Second, "get", "vpa/customer", "-o", "json")
		if err != nil {
			return err
		}
		var v struct {
			Spec struct {
				UpdatePolicy struct {
					UpdateMode string `json:"updateMode"`
				} `json:"updatePolicy"`
				ResourcePolicy struct {
					ContainerPolicies []struct {
						ContainerName string            `json:"containerName"`
						MinAllowed    map[string]string `json:"minAllowed"`
						MaxAllowed    map[string]string `json:"maxAllowed"`
					} `json:"containerPolicies"`
				} `json:"resourcePolicy"`
			} `json:"spec"`
			Status struct {
				Recommendation struct {
					ContainerRecommendations []struct {
						ContainerName string            `json:"containerName"`
						Target        map[string]string `json:"target"`
						LowerBound    map[string]string `json:"lowerBound"`
						UpperBound    map[string]string `json:"upperBound"`
					} `json:"containerRecommendations"`
				} `json:"recommendation"`
			} `json:"status"`
		}
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			return err
		}
		for _, r := range v.Status.Recommendation.ContainerRecommendations {
			if r.ContainerName != "customer" {
				continue
			}
			for _, p := range v.Spec.ResourcePolicy.ContainerPolicies {
				if p.ContainerName != "customer" && p.ContainerName != "*" {
					continue
				}
				for _, res := range []string{"cpu", "memory"} {
					if err := within(res, r.Target[res], p.MinAllowed[res], p.MaxAllowed[res]); err != nil {
						return fmt.Errorf("vpa/customer: %w", err)
					}
				}
				last = fmt.Sprintf("target cpu %s memory %s (lower %s/%s, upper %s/%s; allowed %s/%s .. %s/%s), updateMode %s",
					r.Target["cpu"], r.Target["memory"], r.LowerBound["cpu"], r.LowerBound["memory"],
					r.UpperBound["cpu"], r.UpperBound["memory"], p.MinAllowed["cpu"], p.MinAllowed["memory"],
					p.MaxAllowed["cpu"], p.MaxAllowed["memory"], v.Spec.UpdatePolicy.UpdateMode)
				return nil
			}
			return fmt.Errorf("vpa/customer has no container policy for customer")
		}
		return fmt.Errorf("vpa/customer has no recommendation for container customer yet")
	})
	if err != nil {
		return err
	}
	fmt.Println("   customer VPA recommends", last)
	return nil
}

// within checks min <= value <= max for Kubernetes quantities.
func within(resource, value, min, max string) error {
	v, err := parseQuantity(value)
	if err != nil {
		return fmt.Errorf("%s target %q: %w", resource, value, err)
	}
	lo, err := parseQuantity(min)
	if err != nil {
		return fmt.Errorf("%s minAllowed %q: %w", resource, min, err)
	}
	hi, err := parseQuantity(max)
	if err != nil {
		return fmt.Errorf("%s maxAllowed %q: %w", resource, max, err)
	}
	if v < lo || v > hi {
		return fmt.Errorf("%s target %s is outside [%s, %s]", resource, value, min, max)
	}
	return nil
}

// parseQuantity reads the quantities a VPA shows: plain numbers, m, k, M, G,
// Ki, Mi, Gi.
func parseQuantity(q string) (float64, error) {
	if q == "" {
		return 0, fmt.Errorf("empty")
	}
	suffixes := []struct {
		s string
		f float64
	}{{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"m", 1e-3}, {"k", 1e3}, {"M", 1e6}, {"G", 1e9}}
	for _, sf := range suffixes {
		if n, ok := strings.CutSuffix(q, sf.s); ok {
			var v float64
			if _, err := fmt.Sscan(n, &v); err != nil {
				return 0, err
			}
			return v * sf.f, nil
		}
	}
	var v float64
	_, err := fmt.Sscan(q, &v)
	return v, err
}
