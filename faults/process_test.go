//go:build faults

package faults

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// kill -9 while password SMS are in flight (the gateway holds them): after
// a restart every message is delivered within RD_JOB_RESCUE_AFTER plus a
// minute, none is lost and no phone gets its password twice.
func TestKillWhilePasswordsInFlight(t *testing.T) {
	t.Parallel()
	const n, rescueAfter = 4, 25 * time.Second
	// The held calls outlast the approvals of all four (RD_SMS_TIMEOUT 10 s).
	sc := newScenario(t, map[string]string{"RD_SMS_TIMEOUT": "10s", "RD_JOB_RESCUE_AFTER": rescueAfter.String()})
	sc.gw.setMode(modeHold)
	cases := sc.approvedCases(n)
	// Wait until all n are held, or no more come (the workers took what they could).
	last, stable := -1, time.Now()
	for time.Since(stable) < 2*time.Second && last < n {
		if c := sc.gw.inFlight(); c != last {
			last, stable = c, time.Now()
		}
		time.Sleep(100 * time.Millisecond)
	}
	if last == 0 {
		t.Fatalf("no password SMS in flight at the gateway (jobs: %s)", sc.db.jobStates(t))
	}
	before := len(sc.gw.snapshot())
	sc.srv.kill()
	killedAt := time.Now()
	t.Logf("killed with %d password SMS held at the gateway (jobs: %s)", last, sc.db.jobStates(t))
	sc.gw.setMode(modeOK)
	sc.srv.start()
	t.Logf("restarted, ready %s after the kill", time.Since(killedAt).Round(100*time.Millisecond))

	limit := rescueAfter + time.Minute
	took := eventually(limit, func() bool {
		for _, r := range cases {
			msgs := sc.db.passwordMessages(t, r.number)
			if len(msgs) != 1 || msgs[0].Status != "sent" {
				return false
			}
		}
		return true
	})
	if took < 0 {
		var states []string
		for _, r := range cases {
			states = append(states, fmt.Sprintf("%s:%+v", r.number, sc.db.passwordMessages(t, r.number)))
		}
		t.Fatalf("not every password sent within RD_JOB_RESCUE_AFTER + 1 min = %s of the kill: %s (jobs: %s)", limit,
			strings.Join(states, " "), sc.db.jobStates(t))
	}
	took = time.Since(killedAt)
	time.Sleep(3 * time.Second) // room for a duplicate
	var figures []string
	for _, r := range cases {
		reqs := sc.gw.passwordRequests(r.a.phone)
		checkOneKey(t, reqs)
		delivered := sc.gw.passwordsDelivered(r.a.phone)
		if len(delivered) != 1 {
			t.Errorf("%s: the phone received its password %d times, want exactly once", r.number, len(delivered))
		}
		figures = append(figures, fmt.Sprintf("%d req/%d delivered", len(reqs), len(delivered)))
	}
	t.Logf("FIGURES kill -9: %d messages, %d held at the kill; all sent %s after the kill (limit %s); per message: %s; %d gateway requests after the kill",
		n, last, took.Round(100*time.Millisecond), limit, strings.Join(figures, ", "), len(sc.gw.snapshot())-before)
	sc.finish(cases, "approved")
}

// SIGTERM under load while a password SMS is on its way through a slow
// gateway: /readyz says 503 at once and through the grace period, requests
// keep being served, no accepted request fails, the send completes once and
// the process exits 0.
func TestSIGTERMUnderLoad(t *testing.T) {
	t.Parallel()
	const grace, slow = 4 * time.Second, 6 * time.Second
	sc := newScenario(t, map[string]string{"RD_SHUTDOWN_GRACE": grace.String(), "RD_SMS_TIMEOUT": "10s", "RD_JOB_RESCUE_AFTER": "25s"})
	sc.gw.hang(slow) // a slow gateway, within RD_SMS_TIMEOUT
	cases := sc.approvedCases(1)
	r := cases[0]
	if eventually(20*time.Second, func() bool { return sc.gw.inFlight() > 0 }) < 0 {
		t.Fatalf("the password SMS never reached the gateway (jobs: %s)", sc.db.jobStates(t))
	}

	type result struct {
		at     time.Time
		status int
		err    error
	}
	var (
		mu      sync.Mutex
		load    []result
		readyz  []result
		stop    = make(chan struct{})
		workers sync.WaitGroup
	)
	paths := []string{"/api/v1/regions", "/login", "/healthz", "/recover", "/"}
	for w := range 4 {
		workers.Add(1)
		go func() {
			defer workers.Done()
			c := newClient(t, sc.srv.base) // keep-alive connections, as browsers and proxies keep them
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				at := time.Now()
				req, _ := http.NewRequest(http.MethodGet, sc.srv.base+paths[(w+i)%len(paths)], nil)
				status, _, err := c.do(req)
				mu.Lock()
				load = append(load, result{at, status, err})
				mu.Unlock()
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	workers.Add(1)
	go func() {
		defer workers.Done()
		client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		for {
			select {
			case <-stop:
				return
			default:
			}
			at := time.Now()
			res := result{at: at}
			if resp, err := client.Get(sc.srv.base + "/readyz"); err != nil {
				res.err = err
			} else {
				res.status = resp.StatusCode
				resp.Body.Close()
			}
			mu.Lock()
			readyz = append(readyz, res)
			mu.Unlock()
			time.Sleep(100 * time.Millisecond)
		}
	}()
	time.Sleep(time.Second) // load before the signal
	termAt := time.Now()
	sc.srv.signal(syscall.SIGTERM)
	code := sc.srv.wait(grace + 30*time.Second)
	exitedAfter := time.Since(termAt)
	close(stop)
	workers.Wait()

	if code != 0 {
		t.Errorf("the process exited %d after SIGTERM, want 0", code)
	}
	// /readyz: 503 at once (within 500 ms) and for the grace period.
	first503 := time.Duration(-1)
	for _, q := range readyz {
		if q.at.Before(termAt) {
			continue
		}
		since := q.at.Sub(termAt)
		if q.status == http.StatusServiceUnavailable && first503 < 0 {
			first503 = since
		}
		if since > 500*time.Millisecond && since < grace-500*time.Millisecond && q.status != http.StatusServiceUnavailable {
			t.Errorf("/readyz %s after SIGTERM (within the %s grace): status %d, err %v; want 503", since.Round(time.Millisecond), grace, q.status, q.err)
		}
	}
	if first503 < 0 || first503 > 500*time.Millisecond {
		t.Errorf("/readyz first said 503 %s after SIGTERM; want at once", first503)
	}
	// Load: every request accepted (a connection made) succeeded; only new
	// connections after the grace period may be refused.
	served, refused, failed, duringGrace := 0, 0, 0, 0
	for _, q := range load {
		since := q.at.Sub(termAt)
		switch {
		case q.err == nil && q.status < 500:
			served++
			if since > 0 && since < grace {
				duringGrace++
			}
		case q.err != nil && errors.Is(q.err, syscall.ECONNREFUSED) && since > grace-500*time.Millisecond:
			refused++
		default:
			failed++
			if failed <= 5 {
				t.Errorf("a request %s after SIGTERM failed: status %d, err %v", since.Round(time.Millisecond), q.status, q.err)
			}
		}
	}
	if duringGrace == 0 {
		t.Errorf("no request was served during the %s grace period", grace)
	}
	// The send that was under way when SIGTERM landed finished, once.
	reqs := sc.gw.passwordRequests(r.a.phone)
	checkOneKey(t, reqs)
	if len(reqs) != 1 || !reqs[0].Answered {
		t.Errorf("the password send under way at SIGTERM: %d requests, first answered=%v; want one request that ran to its answer", len(reqs),
			len(reqs) > 0 && reqs[0].Answered)
	}
	if msgs := sc.db.passwordMessages(t, r.number); len(msgs) != 1 || msgs[0].Status != "sent" || msgs[0].SendCount != 1 {
		t.Errorf("after the shutdown the password message is %+v, want sent once", msgs)
	}
	t.Logf("FIGURES SIGTERM: /readyz 503 %s after the signal; %d requests served (%d during the %s grace), %d refused after it, %d failed; the send under way (gateway answering after %s): %d request(s), answered=%v; exit %d after %s",
		first503.Round(time.Millisecond), served, duringGrace, grace, refused, failed, slow, len(reqs), len(reqs) > 0 && reqs[0].Answered,
		code, exitedAfter.Round(100*time.Millisecond))
	// A restart finds nothing to send again.
	sc.srv.start()
	time.Sleep(3 * time.Second)
	if got := len(sc.gw.passwordRequests(r.a.phone)); got != len(reqs) {
		t.Errorf("after a restart the gateway got %d password requests, before it %d: the shut-down send ran again", got, len(reqs))
	}
	sc.finish(cases, "approved")
}

// Three `serve` started at the same moment on an empty PostgreSQL database
// all become ready (their migrations are serialised), twice over.
func TestThreeInstancesOnEmptyDatabase(t *testing.T) {
	t.Parallel()
	for round := 1; round <= 2; round++ {
		db := freshDB(t)
		store := sharedEnv(t) // one bucket for all three, as in production
		var servers []*server
		for range 3 {
			env := map[string]string{}
			for k, v := range store {
				env[k] = v
			}
			servers = append(servers, newServer(t, db, env))
		}
		for _, s := range servers {
			s.launch()
		}
		var wg sync.WaitGroup
		took := make([]time.Duration, len(servers))
		for i, s := range servers {
			wg.Add(1)
			go func() { defer wg.Done(); took[i] = s.waitReady(90 * time.Second) }()
		}
		wg.Wait()
		for i, d := range took {
			if d < 0 {
				t.Errorf("round %d: instance %d of 3 never became ready (exited: %v)", round, i+1, servers[i].exited())
			}
		}
		t.Logf("FIGURES three instances, round %d: ready after %v", round, took)
		if !t.Failed() {
			servers[0].verifyAudit()
		}
		for _, s := range servers {
			s.stop()
		}
	}
}
