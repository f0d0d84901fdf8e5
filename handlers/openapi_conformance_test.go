package handlers_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"recoverydesk/handlers"
)

// The conformance check: every answer the test suite gets from an /api/v1
// route (testServer.do) is checked against the OpenAPI document the server
// serves — the status must be one the document lists for that operation,
// and the body must validate against that response's schema, error codes
// included. So every API test is also a test of the document, and a handler
// that starts answering something undocumented fails the tests that see it.

// apiSpec is the served document, compiled once for the whole run.
type apiSpec struct {
	ops []*specOp
}

// specOp is one operation of the document with its response schemas.
type specOp struct {
	method, path string // path as in the document: /api/v1/recoveries/{id}
	pattern      *regexp.Regexp
	params       int
	// responses maps a status to its schema; nil for a response without body.
	responses map[int]*jsonschema.Schema
}

func (o *specOp) key() string { return o.method + " " + o.path }

var (
	specOnce sync.Once
	spec     *apiSpec
	specErr  error
)

// loadSpec compiles the document s serves (once: it is the same for every
// server of the run).
func loadSpec(s *testServer) (*apiSpec, error) {
	specOnce.Do(func() {
		resp, err := s.app.Test(httptest.NewRequest(http.MethodGet, "/api/v1/openapi.json", nil), -1)
		if err != nil {
			specErr = err
			return
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		if _, err := buf.ReadFrom(resp.Body); err != nil {
			specErr = err
			return
		}
		spec, specErr = compileSpec(buf.Bytes())
	})
	return spec, specErr
}

// compileSpec compiles every response schema of the document with a JSON
// Schema 2020-12 validator (OpenAPI 3.1's dialect), formats asserted.
func compileSpec(raw []byte) (*apiSpec, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	var shape struct {
		Paths map[string]map[string]struct {
			Responses map[string]struct {
				Content map[string]any `json:"content"`
			} `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(raw, &shape); err != nil {
		return nil, err
	}
	const base = "mem://recoverydesk/openapi.json"
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(base, doc); err != nil {
		return nil, err
	}
	pointer := strings.NewReplacer("~", "~0", "/", "~1")
	out := &apiSpec{}
	for path, methods := range shape.Paths {
		re := regexp.MustCompile(`^` + regexp.MustCompile(`\\\{[a-z_]+\\\}`).ReplaceAllString(regexp.QuoteMeta(path), `[^/]+`) + `$`)
		for method, op := range methods {
			so := &specOp{method: strings.ToUpper(method), path: path, pattern: re, params: strings.Count(path, "{"),
				responses: map[int]*jsonschema.Schema{}}
			for status, r := range op.Responses {
				code, err := strconv.Atoi(status)
				if err != nil {
					return nil, fmt.Errorf("%s %s: response %q is not a status", method, path, status)
				}
				if _, ok := r.Content["application/json"]; !ok {
					so.responses[code] = nil
					continue
				}
				loc := fmt.Sprintf("%s#/paths/%s/%s/responses/%s/content/application~1json/schema", base,
					strings.NewReplacer("{", "%7B", "}", "%7D").Replace(pointer.Replace(path)), method, status)
				sch, err := c.Compile(loc)
				if err != nil {
					return nil, fmt.Errorf("%s %s %s: %w", method, path, status, err)
				}
				so.responses[code] = sch
			}
			out.ops = append(out.ops, so)
		}
	}
	// The literal path wins over a parameter (/recoveries/lookup over
	// /recoveries/{id}), as in the router, where it is registered first.
	sort.Slice(out.ops, func(i, j int) bool { return out.ops[i].params < out.ops[j].params })
	return out, nil
}

// match is the operation of a request, or nil for one the document does
// not describe (an unknown path or method: the 404 and 405 of any URL).
func (a *apiSpec) match(method, path string) *specOp {
	for _, o := range a.ops {
		if o.method == method && o.pattern.MatchString(path) {
			return o
		}
	}
	return nil
}

// check validates one answer against the document and notes the
// operation and status as seen.
func (a *apiSpec) check(method, path string, status int, contentType string, body []byte) (string, error) {
	o := a.match(method, path)
	if o == nil {
		return "", nil
	}
	seen := o.key() + " " + strconv.Itoa(status)
	sch, listed := o.responses[status]
	if !listed {
		return seen, fmt.Errorf("%s answered %d, a status the OpenAPI document does not list for it: %.300s", o.key(), status, body)
	}
	if sch == nil {
		if len(body) != 0 {
			return seen, fmt.Errorf("%s %d: the document says no body, got %.300s", o.key(), status, body)
		}
		return seen, nil
	}
	if !strings.HasPrefix(contentType, "application/json") {
		return seen, fmt.Errorf("%s %d: Content-Type %q, the document says application/json", o.key(), status, contentType)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return seen, fmt.Errorf("%s %d: body is not JSON: %v: %.300s", o.key(), status, err, body)
	}
	if err := sch.Validate(v); err != nil {
		return seen, fmt.Errorf("%s %d: body does not match the OpenAPI document: %v\nbody: %.500s", o.key(), status, err, body)
	}
	return seen, nil
}

// apiSeen records which operations and statuses a server's answers passed
// the check with, for the test that wants every operation exercised.
type apiSeen struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (a *apiSeen) add(k string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.seen == nil {
		a.seen = map[string]bool{}
	}
	a.seen[k] = true
}

func (a *apiSeen) has(k string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.seen[k]
}

// checkAPIAnswer is testServer.do's check of an /api/v1 answer.
func (s *testServer) checkAPIAnswer(t testing.TB, req *http.Request, resp *http.Response, body string) {
	t.Helper()
	if !strings.HasPrefix(req.URL.Path, "/api/v1/") {
		return
	}
	if resp.Header.Get("X-Request-Id") == "" {
		t.Errorf("%s %s: no X-Request-Id", req.Method, req.URL.Path)
	}
	a, err := loadSpec(s)
	if err != nil {
		t.Errorf("OpenAPI document: %v", err)
		return
	}
	seen, err := a.check(req.Method, req.URL.Path, resp.StatusCode, resp.Header.Get("Content-Type"), []byte(body))
	if err != nil {
		t.Errorf("%v", err)
		return
	}
	if seen != "" {
		s.apiSeen.add(seen)
	}
}

// TestTheConformanceCheckRefusesWhatTheDocumentDoesNotSay: the check every
// API answer of the suite goes through fails on an undocumented member, a
// wrong format, a code listed under another status, a 5xx without trace_id,
// a status not listed, and a body where the document says none.
func TestTheConformanceCheckRefusesWhatTheDocumentDoesNotSay(t *testing.T) {
	raw, err := handlers.OpenAPIJSON()
	if err != nil {
		t.Fatal(err)
	}
	a, err := compileSpec(raw)
	if err != nil {
		t.Fatal(err)
	}
	id := "/api/v1/recoveries/4b1e9f2a-0000-4000-8000-000000000000"
	for _, c := range []struct {
		method, path string
		status       int
		body, fails  string // fails: a part of the error, or "" when the answer conforms
	}{
		{"POST", "/api/v1/login", 200, `{"username":"zhang_san","kind":"person"}`, ""},
		{"POST", "/api/v1/login", 200, `{"username":"zhang_san","kind":"person","id":1}`, "additional properties 'id'"},
		{"POST", "/api/v1/login", 423, `{"error":{"code":"account_locked","message":"账号已被锁定","locked_until":"2026-03-16T11:00:00+08:00"}}`, ""},
		{"POST", "/api/v1/login", 423, `{"error":{"code":"account_locked","message":"账号已被锁定","locked_until":"一小时后"}}`, "date-time"},
		{"POST", "/api/v1/login", 401, `{"error":{"code":"account_locked","message":"账号已被锁定"}}`, "bad_credentials"},
		{"POST", "/api/v1/login", 500, `{"error":{"code":"internal_error","message":"服务器内部错误"}}`, "trace_id"},
		{"POST", "/api/v1/logout", 204, ``, ""},
		{"POST", "/api/v1/logout", 200, `{}`, "does not list"},
		{"POST", "/api/v1/password", 204, `{"ok":true}`, "no body"},
		{"POST", "/api/v1/recoveries/lookup", 202, `{"phone_masked":"138****6666","resend_after":60}`, ""},
		{"GET", id, 200, `{"id":"x"}`, "missing properties"},
		{"GET", "/api/v1/no-such-route", 404, `{}`, ""}, // not the document's: not checked
	} {
		_, err := a.check(c.method, c.path, c.status, "application/json", []byte(c.body))
		switch {
		case c.fails == "" && err != nil:
			t.Errorf("%s %s %d %s: %v", c.method, c.path, c.status, c.body, err)
		case c.fails != "" && (err == nil || !strings.Contains(err.Error(), c.fails)):
			t.Errorf("%s %s %d %s: want a failure naming %q, got %v", c.method, c.path, c.status, c.body, c.fails, err)
		}
	}
}
