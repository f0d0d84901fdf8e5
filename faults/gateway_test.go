//go:build faults

package faults

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Gateway modes for password messages (every other message is always
// accepted at once, so a scenario can set up its applicants through the
// gateway and fail only the message it is about).
const (
	modeOK   = "ok"   // 200 at once
	modeHang = "hang" // hold the request for hangFor, then 200 (if the caller is still there)
	modeHold = "hold" // hold the request until the caller gives up or the mode changes
	modeDown = "down" // drop the connection without an answer
	mode400  = "400"  // 400: the gateway refuses the message for good
)

// smsRequest is one request the gateway received.
type smsRequest struct {
	Key, ID, Phone, Text string
	At                   time.Time
	Mode                 string
	Delivered            bool // this request put the text on the phone (the first accepted one of its key)
	Answered             bool // the gateway wrote its answer while the caller was still connected
	Status               int
	Done                 bool // the gateway is through with the request (answered, or the caller left)
}

// gateway is a deduplicating SMS gateway on loopback: a message is delivered
// to the phone the first time its Idempotency-Key is accepted; later
// requests with that key are answered 200 and deliver nothing.
type gateway struct {
	t   *testing.T
	srv *httptest.Server

	mu        sync.Mutex
	mode      string
	hangFor   time.Duration
	changed   chan struct{} // closed and replaced on every mode change
	requests  []*smsRequest
	delivered map[string]*smsRequest // by key
}

func newGateway(t *testing.T) *gateway {
	g := &gateway{t: t, mode: modeOK, changed: make(chan struct{}), delivered: map[string]*smsRequest{}}
	g.srv = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(func() {
		g.setMode(modeOK) // release held requests
		g.srv.CloseClientConnections()
		g.srv.Close()
	})
	return g
}

func (g *gateway) url() string { return g.srv.URL + "/send" }

// setMode switches what password messages get from now on.
func (g *gateway) setMode(mode string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.mode = mode
	close(g.changed)
	g.changed = make(chan struct{})
}

// hang makes password requests wait d before answering 200.
func (g *gateway) hang(d time.Duration) {
	g.mu.Lock()
	g.hangFor = d
	g.mu.Unlock()
	g.setMode(modeHang)
}

func isPassword(text string) bool { return strings.Contains(text, "新密码为") }

func (g *gateway) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var in struct {
		ID    json.RawMessage `json:"id"`
		Phone string          `json:"phone"`
		Text  string          `json:"text"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		http.Error(w, "bad json", http.StatusBadRequest)
		return
	}
	req := &smsRequest{Key: r.Header.Get("Idempotency-Key"), ID: strings.Trim(string(in.ID), `"`), Phone: in.Phone,
		Text: in.Text, At: time.Now()}
	g.mu.Lock()
	req.Mode = modeOK
	if isPassword(in.Text) {
		req.Mode = g.mode
	}
	hangFor, changed := g.hangFor, g.changed
	g.requests = append(g.requests, req)
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		req.Done = true
		g.mu.Unlock()
	}()

	switch req.Mode {
	case modeDown:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	case mode400:
		g.answer(w, req, http.StatusBadRequest, `{"error":"invalid_template"}`)
		return
	}
	// ok, hang and hold: the gateway has taken the message (a real one
	// would hand it to the carrier now, whether or not its answer arrives).
	g.deliver(req)
	switch req.Mode {
	case modeHang:
		select {
		case <-time.After(hangFor):
		case <-r.Context().Done():
			return
		}
	case modeHold:
		select {
		case <-changed:
		case <-r.Context().Done():
			return
		}
	}
	if r.Context().Err() != nil {
		return
	}
	g.answer(w, req, http.StatusOK, `{"ok":true}`)
}

// deliver puts req's text on the phone unless its key was delivered already.
func (g *gateway) deliver(req *smsRequest) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if req.Key == "" {
		req.Delivered = true // no key: nothing to deduplicate on
		return
	}
	if _, ok := g.delivered[req.Key]; !ok {
		g.delivered[req.Key] = req
		req.Delivered = true
	}
}

func (g *gateway) answer(w http.ResponseWriter, req *smsRequest, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, err := io.WriteString(w, body)
	if f, ok := w.(http.Flusher); ok && err == nil {
		f.Flush()
	}
	g.mu.Lock()
	req.Status = status
	req.Answered = err == nil
	g.mu.Unlock()
}

// snapshot copies the requests received so far.
func (g *gateway) snapshot() []smsRequest {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]smsRequest, len(g.requests))
	for i, r := range g.requests {
		out[i] = *r
	}
	return out
}

// passwordRequests are the requests carrying a password to phone.
func (g *gateway) passwordRequests(phone string) []smsRequest {
	var out []smsRequest
	for _, r := range g.snapshot() {
		if r.Phone == phone && isPassword(r.Text) {
			out = append(out, r)
		}
	}
	return out
}

// passwordsDelivered are the password texts that reached phone (after deduplication).
func (g *gateway) passwordsDelivered(phone string) []smsRequest {
	var out []smsRequest
	for _, r := range g.passwordRequests(phone) {
		if r.Delivered {
			out = append(out, r)
		}
	}
	return out
}

// inFlight counts password requests the gateway is holding right now.
func (g *gateway) inFlight() int {
	n := 0
	for _, r := range g.snapshot() {
		if isPassword(r.Text) && !r.Done {
			n++
		}
	}
	return n
}

// waitCode waits for a verification code sent to phone after since.
func (g *gateway) waitCode(phone string, since time.Time) string {
	g.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		reqs := g.snapshot()
		for i := len(reqs) - 1; i >= 0; i-- {
			r := reqs[i]
			if r.Phone == phone && !r.At.Before(since) {
				if m := sixDigits.FindStringSubmatch(r.Text); m != nil {
					return m[1]
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	g.t.Fatalf("no SMS code reached %s within 30 s", phone)
	return ""
}

// eventually polls cond every 200 ms until it holds or timeout passes, and
// returns how long it took (or -1).
func eventually(timeout time.Duration, cond func() bool) time.Duration {
	t0 := time.Now()
	for {
		if cond() {
			return time.Since(t0)
		}
		if time.Since(t0) > timeout {
			return -1
		}
		time.Sleep(200 * time.Millisecond)
	}
}
