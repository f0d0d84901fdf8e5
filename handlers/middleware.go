package handlers

import (
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/csrf"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/gofiber/fiber/v2/middleware/requestid"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
)

// Locals keys.
const (
	requestIDKey   = "requestid"
	csrfContextKey = "csrf"
	routeLabelKey  = "route_label"
)

// unmatchedRoute is the route label of a request no route's handlers ran
// for: an unknown path, a wrong method, a refusal by a middleware before
// routing (CSRF). One fixed value keeps the series of /metrics bounded
// whatever paths clients invent.
const unmatchedRoute = "(unmatched)"

// staticRoute is the route label of the files under /static.
const staticRoute = "/static/*"

// labelRoute marks the request with its route's pattern, a string of the
// route table rather than of the request, for accessLog's metrics.
func labelRoute(pattern string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.Locals(routeLabelKey, pattern)
		return c.Next()
	}
}

// routeLabel is the pattern labelRoute recorded, or unmatchedRoute.
func routeLabel(c *fiber.Ctx) string {
	if p, ok := c.Locals(routeLabelKey).(string); ok {
		return p
	}
	return unmatchedRoute
}

// methodLabel maps the request method to a constant of a fixed set. The
// method Fiber returns points into a buffer reused by the next request, so
// a label must never keep it (a kept one turned into "GETT" and "POS", and
// Prometheus refused the duplicate series).
func methodLabel(m string) string {
	if label, ok := methodLabels[m]; ok {
		return label
	}
	return "OTHER"
}

// methodLabels are the methods counted by name; the values are constants.
var methodLabels = map[string]string{
	fiber.MethodGet: fiber.MethodGet, fiber.MethodHead: fiber.MethodHead, fiber.MethodPost: fiber.MethodPost,
	fiber.MethodPut: fiber.MethodPut, fiber.MethodPatch: fiber.MethodPatch, fiber.MethodDelete: fiber.MethodDelete,
	fiber.MethodOptions: fiber.MethodOptions,
}

// contentSecurityPolicy allows nothing from outside and no inline script or
// style: every page works from /static alone.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"

// withRequestID gives every request an id, echoed in X-Request-Id, logged,
// and shown on error pages and in 5xx bodies.
func withRequestID() fiber.Handler {
	return requestid.New(requestid.Config{
		Header:     fiber.HeaderXRequestID,
		ContextKey: requestIDKey,
		Generator:  func() string { return uuid.NewString() },
	})
}

// httpMetrics are the request counters and latencies exposed on /metrics.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "recoverydesk_http_requests_total", Help: "HTTP requests by method, route and status.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "recoverydesk_http_request_duration_seconds", Help: "HTTP request latency by method and route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"method", "route"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

// accessLog writes one structured line per request and records metrics
// labelled by method (a fixed set) and route pattern (the route table), so
// the series stay few whatever the requests. It runs the error handler
// itself so the logged status is the one sent. It logs the path without the
// query string, which may carry personal data.
func accessLog(logger *slog.Logger, m *httpMetrics) fiber.Handler {
	return func(c *fiber.Ctx) error {
		start := time.Now()
		if err := c.Next(); err != nil {
			if herr := c.App().ErrorHandler(c, err); herr != nil {
				_ = c.SendStatus(fiber.StatusInternalServerError)
			}
		}
		elapsed := time.Since(start)
		status := c.Response().StatusCode()
		route, method := routeLabel(c), methodLabel(c.Method())
		m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
		m.duration.WithLabelValues(method, route).Observe(elapsed.Seconds())
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		logger.LogAttrs(c.UserContext(), level, "http",
			slog.String("request_id", requestID(c)),
			slog.String("method", c.Method()),
			slog.String("path", c.Path()),
			slog.Int("status", status),
			slog.Duration("duration", elapsed),
			slog.String("ip", clientIP(c)),
		)
		return nil
	}
}

// withRecover turns a panic into a 500 handled by the error handler.
func withRecover() fiber.Handler { return recover.New() }

// securityHeaderSet is every hardening header of every response: the strict
// CSP and the usual others. One list serves the middleware and the answers
// given before routing (ensureOwnHeaders), so no response goes without.
var securityHeaderSet = [...][2]string{
	{fiber.HeaderContentSecurityPolicy, contentSecurityPolicy},
	{fiber.HeaderXContentTypeOptions, "nosniff"},
	{fiber.HeaderXFrameOptions, "DENY"},
	{fiber.HeaderXXSSProtection, "0"},
	{"Referrer-Policy", "same-origin"},
	{"Cross-Origin-Embedder-Policy", "require-corp"},
	{"Cross-Origin-Opener-Policy", "same-origin"},
	{"Cross-Origin-Resource-Policy", "same-origin"},
	{"Origin-Agent-Cluster", "?1"},
	{"X-DNS-Prefetch-Control", "off"},
	{"X-Download-Options", "noopen"},
	{"X-Permitted-Cross-Domain-Policies", "none"},
	{fiber.HeaderPermissionsPolicy, "camera=(), microphone=(), geolocation=()"},
}

// setSecurityHeaders puts securityHeaderSet on the response.
func setSecurityHeaders(c *fiber.Ctx) {
	for _, h := range securityHeaderSet {
		c.Set(h[0], h[1])
	}
}

// securityHeaders sets the strict CSP and the usual hardening headers.
func securityHeaders() fiber.Handler {
	return func(c *fiber.Ctx) error {
		setSecurityHeaders(c)
		return c.Next()
	}
}

// ensureOwnHeaders gives a response that did not pass the middleware (an
// error fasthttp or Fiber raised before routing) what every response
// carries: a request id and the security headers.
func ensureOwnHeaders(c *fiber.Ctx) {
	if requestID(c) == "" {
		rid := uuid.NewString()
		c.Locals(requestIDKey, rid)
		c.Set(fiber.HeaderXRequestID, rid)
	}
	if len(c.Response().Header.Peek(fiber.HeaderContentSecurityPolicy)) == 0 {
		setSecurityHeaders(c)
	}
}

// renewEvery is how often, at most, a console session's row and a CSRF
// token's row are rewritten only to push their expiry on: not on every
// request (two writes each), but once a minute. Each write sets the expiry
// this much beyond the timeout, so an idle session or token still lasts
// its full timeout after the last request, and ends at most a minute
// later.
const renewEvery = time.Minute

// csrfProtection guards every HTML form (the JSON API uses bearer tokens and
// JSON bodies instead). The token is a hidden _csrf field in forms and the
// X-CSRF-Token header for scripts, checked against the cookie's stored token.
func csrfProtection(storage fiber.Storage) fiber.Handler {
	return csrf.New(csrf.Config{
		Next: func(c *fiber.Ctx) bool {
			p := c.Path()
			return strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/dev/") || strings.HasPrefix(p, "/static/") ||
				p == "/healthz" || p == "/readyz" || p == "/metrics"
		},
		CookieName:     "rd_csrf",
		CookieSameSite: "Lax",
		CookieHTTPOnly: true,
		Expiration:     2 * time.Hour,
		Storage:        storage,
		ContextKey:     csrfContextKey,
		Extractor: func(c *fiber.Ctx) (string, error) {
			if tok := c.FormValue("_csrf"); tok != "" {
				return tok, nil
			}
			if tok := c.Get("X-CSRF-Token"); tok != "" {
				return tok, nil
			}
			return "", csrf.ErrMissingForm
		},
		ErrorHandler: func(c *fiber.Ctx, err error) error {
			return &APIError{Status: fiber.StatusForbidden, Code: "csrf_failed", Message: "页面已过期或来源无效，请刷新页面后重试"}
		},
	})
}
