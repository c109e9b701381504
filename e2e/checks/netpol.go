package main

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// The netpol check: with kube-network-policies enforcing k8s/networkpolicies.yaml,
// each service pod reaches what its policy allows and nothing else, a pod
// outside the shop's namespace reaches none of the shop's stores, and the
// journey still works. A probe is a TCP connect from inside the pod's network
// namespace: an ephemeral container in a service pod (the pod's own image has
// no shell), a pod of its own in a namespace of its own for "outside".

type reach string

const (
	connected reach = "connected" // the connection was made
	dropped   reach = "timeout"   // no answer: the policy dropped the SYN
)

// probeImage has bash (for /dev/tcp) and coreutils' timeout; the Redis
// stand-in's image, already on the node, user 1000.
const probeImage = "localhost/e2e/redis:e2e"

// probeScript prints "<target> <result>" for each "host:port=expected"
// argument. The name is resolved first (as an absolute name, no search list),
// so that "timeout" means the SYN went unanswered, never a slow or lost DNS
// answer; a name that does not resolve prints "no-address", which is neither
// result wanted. A target expected to connect is tried up to three times, 4 s
// each: the policy controller judges a connection's first packet in user
// space, and one lost SYN must not read as a policy. A dropped one is tried
// once (a retry cannot turn a drop into a connection). Other errors (refused)
// print the error.
const probeScript = `for arg in "$@"; do
  t=${arg%=*} want=${arg##*=} host=${t%:*} port=${t##*:}
  ip=$(timeout 10 getent ahostsv4 "$host." | { read -r first _ && echo "$first"; })
  if [[ -z $ip ]]; then echo "$t no-address"; continue; fi
  tries=1; [[ $want == connected ]] && tries=3
  for ((try = 1; try <= tries; try++)); do
    if out=$(timeout 4 bash -c "exec 3<>/dev/tcp/$ip/$port" 2>&1); then result=connected; break
    elif [[ $? == 124 ]]; then result=timeout
    else result="error: ${out//$'\n'/ }"; break; fi
  done
  echo "$t $result$( ((try > 1 && try <= tries)) && echo " (try $try)")"
done`

// reachability is what one pod must and must not reach, by target host:port.
type reachability struct {
	from   string // customer, product, order or outside
	expect map[string]reach
}

func netpolMatrix(ns string) []reachability {
	svc := func(name string, port int) string { return fmt.Sprintf("%s.%s.svc.cluster.local:%d", name, ns, port) }
	var (
		mongo      = svc("mongodb-svc", 27017)
		sentinel   = svc("rfs-redis", 26379)
		redis      = svc("rfr-redis", 6379) // headless: the server pod's IP
		amqp       = svc("rabbitmq", 5672)
		rabbitProm = svc("rabbitmq", 15692)
		customer   = svc("customer", 8080)
		product    = svc("product", 8080)
		order      = svc("order", 8080)
		prometheus = "prometheus-operated.monitoring.svc.cluster.local:9090"
	)
	return []reachability{
		{"customer", map[string]reach{
			mongo: connected, sentinel: connected, redis: connected,
			amqp: dropped, product: dropped, order: dropped, prometheus: dropped,
		}},
		{"product", map[string]reach{
			mongo: connected, sentinel: connected, redis: connected, amqp: connected, customer: connected,
			order: dropped, rabbitProm: dropped, prometheus: dropped,
		}},
		{"order", map[string]reach{
			mongo: connected, sentinel: connected, redis: connected, amqp: connected, customer: connected,
			product: dropped, rabbitProm: dropped, prometheus: dropped,
		}},
		// A pod of another namespace: no store and no service of the shop;
		// Prometheus, which no policy guards, shows that it can connect at all.
		{"outside", map[string]reach{
			mongo: dropped, sentinel: dropped, redis: dropped, amqp: dropped,
			customer: dropped, product: dropped, order: dropped,
			prometheus: connected,
		}},
	}
}

func netpol(s *shop, c config, admin, runID string) error {
	matrix := netpolMatrix(c.namespace)
	results := make(chan error, len(matrix))
	for _, r := range matrix {
		go func() { results <- probeFrom(c, r, runID) }()
	}
	var failed []string
	for range matrix {
		if err := <-results; err != nil {
			failed = append(failed, err.Error())
		}
	}
	if len(failed) > 0 {
		sort.Strings(failed)
		return fmt.Errorf("reachability differs from k8s/networkpolicies.yaml:\n  %s", strings.Join(failed, "\n  "))
	}
	fmt.Println("   the journey, with the policies enforced:")
	return journey(s, admin, runID+"-netpol")
}

// probeFrom runs the probes of r and compares each result with the expected one.
func probeFrom(c config, r reachability, runID string) error {
	targets := make([]string, 0, len(r.expect))
	for t := range r.expect {
		targets = append(targets, t)
	}
	sort.Strings(targets)
	args := make([]string, len(targets))
	for i, t := range targets {
		args[i] = t + "=" + string(r.expect[t])
	}
	var out string
	var err error
	if r.from == "outside" {
		out, err = probeOutside(c, args, runID)
	} else {
		out, err = probeInPod(c, r.from, args, runID)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", r.from, err)
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		target, result, _ := strings.Cut(line, " ")
		got[target] = result
	}
	word := func(result string) string { w, _, _ := strings.Cut(result, " "); return w }
	var wrong []string
	for _, t := range targets {
		want := r.expect[t]
		fmt.Printf("   %-8s → %-55s %s\n", r.from, t, got[t])
		if word(got[t]) != string(want) {
			wrong = append(wrong, fmt.Sprintf("%s → %s: %q, want %s", r.from, t, got[t], want))
		}
	}
	if len(wrong) > 0 {
		return fmt.Errorf("%s", strings.Join(wrong, "; "))
	}
	return nil
}

// probeInPod runs the probes in an ephemeral container of one of the service's
// pods, which shares the pod's network namespace and so its policies.
func probeInPod(c config, service string, targets []string, runID string) (string, error) {
	pod, err := kubectl(c, 30*time.Second, "get", "pod", "-l",
		"app.kubernetes.io/name="+service+",app.kubernetes.io/component=api",
		"--field-selector", "status.phase=Running", "-o", "jsonpath={.items[0].metadata.name}")
	if err != nil || pod == "" {
		return "", fmt.Errorf("no running pod: %v", err)
	}
	container := "netpol-" + runID
	args := append([]string{"debug", pod, "--image", probeImage, "--image-pull-policy", "Never",
		"--profile", "restricted", "--container", container, "--", "bash", "-c", probeScript, "probe"}, targets...)
	if _, err := kubectl(c, time.Minute, args...); err != nil {
		return "", err
	}
	state := fmt.Sprintf(`jsonpath={.status.ephemeralContainerStatuses[?(@.name=="%s")].state.terminated.reason}`, container)
	if err := eventually(2*time.Minute, func() error {
		reason, err := kubectl(c, 30*time.Second, "get", "pod", pod, "-o", state)
		if err == nil && reason == "" {
			err = fmt.Errorf("probe container %s in %s has not finished", container, pod)
		}
		return err
	}); err != nil {
		return "", err
	}
	return kubectl(c, 30*time.Second, "logs", pod, "-c", container)
}

// probeOutside runs the probes from a pod in a namespace of its own, removed after.
func probeOutside(c config, targets []string, runID string) (string, error) {
	other := c
	other.namespace = "netpol-outside-" + runID
	if _, err := kubectl(other, time.Minute, "create", "namespace", other.namespace); err != nil {
		return "", err
	}
	defer func() {
		if _, err := kubectl(other, 2*time.Minute, "delete", "namespace", other.namespace, "--wait=false"); err != nil {
			fmt.Println("   cleanup:", err)
		}
	}()
	// The namespace's default ServiceAccount appears shortly after the namespace.
	if err := eventually(time.Minute, func() error {
		_, err := kubectl(other, 30*time.Second, "get", "serviceaccount", "default")
		return err
	}); err != nil {
		return "", err
	}
	overrides := `{"spec":{"automountServiceAccountToken":false,"securityContext":{"runAsNonRoot":true,"seccompProfile":{"type":"RuntimeDefault"}},` +
		`"containers":[{"name":"probe","securityContext":{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}}}]}}`
	args := append([]string{"run", "probe", "--image", probeImage, "--image-pull-policy", "Never", "--restart", "Never",
		"--override-type", "strategic", "--overrides", overrides, "--command", "--", "bash", "-c", probeScript, "probe"}, targets...)
	if _, err := kubectl(other, time.Minute, args...); err != nil {
		return "", err
	}
	if err := eventually(2*time.Minute, func() error {
		phase, err := kubectl(other, 30*time.Second, "get", "pod", "probe", "-o", "jsonpath={.status.phase}")
		if err == nil && phase != "Succeeded" {
			err = fmt.Errorf("probe pod is %q", phase)
		}
		return err
	}); err != nil {
		return "", err
	}
	return kubectl(other, 30*time.Second, "logs", "probe")
}
