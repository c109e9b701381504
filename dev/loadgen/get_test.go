package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"
)

// TestReadResponse reads canned byte streams. Each case lists the answers
// read back to back from one reader; after them the stream must end
// exactly (the next read finds a clean end), or the next read must fail
// with wantErr. Every stream is read twice: whole, and one byte per Read
// through a 64-byte buffer, so lines, bodies and chunks straddle refills.
func TestReadResponse(t *testing.T) {
	big := strings.Repeat("x", 10000)
	tooLong := "X-Padding: " + strings.Repeat("a", 5000) + "\r\n"
	const ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	tests := []struct {
		name    string
		in      string
		want    []answer
		wantErr string // empty: the stream ends cleanly after want
	}{
		{"content length", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}", []answer{{200, false}}, ""},
		{"header names in any case", "HTTP/1.1 201 Created\r\ncontent-LENGTH:5\r\nCONNECTION: Keep-Alive\r\n\r\nhello", []answer{{201, false}}, ""},
		{"same content length twice", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok", []answer{{200, false}}, ""},
		{"body larger than the buffer", "HTTP/1.1 200 OK\r\nContent-Length: 10000\r\n\r\n" + big, []answer{{200, false}}, ""},
		{"status line without reason", "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", []answer{{200, false}}, ""},
		{"bare LF line ends", "HTTP/1.1 200 OK\nContent-Length: 2\n\nok", []answer{{200, false}}, ""},
		{"error status", "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found", []answer{{404, false}}, ""},
		{"chunked with extensions and trailers", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6;name=value\r\n{\"ok\":\r\n5 ; ext\r\ntrue}\r\n0;last\r\nX-Checksum: 1\r\nX-Other: 2\r\n\r\n", []answer{{200, false}}, ""},
		{"chunk larger than the buffer, upper-case hex", "HTTP/1.1 200 OK\r\nTransfer-Encoding: CHUNKED\r\n\r\n2710\r\n" + big + "\r\n0\r\n\r\n", []answer{{200, false}}, ""},
		{"chunked wins over content length", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", []answer{{200, false}}, ""},
		{"204 has no body", "HTTP/1.1 204 No Content\r\n\r\n", []answer{{204, false}}, ""},
		{"304 has no body despite its length", "HTTP/1.1 304 Not Modified\r\nEtag: \"abc\"\r\nContent-Length: 330\r\n\r\n", []answer{{304, false}}, ""},
		{"interim answers are skipped", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n" + ok, []answer{{200, false}}, ""},
		{"connection close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", []answer{{200, true}}, ""},
		{"close among connection tokens", "HTTP/1.1 200 OK\r\nConnection: Upgrade , CLOSE\r\nContent-Length: 2\r\n\r\nok", []answer{{200, true}}, ""},
		{"close is a token, not a substring", "HTTP/1.1 200 OK\r\nConnection: closed\r\nContent-Length: 2\r\n\r\nok", []answer{{200, false}}, ""},
		{"HTTP/1.0 closes", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", []answer{{200, true}}, ""},
		{"HTTP/1.0 with keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", []answer{{200, false}}, ""},
		{"close-delimited body", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + big, []answer{{200, true}}, ""},
		{"non-chunked transfer coding is close-delimited", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n5\r\nhello\r\n0\r\n\r\n", []answer{{200, true}}, ""},
		{"pipelined answers", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirstHTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nsecond\r\n0\r\n\r\nHTTP/1.1 304 Not Modified\r\n\r\n" + ok, []answer{{200, false}, {404, false}, {304, false}, {200, false}}, ""},

		{"nothing", "", nil, "connection closed before an answer"},
		{"HTTP/2 status line", "HTTP/2 200 OK\r\n\r\n", nil, "malformed status line"},
		{"not HTTP", "ICY 200 OK\r\n\r\n", nil, "malformed status line"},
		{"two-digit status", "HTTP/1.1 20 OK\r\n\r\n", nil, "malformed status line"},
		{"status glued to reason", "HTTP/1.1 200OK\r\n\r\n", nil, "malformed status line"},
		{"status below 100", "HTTP/1.1 099 Odd\r\n\r\n", nil, "malformed status line"},
		{"non-digit status", "HTTP/1.1 2x0 OK\r\n\r\n", nil, "malformed status line"},
		{"cut status line", "HTTP/1.1 20", nil, "unexpected EOF"},
		{"switching protocols", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", nil, "101 Switching Protocols"},
		{"content length not a number", "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n", nil, "invalid Content-Length"},
		{"negative content length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", nil, "invalid Content-Length"},
		{"signed content length", "HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok", nil, "invalid Content-Length"},
		{"empty content length", "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", nil, "invalid Content-Length"},
		{"content length list", "HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok", nil, "invalid Content-Length"},
		{"content length overflow", "HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775808\r\n\r\n", nil, "invalid Content-Length"},
		{"conflicting content lengths", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok", nil, "conflicting Content-Length"},
		{"header line without colon", "HTTP/1.1 200 OK\r\nContent-Length 2\r\n\r\nok", nil, "malformed header line"},
		{"space before colon", "HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok", nil, "malformed header line"},
		{"folded header line", "HTTP/1.1 200 OK\r\nX-A: 1\r\n  2\r\nContent-Length: 2\r\n\r\nok", nil, "malformed header line"},
		{"header line longer than the buffer", "HTTP/1.1 200 OK\r\n" + tooLong + "Content-Length: 2\r\n\r\nok", nil, "line longer than"},
		{"cut headers", "HTTP/1.1 200 OK\r\nContent-Le", nil, "unexpected EOF"},
		{"headers without their end", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n", nil, "unexpected EOF"},
		{"cut body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", nil, "unexpected EOF"},
		{"cut body after a good answer", ok + "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nab", []answer{{200, false}}, "unexpected EOF"},
		{"chunk size not hex", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", nil, "invalid chunk size"},
		{"empty chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", nil, "invalid chunk size"},
		{"negative chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", nil, "invalid chunk size"},
		{"chunk size overflow", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n", nil, "invalid chunk size"},
		{"chunk longer than its size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n", nil, "chunk data longer"},
		{"cut chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", nil, "unexpected EOF"},
		{"no last chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", nil, "unexpected EOF"},
		{"cut trailers", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-Checksum: 1\r\n", nil, "unexpected EOF"},
	}
	readers := []struct {
		name string
		of   func(string) *bufio.Reader
	}{
		{"whole", func(s string) *bufio.Reader { return bufio.NewReaderSize(strings.NewReader(s), 4096) }},
		{"trickle", func(s string) *bufio.Reader {
			return bufio.NewReaderSize(iotest.OneByteReader(strings.NewReader(s)), 64)
		}},
	}
	for _, tc := range tests {
		for _, rd := range readers {
			t.Run(tc.name+"/"+rd.name, func(t *testing.T) {
				r := rd.of(tc.in)
				for i, want := range tc.want {
					got, err := readResponse(r)
					if err != nil {
						t.Fatalf("answer %d: %v", i, err)
					}
					if got != want {
						t.Errorf("answer %d = %+v, want %+v", i, got, want)
					}
				}
				_, err := readResponse(r)
				switch {
				case tc.wantErr == "" && !errors.Is(err, io.EOF):
					t.Errorf("after %d answers: %v, want the clean end of the stream", len(tc.want), err)
				case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
					t.Errorf("after %d answers: error %v, want one containing %q", len(tc.want), err, tc.wantErr)
				}
			})
		}
	}
}

// benchAnswer is a realistic answer of the shop's catalog: ~330 bytes of
// JSON behind the headers a Go service sends.
var benchAnswer = func() string {
	body := `{"id":"p-1042","sku":"TRV-BAG-42","name":"Carry-on travel bag, 42 l","description":"Light water-repellent carry-on with a laptop sleeve and lockable zips.","price":{"amount":8990,"currency":"EUR"},"stock":17,"categories":["bags","carry-on"],"images":["/img/p-1042-1.jpg","/img/p-1042-2.jpg"],"rating":4.6,"updated":"2025-05-30T08:12:44Z"}`
	return "HTTP/1.1 200 OK\r\n" +
		"Cache-Control: public, max-age=60\r\n" +
		"Content-Type: application/json\r\n" +
		"Etag: \"9b2f6c1e\"\r\n" +
		"Date: Tue, 03 Jun 2025 09:12:44 GMT\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
}()

// chunkedAnswer is benchAnswer's kind of answer sent chunked.
const chunkedAnswer = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n6;x=y\r\n{\"ok\":\r\n5\r\ntrue}\r\n0\r\nX-Checksum: 1\r\n\r\n"

// repeatReader returns its data over and over, like a server answering a
// keep-alive connection forever.
type repeatReader struct {
	data []byte
	off  int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.data[r.off:])
		n += c
		r.off = (r.off + c) % len(r.data)
	}
	return n, nil
}

func TestReadResponseAllocatesNothing(t *testing.T) {
	for _, answer := range []string{benchAnswer, chunkedAnswer} {
		r := bufio.NewReaderSize(&repeatReader{data: []byte(answer)}, 16<<10)
		var err error
		allocs := testing.AllocsPerRun(200, func() {
			if _, e := readResponse(r); e != nil {
				err = e
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if allocs != 0 {
			t.Errorf("%.1f allocations per answer reading %.30q…, want none", allocs, answer)
		}
	}
}

// BenchmarkReadResponse compares the reader Op uses with http.ReadResponse
// plus draining the body, which it replaced, on benchAnswer.
func BenchmarkReadResponse(b *testing.B) {
	b.Run("readResponse", func(b *testing.B) {
		r := bufio.NewReaderSize(&repeatReader{data: []byte(benchAnswer)}, 16<<10)
		b.SetBytes(int64(len(benchAnswer)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := readResponse(r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("http.ReadResponse", func(b *testing.B) {
		r := bufio.NewReaderSize(&repeatReader{data: []byte(benchAnswer)}, 16<<10)
		b.SetBytes(int64(len(benchAnswer)))
		b.ReportAllocs()
		for b.Loop() {
			resp, err := http.ReadResponse(r, nil)
			if err != nil {
				b.Fatal(err)
			}
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestGETLoadReconnectsAfterCloseDelimitedAnswer serves HTTP/1.0 answers
// whose body ends when the server closes: every request must succeed, each
// on a fresh connection.
func TestGETLoadReconnectsAfterCloseDelimitedAnswer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted sync.WaitGroup
	accepts := 0
	accepted.Add(1)
	go func() {
		defer accepted.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			accepts++
			r := bufio.NewReader(conn)
			for { // the request's head, up to its empty line
				line, err := r.ReadSlice('\n')
				if err != nil || bytes.Equal(line, []byte("\r\n")) {
					break
				}
			}
			_, _ = conn.Write([]byte("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nthe body ends at close"))
			conn.Close()
		}
	}()

	load, err := NewGET(1, "http://"+ln.Addr().String()+"/", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer load.Close()
	const requests = 3
	for i := range requests {
		if err := load.Op(context.Background(), 0); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	ln.Close()
	accepted.Wait()
	if accepts != requests {
		t.Errorf("%d connections for %d requests, want one each", accepts, requests)
	}
}

// TestGETLoad runs the lean GET client against the same kinds of answers
// as the http.Transport one, plus a server that closes the connection
// after every answer and one that answers chunked.
func TestGETLoad(t *testing.T) {
	const conns = 3
	srv, clients := serveCountingConns(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept") != "application/json" || r.Method != http.MethodGet {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		switch r.URL.Path {
		case "/missing":
			http.NotFound(w, r)
		case "/cached":
			w.WriteHeader(http.StatusNotModified)
		case "/close":
			w.Header().Set("Connection", "close")
			_, _ = w.Write([]byte(`{"ok":true}`))
		case "/chunked":
			_, _ = w.Write([]byte(`{"ok":`))
			w.(http.Flusher).Flush()
			_, _ = w.Write([]byte(`true}`))
		default:
			_, _ = w.Write([]byte(`{"ok":true}`))
		}
	})

	run := func(path string) Result {
		t.Helper()
		load, err := NewGET(conns, srv.URL+path+"?q=1", http.Header{"Accept": {"application/json"}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer load.Close()
		res, err := Run(context.Background(), Config{Conns: conns, Warmup: 50 * time.Millisecond, Duration: 150 * time.Millisecond, Op: load.Op})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	for _, path := range []string{"/", "/cached", "/close", "/chunked"} {
		if res := run(path); res.Requests < 20 || res.Errors != 0 {
			t.Errorf("%s: %d requests, %d errors (%v); want many and none", path, res.Requests, res.Errors, res.ErrorSummary())
		}
	}
	if n := clients.count(); n < conns {
		t.Errorf("%d client connections, want at least one per worker (%d)", n, conns)
	}
	missing := run("/missing")
	if missing.Requests == 0 || missing.Errors != missing.Requests {
		t.Errorf("404 run: %d requests, %d errors; want every one an error", missing.Requests, missing.Errors)
	}
	if _, err := NewGET(1, "https://example.com/", nil, nil); err == nil {
		t.Error("NewGET accepted an https URL")
	}
}

func TestGETLoadStopsWhenContextEnds(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // never answers
	}))
	defer srv.Close()
	load, err := NewGET(1, srv.URL, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer load.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	began := time.Now()
	if err := load.Op(ctx, 0); err == nil {
		t.Fatal("Op succeeded without an answer")
	}
	if took := time.Since(began); took > 2*time.Second {
		t.Errorf("Op returned %v after its context ended", took)
	}
}
