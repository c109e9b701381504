package redisembed

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

func TestStartServesRESP(t *testing.T) {
	s, err := Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if want := "redis://" + s.Addr() + "/0"; s.URL() != want {
		t.Errorf("URL() = %q, want %q", s.URL(), want)
	}

	c, err := net.DialTimeout("tcp", s.Addr(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(line); got != "+PONG" {
		t.Errorf("PING answered %q, want +PONG", got)
	}
}

func TestStartFailsOnBusyAddress(t *testing.T) {
	s, err := Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if second, err := Start(s.Addr()); err == nil {
		second.Close()
		t.Fatalf("second Start(%s) succeeded, want an error", s.Addr())
	}
}

func TestKeysExpireOnTime(t *testing.T) {
	s, err := Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := net.DialTimeout("tcp", s.Addr(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	send := func(cmd string) string {
		t.Helper()
		args := strings.Fields(cmd)
		req := fmt.Sprintf("*%d\r\n", len(args))
		for _, a := range args {
			req += fmt.Sprintf("$%d\r\n%s\r\n", len(a), a)
		}
		if _, err := c.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(line)
	}
	if got := send("SET k v PX 300"); got != "+OK" {
		t.Fatalf("SET = %q", got)
	}
	if got := send("EXISTS k"); got != ":1" {
		t.Fatalf("EXISTS right after SET = %q, want :1", got)
	}
	deadline := time.Now().Add(2 * time.Second)
	for send("EXISTS k") != ":0" {
		if time.Now().After(deadline) {
			t.Fatal("a key with a 300 ms TTL still exists after 2 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
