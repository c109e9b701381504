package redisconn

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/travluk/ecom/services/platform/internal/redistest"
)

// startSentinel runs a Redis Sentinel (redis-server --sentinel) watching the
// test Redis as master and returns its address. Sentinel only reads from
// and announces itself to the master; it changes nothing there without
// replicas to fail over to.
func startSentinel(t *testing.T, masterURL, masterName string) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("REQUIRE_SERVICES") == "1" {
			t.Fatalf("redis-server, which runs Sentinel, is not installed and REQUIRE_SERVICES=1: %v", err)
		}
		t.Skipf("redis-server, which runs Sentinel, is not installed: %v", err)
	}
	master, err := redis.ParseURL(masterURL)
	if err != nil {
		t.Fatal(err)
	}
	host, port, err := net.SplitHostPort(master.Addr)
	if err != nil {
		t.Fatal(err)
	}
	addr := redistest.ClosedAddr(t)
	_, sentinelPort, _ := net.SplitHostPort(addr)
	dir := t.TempDir()
	conf := fmt.Sprintf("port %s\nbind 127.0.0.1\ndir %s\nsentinel monitor %s %s %s 1\n", sentinelPort, dir, masterName, host, port)
	if master.Password != "" {
		conf += fmt.Sprintf("sentinel auth-pass %s %s\n", masterName, master.Password)
	}
	// Sentinel rewrites its configuration file, so it must be its own.
	confPath := filepath.Join(dir, "sentinel.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, confPath, "--sentinel")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("sentinel output:\n%s", out.String())
		}
	})

	probe := redis.NewSentinelClient(&redis.Options{Addr: addr, DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	defer probe.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		got, err := probe.GetMasterAddrByName(ctx, masterName).Result()
		cancel()
		if err == nil && len(got) == 2 {
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("Sentinel at %s did not name master %s within 10 s: %v", addr, masterName, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestConnectThroughSentinel(t *testing.T) {
	masterURL := redistest.URL(t)
	masterName := "redisconn-test"
	sentinel := startSentinel(t, masterURL, masterName)
	master, err := redis.ParseURL(masterURL)
	if err != nil {
		t.Fatal(err)
	}

	sentinelURL := fmt.Sprintf("redis://%s/%d?master_name=%s", sentinel, master.DB, masterName)
	if master.Password != "" {
		sentinelURL += "&password=" + master.Password
	}
	viaSentinel, err := Connect(sentinelURL)
	if err != nil {
		t.Fatal(err)
	}
	defer viaSentinel.Close()
	direct, err := Connect(masterURL)
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()

	ctx := context.Background()
	key := "redisconn:sentinel:" + rand.Text()
	if err := viaSentinel.Set(ctx, key, "found through Sentinel", time.Minute).Err(); err != nil {
		t.Fatalf("SET through the master Sentinel names: %v", err)
	}
	defer direct.Del(ctx, key)
	if got, err := direct.Get(ctx, key).Result(); err != nil || got != "found through Sentinel" {
		t.Fatalf("GET on the master itself = %q, %v; want what the Sentinel client wrote", got, err)
	}

	o := viaSentinel.Options()
	if o.ReadTimeout != readTimeout || o.DialTimeout != dialTimeout || o.MaxRetries != maxRetries || o.Protocol != protocol {
		t.Errorf("Sentinel client options: read %v, dial %v, retries %d, protocol %d; want the package defaults %v, %v, %d, %d",
			o.ReadTimeout, o.DialTimeout, o.MaxRetries, o.Protocol, readTimeout, dialTimeout, maxRetries, protocol)
	}
}

func TestSentinelAwayFailsFast(t *testing.T) {
	rdb, err := Connect("redis://" + redistest.ClosedAddr(t) + "/0?master_name=mymaster")
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	began := time.Now()
	if err := rdb.Ping(context.Background()).Err(); err == nil {
		t.Fatal("Ping succeeded with no Sentinel listening")
	}
	if took := time.Since(began); took > 1500*time.Millisecond {
		t.Errorf("Ping took %v to fail with no Sentinel listening, want under 1.5 s", took)
	}
}
