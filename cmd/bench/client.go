package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// client is one browser or API caller. It connects from its own loopback
// address (127.0.x.y), as separate applicants do from separate addresses, so
// the per-address rate limits see separate callers.
type client struct {
	base string
	http *http.Client
	csrf string
}

var nextAddr atomic.Int32

// newClient returns a client with a cookie jar on a fresh loopback source
// address; keepAlive reuses its connection between requests.
func newClient(base string, keepAlive bool) *client {
	n := nextAddr.Add(1)
	local := &net.TCPAddr{IP: net.IPv4(127, 0, byte(1+n/250), byte(1+n%250))}
	dialer := &net.Dialer{LocalAddr: local, Timeout: 10 * time.Second}
	jar, _ := cookiejar.New(nil)
	tr := &http.Transport{DialContext: dialer.DialContext, DisableKeepAlives: !keepAlive, MaxIdleConnsPerHost: 4}
	return &client{base: base, http: &http.Client{Transport: tr, Jar: jar, Timeout: 2 * time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfField = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// do sends a request and returns the status and body; it remembers the CSRF
// token of any page it reads.
func (c *client) do(req *http.Request) (int, string, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, "", err
	}
	if m := csrfField.FindSubmatch(b); m != nil {
		c.csrf = string(m[1])
	}
	return resp.StatusCode, string(b), nil
}

func (c *client) get(path string) (int, string, error) {
	req, err := http.NewRequest(http.MethodGet, c.base+path, nil)
	if err != nil {
		return 0, "", err
	}
	return c.do(req)
}

// postForm posts a console form with the last page's CSRF token.
func (c *client) postForm(path string, form url.Values) (int, string, error) {
	form.Set("_csrf", c.csrf)
	req, err := http.NewRequest(http.MethodPost, c.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

// api calls the JSON API; token, when set, is the recovery's bearer token.
func (c *client) api(method, path, token string, body any, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	status, text, err := c.do(req)
	if err != nil {
		return 0, err
	}
	if out != nil && status < 300 && text != "" {
		if err := json.Unmarshal([]byte(text), out); err != nil {
			return status, fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	if status >= 400 {
		return status, fmt.Errorf("%s %s: %d %.300s", method, path, status, text)
	}
	return status, nil
}

// signIn signs a staff user in to the console.
func (c *client) signIn(username, password string) error {
	if _, _, err := c.get("/console/login"); err != nil {
		return err
	}
	status, body, err := c.postForm("/console/login", url.Values{"username": {username}, "password": {password}})
	if err != nil {
		return err
	}
	if status != http.StatusSeeOther {
		return fmt.Errorf("console sign-in of %s: %d %.300s", username, status, body)
	}
	return nil
}

var sixDigits = regexp.MustCompile(`验证码为(\d{6})`)

// recovery is an applicant's recovery case at the upload step.
type recovery struct {
	c         *client
	id, token string
}

// startRecovery takes a person through steps 1 and 2 of the wizard: the
// case is opened, the SMS code sent to the phone on record is read from the
// dev outbox and entered.
func startRecovery(ctx context.Context, base string, p benchPerson) (*recovery, error) {
	c := newClient(base, true)
	var started struct{ ID, Token string }
	if _, err := c.api(http.MethodPost, "/api/v1/recoveries", "", map[string]string{"kind": "person", "username": p.username,
		"name": p.name, "id_number": p.idNumber}, &started); err != nil {
		return nil, err
	}
	if _, err := c.api(http.MethodPost, "/api/v1/recoveries/"+started.ID+"/sms", started.Token, nil, nil); err != nil {
		return nil, err
	}
	code := ""
	for deadline := time.Now().Add(20 * time.Second); code == "" && time.Now().Before(deadline); {
		var out struct {
			Messages []struct{ Text string } `json:"messages"`
		}
		if _, err := c.api(http.MethodGet, "/dev/sms?phone="+p.phone, "", nil, &out); err != nil {
			return nil, err
		}
		for _, m := range out.Messages {
			if sm := sixDigits.FindStringSubmatch(m.Text); sm != nil {
				code = sm[1]
				break
			}
		}
		if code == "" {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	if code == "" {
		return nil, fmt.Errorf("no SMS code for %s", p.phone)
	}
	if _, err := c.api(http.MethodPost, "/api/v1/recoveries/"+started.ID+"/verify", started.Token, map[string]string{"code": code}, nil); err != nil {
		return nil, err
	}
	return &recovery{c: c, id: started.ID, token: started.Token}, nil
}

// upload puts one JPEG through the evidence API.
func (r *recovery) upload(kind string, data []byte) error {
	req, err := http.NewRequest(http.MethodPut, r.c.base+"/api/v1/recoveries/"+r.id+"/evidence/"+kind, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "image/jpeg")
	req.Header.Set("Authorization", "Bearer "+r.token)
	status, body, err := r.c.do(req)
	if err != nil {
		return err
	}
	if status != http.StatusCreated {
		return fmt.Errorf("upload: %d %.300s", status, body)
	}
	return nil
}

// timings are the durations of one measured operation.
type timings []time.Duration

func (t timings) sorted() timings {
	s := slices.Clone(t)
	slices.Sort(s)
	return s
}

// median and p99 by nearest rank.
func (t timings) median() time.Duration { return t.rank(50) }
func (t timings) p99() time.Duration    { return t.rank(99) }

func (t timings) rank(p int) time.Duration {
	if len(t) == 0 {
		return 0
	}
	s := t.sorted()
	i := (len(s)*p + 99) / 100
	return s[max(i-1, 0)]
}

// measure runs fn n times (after warm warm-up runs) and returns the times.
func measure(n, warm int, fn func() error) (timings, error) {
	for range warm {
		if err := fn(); err != nil {
			return nil, err
		}
	}
	out := make(timings, 0, n)
	for range n {
		t0 := time.Now()
		if err := fn(); err != nil {
			return nil, err
		}
		out = append(out, time.Since(t0))
	}
	return out, nil
}
