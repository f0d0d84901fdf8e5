package benchkit

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

// Client is one browser or API caller. It connects from its own loopback
// address (127.0.x.y), as separate applicants do from separate addresses, so
// the per-address rate limits see separate callers. Given several servers'
// bases it sends each request to the next one in turn, as a load balancer
// would (sessions, CSRF tokens and limits live in the shared database).
type Client struct {
	bases []string
	next  int
	http  *http.Client
	csrf  string
}

var nextAddr atomic.Int32

// NewClient returns a client of the servers at bases with a cookie jar on a
// fresh loopback source address; keepAlive reuses its connections between
// requests.
func NewClient(bases []string, keepAlive bool) *Client {
	n := nextAddr.Add(1)
	local := &net.TCPAddr{IP: net.IPv4(127, 0, byte(1+n/250), byte(1+n%250))}
	dialer := &net.Dialer{LocalAddr: local, Timeout: 10 * time.Second}
	jar, _ := cookiejar.New(nil)
	tr := &http.Transport{DialContext: dialer.DialContext, DisableKeepAlives: !keepAlive, MaxIdleConnsPerHost: 4}
	// Each client starts its turn at another server, as a balancer's
	// round robin would: starting all at the first gave it half again the
	// others' share of the short-lived clients' requests.
	return &Client{bases: bases, next: int(n), http: &http.Client{Transport: tr, Jar: jar, Timeout: 2 * time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// Close closes the client's idle connections: a simulated person who is
// done leaves no open sockets behind.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// url is path on the next server in turn.
func (c *Client) url(path string) string {
	b := c.bases[c.next%len(c.bases)]
	c.next++
	return b + path
}

var csrfField = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// Do sends a request and returns the status and body; it remembers the CSRF
// token of any page it reads.
func (c *Client) Do(req *http.Request) (int, string, error) {
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

// Get reads a page.
func (c *Client) Get(path string) (int, string, error) {
	req, err := http.NewRequest(http.MethodGet, c.url(path), nil)
	if err != nil {
		return 0, "", err
	}
	return c.Do(req)
}

// PostForm posts a console form with the last page's CSRF token.
func (c *Client) PostForm(path string, form url.Values) (int, string, error) {
	form.Set("_csrf", c.csrf)
	req, err := http.NewRequest(http.MethodPost, c.url(path), strings.NewReader(form.Encode()))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.Do(req)
}

// API calls the JSON API; token, when set, is the recovery's bearer token.
func (c *Client) API(method, path, token string, body any, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.url(path), rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	status, text, err := c.Do(req)
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

// SignIn signs a staff user in to the console.
func (c *Client) SignIn(username, password string) error {
	if _, _, err := c.Get("/console/login"); err != nil {
		return err
	}
	status, body, err := c.PostForm("/console/login", url.Values{"username": {username}, "password": {password}})
	if err != nil {
		return err
	}
	if status != http.StatusSeeOther {
		return fmt.Errorf("console sign-in of %s: %d %.300s", username, status, body)
	}
	return nil
}

var sixDigits = regexp.MustCompile(`验证码为(\d{6})`)

// Person is an applicant account: what a person types to recover it.
type Person struct {
	Username, Name, IDNumber, Phone string
}

// Recovery is an applicant's recovery case at the upload step.
type Recovery struct {
	C         *Client
	ID, Token string
}

// StartRecovery takes a person through steps 1 and 2 of the wizard with
// client c: the case is opened, the SMS code sent to the phone on record is
// read from the dev outbox and entered.
func StartRecovery(ctx context.Context, c *Client, p Person) (*Recovery, error) {
	var started struct{ ID, Token string }
	if _, err := c.API(http.MethodPost, "/api/v1/recoveries", "", map[string]string{"kind": "person", "username": p.Username,
		"name": p.Name, "id_number": p.IDNumber}, &started); err != nil {
		return nil, err
	}
	if _, err := c.API(http.MethodPost, "/api/v1/recoveries/"+started.ID+"/sms", started.Token, nil, nil); err != nil {
		return nil, err
	}
	code := ""
	for deadline := time.Now().Add(20 * time.Second); code == "" && time.Now().Before(deadline); {
		var out struct {
			Messages []struct{ Text string } `json:"messages"`
		}
		if _, err := c.API(http.MethodGet, "/dev/sms?phone="+p.Phone, "", nil, &out); err != nil {
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
		return nil, fmt.Errorf("no SMS code for %s", p.Phone)
	}
	if _, err := c.API(http.MethodPost, "/api/v1/recoveries/"+started.ID+"/verify", started.Token, map[string]string{"code": code}, nil); err != nil {
		return nil, err
	}
	return &Recovery{C: c, ID: started.ID, Token: started.Token}, nil
}

// Upload puts one JPEG through the evidence API.
func (r *Recovery) Upload(kind string, data []byte) error {
	status, body, err := r.UploadStatus(kind, data)
	if err != nil {
		return err
	}
	if status != http.StatusCreated {
		return fmt.Errorf("upload: %d %.300s", status, body)
	}
	return nil
}

// UploadStatus puts one JPEG through the evidence API and returns the
// answer as it came.
func (r *Recovery) UploadStatus(kind string, data []byte) (int, string, error) {
	req, err := http.NewRequest(http.MethodPut, r.C.url("/api/v1/recoveries/"+r.ID+"/evidence/"+kind), bytes.NewReader(data))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "image/jpeg")
	req.Header.Set("Authorization", "Bearer "+r.Token)
	return r.C.Do(req)
}

// Timings are the durations of one measured operation.
type Timings []time.Duration

func (t Timings) sorted() Timings {
	s := slices.Clone(t)
	slices.Sort(s)
	return s
}

// Median and P99 by nearest rank.
func (t Timings) Median() time.Duration { return t.Rank(50) }
func (t Timings) P99() time.Duration    { return t.Rank(99) }

// Rank is the p-th percentile by nearest rank (0 for no samples).
func (t Timings) Rank(p int) time.Duration {
	if len(t) == 0 {
		return 0
	}
	s := t.sorted()
	i := (len(s)*p + 99) / 100
	return s[max(i-1, 0)]
}
