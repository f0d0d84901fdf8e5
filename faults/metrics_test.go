//go:build faults

package faults

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// routeTable reads every route pattern from the handlers' route tables
// (handlers/*.go, `path: "..."`), plus the static file mount.
func routeTable(t *testing.T) map[string]bool {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(root, "handlers", "*.go"))
	pattern := regexp.MustCompile(`path:\s*"(/[^"]*)"`)
	table := map[string]bool{"/static": true, "/static/*": true}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range pattern.FindAllSubmatch(src, -1) {
			table[string(m[1])] = true
		}
	}
	if len(table) < 20 {
		t.Fatalf("read only %d routes from handlers/*.go", len(table))
	}
	return table
}

var labelPair = regexp.MustCompile(`(\w+)="((?:[^"\\]|\\.)*)"`)

// /metrics answers 200 after 1 000 mixed requests, and its labels hold
// only route patterns and the methods that were used.
func TestMetricsAfterMixedRequests(t *testing.T) {
	t.Parallel()
	sc := newScenario(t, nil)
	a := sc.registerApplicant(1)
	sc.afterCodes()
	r := sc.openRecovery(a)
	table := routeTable(t)

	type call struct{ method, path, body, token string }
	calls := []func(i int) call{
		func(int) call { return call{"GET", "/", "", ""} },
		func(int) call { return call{"GET", "/login", "", ""} },
		func(int) call { return call{"GET", "/healthz", "", ""} },
		func(int) call { return call{"GET", "/readyz", "", ""} },
		func(int) call { return call{"GET", "/api/v1/regions", "", ""} },
		func(int) call { return call{"GET", "/static/css/app.css", "", ""} },
		func(i int) call { return call{"GET", fmt.Sprintf("/no/such/page-%d", i), "", ""} },
		func(i int) call {
			return call{"GET", fmt.Sprintf("/api/v1/recoveries/%08x-0000-4000-8000-000000000000", i), "", "x"}
		},
		func(int) call { return call{"GET", "/api/v1/recoveries/" + r.id, "", r.token} },
		func(i int) call {
			return call{"POST", "/api/v1/sms/codes", fmt.Sprintf(`{"phone":"12%d","purpose":"register"}`, i), ""}
		},
		func(int) call { return call{"POST", "/api/v1/login", `{"kind":`, ""} },
		func(i int) call {
			return call{"PUT", fmt.Sprintf("/api/v1/recoveries/%d/evidence/id_front", i), "x", ""}
		},
		func(int) call { return call{"DELETE", "/api/v1/regions", "", ""} },
		func(int) call { return call{"HEAD", "/", "", ""} },
		func(int) call { return call{"OPTIONS", "/api/v1/login", "", ""} },
		func(i int) call { return call{"GET", fmt.Sprintf("/console/cases/ZH%014d", i), "", ""} },
		func(i int) call { return call{"PATCH", fmt.Sprintf("/recover/%d", i), "{}", ""} },
		func(int) call { return call{"GET", "/recover/status", "", ""} },
		func(int) call { return call{"GET", "/dev/clock", "", ""} },
		func(int) call { return call{"POST", "/console/login", "username=x", ""} },
	}
	used := map[string]bool{}
	for i := range len(calls) {
		used[calls[i](0).method] = true
	}
	const total, workers = 1000, 8
	var (
		next   int
		mu     sync.Mutex
		counts = map[int]int{}
		errs   int
		wg     sync.WaitGroup
	)
	t0 := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newClient(t, sc.srv.base)
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= total {
					return
				}
				k := calls[rand.IntN(len(calls))](i)
				req, _ := http.NewRequest(k.method, sc.srv.base+k.path, strings.NewReader(k.body))
				if k.body != "" {
					req.Header.Set("Content-Type", "application/json")
				}
				if k.token != "" {
					req.Header.Set("Authorization", "Bearer "+k.token)
				}
				resp, err := c.http.Do(req)
				mu.Lock()
				if err != nil {
					errs++
				} else {
					counts[resp.StatusCode]++
				}
				mu.Unlock()
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		}()
	}
	wg.Wait()
	took := time.Since(t0)
	if errs > 0 {
		t.Errorf("%d of %d requests got no answer", errs, total)
	}
	if counts[http.StatusInternalServerError] > 0 {
		t.Errorf("%d of the mixed requests answered 500", counts[http.StatusInternalServerError])
	}

	resp, err := http.Get(sc.srv.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics after %d requests: %d %.500s", total, resp.StatusCode, body)
	}
	routes, methods := map[string]bool{}, map[string]bool{}
	var counted float64
	for _, line := range bytes.Split(body, []byte("\n")) {
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		for _, m := range labelPair.FindAllSubmatch(line, -1) {
			switch string(m[1]) {
			case "route":
				routes[string(m[2])] = true
			case "method":
				methods[string(m[2])] = true
			}
		}
		if bytes.HasPrefix(line, []byte("recoverydesk_http_requests_total{")) {
			f := bytes.Fields(line)
			v, _ := strconv.ParseFloat(string(f[len(f)-1]), 64)
			counted += v
		}
	}
	var odd []string
	for rt := range routes {
		// A pattern of the route table, or a fixed name for requests that
		// matched none (it cannot be a request's own path).
		if !table[rt] && strings.HasPrefix(rt, "/") {
			odd = append(odd, rt)
		}
	}
	sort.Strings(odd)
	if len(odd) > 0 {
		t.Errorf("route label values outside the route table: %q", odd)
	}
	for m := range methods {
		if !used[m] {
			t.Errorf("method label %q: no request used it", m)
		}
	}
	if counted < total {
		t.Errorf("recoverydesk_http_requests_total sums to %.0f after %d requests", counted, total)
	}
	// Still answering on a second scrape.
	if resp, err := http.Get(sc.srv.base + "/metrics"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("second scrape of /metrics: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	t.Logf("FIGURES metrics: %d mixed requests in %s, statuses %v; /metrics 200 with %d route and %d method label values, %.0f requests counted",
		total, took.Round(100*time.Millisecond), counts, len(routes), len(methods), counted)
	sc.finish([]*recoveryCase{r}, "draft")
}
