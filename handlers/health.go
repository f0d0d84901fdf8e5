package handlers

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// healthz says the process is up; it checks nothing else on purpose.
func (s *Server) healthz(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "ok"})
}

// readinessView is the body of /readyz.
type readinessView struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
	Down   []string          `json:"down,omitempty"`
}

// readyz checks that the database and the object store answer, naming the
// dependency that does not (503), so an operator knows where to look.
func (s *Server) readyz(c *fiber.Ctx) error {
	if s.draining() {
		return c.Status(fiber.StatusServiceUnavailable).JSON(readinessView{Status: "draining",
			Checks: map[string]string{"shutdown": "draining"}, Down: []string{"shutdown"}})
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), 3*time.Second)
	defer cancel()
	view := readinessView{Status: "ok", Checks: map[string]string{}}
	check := func(name string, p Pinger) {
		if p == nil {
			view.Checks[name] = "not configured"
			view.Down = append(view.Down, name)
			return
		}
		if err := p.Ping(ctx); err != nil {
			s.deps.Logger.Warn("readiness check failed", "dependency", name, "err", err)
			view.Checks[name] = "unreachable"
			view.Down = append(view.Down, name)
			return
		}
		view.Checks[name] = "ok"
	}
	check("database", s.deps.DB)
	check("minio", s.deps.Evidence)
	if len(view.Down) > 0 {
		view.Status = "unavailable"
		return c.Status(fiber.StatusServiceUnavailable).JSON(view)
	}
	return c.JSON(view)
}

// draining says whether the process is shutting down.
func (s *Server) draining() bool { return s.deps.Draining != nil && s.deps.Draining.Load() }

// closeWhenDraining ends each connection after its response once the
// process is shutting down, so keep-alive clients reconnect (through the
// proxy, to another instance) between requests instead of being cut off
// in the middle of one when the server stops.
func closeWhenDraining(draining *atomic.Bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if draining != nil && draining.Load() {
			c.Context().SetConnectionClose()
		}
		return c.Next()
	}
}

// metrics serves the Prometheus registry. A collector that fails leaves
// its series out and the rest is served (200): the business gauges skip
// themselves on a database error, and nothing else may turn a scrape into
// a 500.
func (s *Server) metrics() fiber.Handler {
	return adaptor.HTTPHandler(promhttp.HandlerFor(s.deps.Metrics, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      slog.NewLogLogger(s.deps.Logger.Handler(), slog.LevelWarn),
	}))
}

// metricsPath is where Prometheus scrapes.
const metricsPath = "/metrics"

// errMetricsToken refuses a scrape without the configured bearer token.
var errMetricsToken = &APIError{Status: fiber.StatusUnauthorized, Code: "unauthorized", Message: "需要有效的监控令牌"}

// errMetricsLoopback refuses a scrape from elsewhere than this machine when
// no token is configured.
var errMetricsLoopback = &APIError{Status: fiber.StatusForbidden, Code: "forbidden",
	Message: "监控指标仅对本机开放；如需远程采集，请配置 RD_METRICS_TOKEN"}

// requireMetricsReader guards /metrics: with RD_METRICS_TOKEN set, the
// request must carry it as "Authorization: Bearer <token>" (compared in
// constant time); without it, only dev mode or a client on this machine
// may read. "On this machine" is the connection's own peer and, behind a
// trusted proxy on loopback, the forwarded client too, so a proxy on the
// same host does not open the metrics to everyone it serves.
func (s *Server) requireMetricsReader(c *fiber.Ctx) error {
	if token := s.deps.Config.MetricsToken; token != "" {
		got, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
		want := sha256.Sum256([]byte(token))
		have := sha256.Sum256([]byte(strings.TrimSpace(got)))
		if !ok || subtle.ConstantTimeCompare(want[:], have[:]) != 1 {
			c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="metrics"`)
			return errMetricsToken
		}
		return c.Next()
	}
	if s.deps.Config.Dev {
		return c.Next()
	}
	client, err := netip.ParseAddr(clientIP(c))
	if peerAddr(c).IsLoopback() && err == nil && client.IsLoopback() {
		return c.Next()
	}
	return errMetricsLoopback
}
