package handlers_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// rawExchange writes raw bytes on a fresh TCP connection to addr and reads
// one response; fasthttp's own parser sees exactly these bytes. It also
// says whether the server then closed the connection without answering
// anything more (the bytes after a refused request are not served).
func rawExchange(t *testing.T, addr, raw string) (resp *http.Response, body string, closedAfter bool) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	go func() { _, _ = io.WriteString(conn, raw) }() // the server may answer before reading it all
	br := bufio.NewReader(conn)
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no HTTP response to %.80q: %v", raw, err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("body of the response to %.80q: %v", raw, err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err = br.ReadByte()
	// Closed: an orderly end, or a reset when the server closed with the
	// client's bytes still unread. Not closed: more data, or a timeout.
	var ne net.Error
	return resp, string(b), err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

// Errors raised before routing — by fasthttp's parser, the body limit, or
// Fiber before its middleware — answer like every other response: the JSON
// envelope under /api, the Chinese error page elsewhere, with X-Request-Id
// and the security headers. A request with two Content-Length headers (or
// Content-Length beside chunked) gets 400 and its connection is closed, so
// the bytes a smuggler hid after it are never served.
func TestErrorsBeforeRoutingAreTheProductsOwn(t *testing.T) {
	s, a := unitAtUpload(t)
	addr := strings.TrimPrefix(s.listen(t), "http://")
	upload := "/api/v1/recoveries/" + a.id + "/evidence/id_front"
	long := strings.Repeat("a", 6000)
	chunked := func(path string) string {
		var b strings.Builder
		fmt.Fprintf(&b, "PUT %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: image/png\r\nTransfer-Encoding: chunked\r\n\r\n", path, a.token)
		chunk := strings.Repeat("x", 64<<10)
		for range 40 { // 2.5 MB, past the 2 MB limit
			fmt.Fprintf(&b, "%x\r\n%s\r\n", len(chunk), chunk)
		}
		b.WriteString("0\r\n\r\n")
		return b.String()
	}
	badMultipart := func(path string) string {
		body := "--XYZ\r\nthis is not a part\r\n"
		return fmt.Sprintf("PUT %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: multipart/form-data; boundary=XYZ\r\nContent-Length: %d\r\n\r\n%s",
			path, a.token, len(body), body)
	}
	smuggled := "GET /api/v1/regions HTTP/1.1\r\nHost: x\r\n\r\n"
	for _, tc := range []struct {
		name, raw string
		status    int
		code      string // "" for the HTML page
		closes    bool
	}{
		{"malformed multipart", badMultipart(upload), 400, "bad_request", false},
		{"Content-Length -1 (api)", "POST /api/v1/login HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400, "bad_request", true},
		{"Content-Length -1 (page)", "POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400, "", true},
		{"chunked upload over the limit", chunked(upload), 413, "file_too_large", true},
		{"over-long URL (api)", "GET /api/v1/regions?q=" + long + " HTTP/1.1\r\nHost: x\r\n\r\n", 431, "headers_too_large", true},
		{"over-long URL (page)", "GET /recover?q=" + long + " HTTP/1.1\r\nHost: x\r\n\r\n", 431, "", true},
		{"over-long header (api)", "GET /api/v1/regions HTTP/1.1\r\nHost: x\r\nX-Padding: " + long + "\r\n\r\n", 431, "headers_too_large", true},
		{"unknown method (api)", "FROB /api/v1/login HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 400, "bad_request", false},
		{"unknown method (page)", "FROB / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 400, "", false},
		{"two Content-Length", "POST /api/v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 47\r\n\r\n{}" + smuggled, 400, "bad_request", true},
		{"two equal Content-Length", "POST /api/v1/login HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\n{}" + smuggled, 400, "bad_request", true},
		{"Content-Length and chunked", "POST /api/v1/login HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled, 400, "bad_request", true},
		{"two Content-Length (page)", "POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 3\r\n\r\nabc", 400, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body, closed := rawExchange(t, addr, tc.raw)
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d: %.300s", resp.StatusCode, tc.status, body)
			}
			rid := resp.Header.Get("X-Request-Id")
			if rid == "" {
				t.Error("no X-Request-Id")
			}
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") ||
				resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("security headers missing: %v", resp.Header)
			}
			if tc.code != "" {
				if e := decodeError(t, body); e.Error.Code != tc.code || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
					t.Errorf("envelope %s (%s), want code %s", body, resp.Header.Get("Content-Type"), tc.code)
				}
			} else if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, rid) ||
				!strings.Contains(body, "返回首页") {
				t.Errorf("want the Chinese error page with the request id %s, got %s: %.300s", rid, resp.Header.Get("Content-Type"), body)
			}
			if tc.closes && !closed {
				t.Error("the connection stayed open after the refusal: the bytes after it could be served as a request")
			}
		})
	}
}
