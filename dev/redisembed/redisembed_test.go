package redisembed

import (
	"bufio"
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
