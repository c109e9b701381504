package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// GETLoad sends the same GET over one keep-alive HTTP/1.1 connection per
// worker, the way wrk does: the request bytes are built once, each worker
// writes them on its own connection and reads the answer with a small
// response reader of wrk's kind (readResponse). That reader checks the
// framing (status line, Content-Length, chunked bodies, Connection: close,
// 1xx interim answers) and skips every other header without building a
// header map, and it allocates nothing per answer. Both choices matter on a
// small machine, where every cycle the load generator spends is taken from
// the servers it measures: an http.Transport hands every request and answer
// between two goroutines per connection, and even http.ReadResponse alone
// cost about an eighth of all CPU in a 2-core bench run. Build it with
// NewGET and Close it after the run.
type GETLoad struct {
	addr    string
	request []byte
	ok      func(status int) bool
	workers []getWorker
}

type getWorker struct {
	conn net.Conn
	r    *bufio.Reader
	// ctx is the run context whose end, through stop, interrupts the
	// connection's reads and writes.
	ctx  context.Context
	stop func() bool
}

// NewGET returns the client side of a load of GETs of rawURL (an http://
// URL) with header (which may be nil) for conns workers. ok decides which
// statuses succeed; nil means 2xx and 304.
func NewGET(conns int, rawURL string, header http.Header, ok func(status int) bool) (*GETLoad, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("loadgen: %q is not an http:// URL", rawURL)
	}
	if ok == nil {
		ok = SuccessOrNotModified
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: travluk-loadgen\r\n", u.RequestURI(), u.Host)
	keys := make([]string, 0, len(header))
	for k := range header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range header[k] {
			if strings.ContainsAny(k+v, "\r\n") {
				return nil, fmt.Errorf("loadgen: header %q has a line break", k)
			}
			fmt.Fprintf(&b, "%s: %s\r\n", http.CanonicalHeaderKey(k), v)
		}
	}
	b.WriteString("\r\n")
	return &GETLoad{addr: addr, request: []byte(b.String()), ok: ok, workers: make([]getWorker, conns)}, nil
}

// Op sends one request for worker, reads the whole answer and fails on a
// transport error or a status ok rejects; a failed connection is closed and
// the next request dials again. It is Config.Op.
func (g *GETLoad) Op(ctx context.Context, worker int) error {
	w := &g.workers[worker]
	if w.conn == nil {
		conn, err := (&net.Dialer{Timeout: 2 * time.Second}).DialContext(ctx, "tcp", g.addr)
		if err != nil {
			return err
		}
		w.conn, w.r = conn, bufio.NewReaderSize(conn, 16<<10)
	}
	if w.ctx != ctx {
		w.watch(ctx)
	}
	ans, err := w.roundTrip(g.request)
	if err != nil {
		w.close()
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		return err
	}
	if ans.close {
		w.close() // the server ends the connection after this answer
	}
	if !g.ok(ans.status) {
		return fmt.Errorf("status %d", ans.status)
	}
	return nil
}

// watch makes the end of ctx interrupt the connection's I/O.
func (w *getWorker) watch(ctx context.Context) {
	if w.stop != nil {
		w.stop()
	}
	w.ctx = ctx
	conn := w.conn
	w.stop = context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
}

func (w *getWorker) roundTrip(request []byte) (answer, error) {
	if _, err := w.conn.Write(request); err != nil {
		return answer{}, err
	}
	return readResponse(w.r)
}

func (w *getWorker) close() {
	if w.stop != nil {
		w.stop()
	}
	if w.conn != nil {
		_ = w.conn.Close()
	}
	w.conn, w.r, w.ctx, w.stop = nil, nil, nil, nil
}

// Close closes every connection. Call it after the run, never during one.
func (g *GETLoad) Close() {
	for i := range g.workers {
		g.workers[i].close()
	}
}

// answer is what Op needs to know about one response.
type answer struct {
	status int
	// close is set when the server ends the connection after this answer:
	// it said Connection: close, spoke HTTP/1.0 without keep-alive, or
	// delimited the body by closing the connection.
	close bool
}

// head is the framing that a response's status line and headers announce.
type head struct {
	status          int
	http10          bool
	contentLength   int64 // -1 when absent
	transferEncoded bool  // a Transfer-Encoding header was present
	chunked         bool  // and its final coding is chunked
	closeToken      bool  // Connection: close
	keepAliveToken  bool  // Connection: keep-alive
}

// readResponse reads one whole HTTP/1.x response from r, skipping 1xx
// interim responses, and discards its body. It checks the framing and
// nothing else, so the next response on r starts exactly where this one
// ended. It returns an error wrapping io.EOF when r ends before the status
// line, io.ErrUnexpectedEOF when r ends inside the response.
func readResponse(r *bufio.Reader) (answer, error) {
	for {
		h, err := readHead(r)
		if err != nil {
			return answer{}, err
		}
		if h.status == http.StatusSwitchingProtocols {
			return answer{}, errors.New("loadgen: 101 Switching Protocols to a GET that asked for no upgrade")
		}
		if h.status < 200 {
			continue // interim (100 Continue, 103 Early Hints): the final answer follows
		}
		a := answer{status: h.status, close: h.closeToken || (h.http10 && !h.keepAliveToken)}
		switch {
		case h.status == http.StatusNoContent || h.status == http.StatusNotModified:
			// No body, whatever the headers say.
		case h.transferEncoded && h.chunked:
			// Chunked framing overrides any Content-Length (RFC 9112 §6.3).
			err = discardChunked(r)
		case h.contentLength >= 0 && !h.transferEncoded:
			err = discardN(r, h.contentLength)
		default:
			// No length, or a transfer coding other than chunked last: the
			// body ends when the server closes the connection.
			a.close = true
			err = discardToEOF(r)
		}
		if err != nil {
			return answer{}, fmt.Errorf("loadgen: response body: %w", err)
		}
		return a, nil
	}
}

// readHead reads a status line and the header section after it.
func readHead(r *bufio.Reader) (head, error) {
	line, err := readLine(r)
	if err == io.EOF {
		return head{}, fmt.Errorf("loadgen: connection closed before an answer: %w", err)
	}
	if err != nil {
		return head{}, fmt.Errorf("loadgen: status line: %w", err)
	}
	h := head{contentLength: -1}
	if h.status, h.http10, err = parseStatusLine(line); err != nil {
		return head{}, err
	}
	for {
		line, err := readLine(r)
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return head{}, fmt.Errorf("loadgen: response headers: %w", err)
		}
		if len(line) == 0 {
			return h, nil
		}
		if err := h.addHeader(line); err != nil {
			return head{}, err
		}
	}
}

// parseStatusLine parses "HTTP/1.x NNN reason"; the reason may be empty or
// missing.
func parseStatusLine(line []byte) (status int, http10 bool, err error) {
	if len(line) < len("HTTP/1.x NNN") || string(line[:len("HTTP/1.")]) != "HTTP/1." ||
		!isDigit(line[7]) || line[8] != ' ' ||
		line[9] < '1' || line[9] > '9' || !isDigit(line[10]) || !isDigit(line[11]) ||
		(len(line) > 12 && line[12] != ' ') {
		return 0, false, fmt.Errorf("loadgen: malformed status line %q", clip(line))
	}
	status = int(line[9]-'0')*100 + int(line[10]-'0')*10 + int(line[11]-'0')
	return status, line[7] == '0', nil
}

// addHeader records what a header line says about framing; other headers
// are ignored.
func (h *head) addHeader(line []byte) error {
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 || bytes.ContainsAny(line[:colon], " \t") {
		// Also rejects obsolete line folding, whose lines start with a space.
		return fmt.Errorf("loadgen: malformed header line %q", clip(line))
	}
	name, value := line[:colon], trimSpace(line[colon+1:])
	switch {
	case equalFoldASCII(name, "content-length"):
		n, ok := parseDecimal(value)
		if !ok {
			return fmt.Errorf("loadgen: invalid Content-Length %q", clip(value))
		}
		if h.contentLength >= 0 && n != h.contentLength {
			return fmt.Errorf("loadgen: conflicting Content-Length %d and %d", h.contentLength, n)
		}
		h.contentLength = n
	case equalFoldASCII(name, "transfer-encoding"):
		last := value
		if i := bytes.LastIndexByte(value, ','); i >= 0 {
			last = trimSpace(value[i+1:])
		}
		h.transferEncoded = true
		h.chunked = equalFoldASCII(last, "chunked")
	case equalFoldASCII(name, "connection"):
		h.closeToken = h.closeToken || hasToken(value, "close")
		h.keepAliveToken = h.keepAliveToken || hasToken(value, "keep-alive")
	}
	return nil
}

// discardChunked reads a chunked body up to and including its trailer
// section.
func discardChunked(r *bufio.Reader) error {
	for {
		line, err := readLine(r)
		if err != nil {
			return unexpectedEOF(err)
		}
		size, ok := parseChunkSize(line)
		if !ok {
			return fmt.Errorf("invalid chunk size line %q", clip(line))
		}
		if size == 0 {
			break
		}
		if err := discardN(r, size); err != nil {
			return err
		}
		if line, err = readLine(r); err != nil {
			return unexpectedEOF(err)
		}
		if len(line) != 0 {
			return errors.New("chunk data longer than its size")
		}
	}
	for { // trailer fields, up to an empty line
		line, err := readLine(r)
		if err != nil {
			return unexpectedEOF(err)
		}
		if len(line) == 0 {
			return nil
		}
	}
}

// parseChunkSize parses a chunk size line's hexadecimal size, ignoring
// chunk extensions.
func parseChunkSize(line []byte) (int64, bool) {
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	line = trimSpace(line)
	if len(line) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range line {
		var digit byte
		switch lower := c | 0x20; {
		case isDigit(c):
			digit = c - '0'
		case 'a' <= lower && lower <= 'f':
			digit = lower - 'a' + 10
		default:
			return 0, false
		}
		if n > math.MaxInt64>>4 {
			return 0, false
		}
		n = n<<4 | int64(digit)
	}
	return n, true
}

// discardN discards exactly n bytes of r.
func discardN(r *bufio.Reader, n int64) error {
	for n > 0 {
		done, err := r.Discard(int(min(n, 1<<30)))
		n -= int64(done)
		if err != nil {
			return unexpectedEOF(err)
		}
	}
	return nil
}

// discardToEOF discards r up to its end.
func discardToEOF(r *bufio.Reader) error {
	for {
		if _, err := r.Discard(r.Size()); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
	}
}

// readLine returns the next line of r without its line ending (CRLF or a
// bare LF), valid until the next read. It returns io.EOF only when r ends
// before the line's first byte.
func readLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	switch {
	case err == bufio.ErrBufferFull:
		return nil, fmt.Errorf("line longer than the %d-byte read buffer", r.Size())
	case err == io.EOF && len(line) > 0:
		return nil, io.ErrUnexpectedEOF
	case err != nil:
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// unexpectedEOF turns the end of the input, which is an error inside a
// response, into io.ErrUnexpectedEOF.
func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// parseDecimal parses a non-negative decimal integer; anything else,
// including a sign or an overflow, is not one.
func parseDecimal(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if !isDigit(c) || n > (math.MaxInt64-int64(c-'0'))/10 {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// hasToken reports whether the comma-separated list holds token
// (lower-case), compared case-insensitively.
func hasToken(list []byte, token string) bool {
	for len(list) > 0 {
		item := list
		if i := bytes.IndexByte(list, ','); i >= 0 {
			item, list = list[:i], list[i+1:]
		} else {
			list = nil
		}
		if equalFoldASCII(trimSpace(item), token) {
			return true
		}
	}
	return false
}

// equalFoldASCII reports whether b equals lower (lower-case ASCII) ignoring
// ASCII case, without allocating.
func equalFoldASCII(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// trimSpace trims optional whitespace (spaces and tabs) from both ends.
func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// clip shortens what an error message quotes from the input.
func clip(b []byte) []byte {
	const most = 64
	if len(b) > most {
		return b[:most]
	}
	return b
}
