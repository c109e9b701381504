package testenv

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

func TestMongoAndDatabase(t *testing.T) {
	uri := Mongo(t)
	if again := Mongo(t); again != uri {
		t.Errorf("second Mongo() = %q, want the same server %q", again, uri)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(ctx)

	var name string
	t.Run("each test gets its own database", func(t *testing.T) {
		name = Database(t)
		if other := Database(t); other == name {
			t.Errorf("Database returned %q twice", name)
		}
		if !regexp.MustCompile(`^t_[0-9a-f]{12}$`).MatchString(name) {
			t.Errorf("Database() = %q, want t_ and 12 hex digits", name)
		}
		if _, err := c.Database(name).Collection("things").InsertOne(ctx, bson.D{{Key: "n", Value: 1}}); err != nil {
			t.Fatal(err)
		}
	})
	names, err := c.ListDatabaseNames(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if n == name {
			t.Errorf("database %s still exists after its test ended", name)
		}
	}
}

func TestRedis(t *testing.T) {
	raw := Redis(t)
	if again := Redis(t); again != raw {
		t.Errorf("second Redis() = %q, want the same server %q", again, raw)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "redis" {
		t.Fatalf("Redis() = %q, want a redis:// URL", raw)
	}
	c, err := net.DialTimeout("tcp", u.Host, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "+PONG" {
		t.Errorf("PING = %q, %v; want +PONG", line, err)
	}
}

// outcome records how a helper ended a test, and with what message,
// without ending this one. Call the helper in a goroutine of its own: ending
// the test ends that goroutine.
type outcome struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (o *outcome) Helper()     {}
func (o *outcome) Skip(...any) { o.skipped = true; runtime.Goexit() }
func (o *outcome) Fatal(a ...any) {
	o.failed, o.msg = true, fmt.Sprint(a...)
	runtime.Goexit()
}
func (o *outcome) Fatalf(format string, a ...any) {
	o.failed, o.msg = true, fmt.Sprintf(format, a...)
	runtime.Goexit()
}
func (o *outcome) Skipf(string, ...any) { o.skipped = true; runtime.Goexit() }

// run calls helper with o as its testing.TB and returns when it has returned
// or ended the test.
func (o *outcome) run(helper func(testing.TB)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		helper(o)
	}()
	<-done
}

func TestAMQP(t *testing.T) {
	tests := []struct {
		name, url, require string
		want               string
		skipped, failed    bool
	}{
		{name: "real server", url: "amqp://guest:guest@127.0.0.1:5672/", want: "amqp://guest:guest@127.0.0.1:5672/"},
		{name: "none: skip", skipped: true},
		{name: "none but required: fail", require: "1", failed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("AMQP_URL", tt.url)
			t.Setenv("REQUIRE_SERVICES", tt.require)
			o := &outcome{TB: t}
			var got string
			o.run(func(tb testing.TB) { got = AMQP(tb) })
			if got != tt.want || o.skipped != tt.skipped || o.failed != tt.failed {
				t.Errorf("AMQP() = %q, skipped %v, failed %v; want %q, %v, %v", got, o.skipped, o.failed, tt.want, tt.skipped, tt.failed)
			}
		})
	}
}
