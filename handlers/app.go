// Package handlers is the HTTP layer: it translates requests into calls of
// the domain services and their results into pages and JSON, and nothing
// else. Every route is listed in routes.go.
package handlers

import (
	"context"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/filesystem"
	"github.com/gofiber/fiber/v2/middleware/session"
	"github.com/prometheus/client_golang/prometheus"

	"recoverydesk/internal/accounts"
	"recoverydesk/internal/clock"
	"recoverydesk/internal/config"
	"recoverydesk/internal/dashboard"
	"recoverydesk/internal/db"
	"recoverydesk/internal/imagecheck"
	"recoverydesk/internal/kvstore"
	"recoverydesk/internal/opsmetrics"
	"recoverydesk/internal/recovery"
	"recoverydesk/internal/sms"
	"recoverydesk/internal/staff"
	"recoverydesk/policies"
	"recoverydesk/views"
)

// Pinger is a dependency /readyz checks.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Deps are the services the handlers call.
type Deps struct {
	Config   config.Config
	DB       *db.DB
	Evidence Pinger // the evidence store (MinIO)
	Clock    clock.Clock
	DevClock *clock.Adjustable // set in dev mode only; backs /dev/clock
	Courier  *sms.Courier
	Outbox   *sms.Outbox // the dev outbox; nil with a real gateway
	Accounts *accounts.Service
	Recovery *recovery.Service
	Staff    *staff.Service
	// Dashboard computes the supervisors' figures.
	Dashboard *dashboard.Service
	Enforcer  *policies.Enforcer
	Logger    *slog.Logger
	Metrics   *prometheus.Registry
	// Draining is set when the process is shutting down: /readyz answers
	// 503 so the proxy sends new work elsewhere, and responses close their
	// connections. Nil: never.
	Draining *atomic.Bool
}

// Server holds the dependencies the handlers share.
type Server struct {
	deps     Deps
	sessions *session.Store
	console  *session.Store
	limits   rateLimits
	stamping chan struct{}   // bounds simultaneous watermarking
	prepared *preparedImages // the next case's images, stamped ahead of their view
	apiDoc   *apiDoc         // the OpenAPI document, built from the route table
}

// rateLimits are the per-IP limits of the public endpoints.
type rateLimits struct {
	login, register, sms, recovery fiber.Handler
}

// New builds the Fiber app with every middleware and route.
func New(d Deps) (*fiber.App, error) {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Metrics == nil {
		d.Metrics = prometheus.NewRegistry()
	}
	engine := views.Engine()
	views.Hotline(engine, d.Config.Hotline)
	if err := engine.Load(); err != nil {
		return nil, err
	}
	app := fiber.New(fiber.Config{
		AppName:               "recoverydesk",
		Views:                 engine,
		ErrorHandler:          errorHandler(d.Logger),
		DisableStartupMessage: true,
		// No request is read past one evidence image plus form overhead:
		// fasthttp refuses a longer Content-Length before reading the body.
		BodyLimit:    imagecheck.MaxBytes + 64<<10,
		ReadTimeout:  30 * time.Second,
		WriteTimeout: 60 * time.Second,
		IdleTimeout:  120 * time.Second,
		// X-Forwarded-Proto (and the other scheme headers) count only from
		// a trusted proxy: c.Protocol() is "http" for anyone else's claim.
		EnableTrustedProxyCheck: true,
		TrustedProxies:          prefixStrings(d.Config.TrustedProxies),
		// A multipart body is parsed when a handler reads it, so a malformed
		// one is an error of that request, answered like any other.
		DisablePreParseMultipartForm: true,
		// An idle keep-alive connection gives its request and response
		// buffers back instead of holding them until its next request:
		// after a burst of uploads, 50 idle connections would otherwise
		// keep ~2 MB of body buffer each alive, and under the runtime's
		// memory limit (passhash.MemoryLimit) every argon2id hash then
		// runs against a full heap (a GC cycle and 64 MiB of fresh pages
		// per hash: logins and approvals ~10 ms slower).
		ReduceMemoryUsage: true,
	})
	ownPreRoutingAnswers(app, d.Logger)
	counters := kvstore.NewCounters(d.DB, "hits:", d.Clock)
	s := &Server{
		deps:     d,
		sessions: newApplicantSessions(kvstore.New(d.DB.Ent, "sess:", d.Clock)),
		console:  newConsoleSessions(kvstore.New(d.DB.Ent, "console:", d.Clock)),
		stamping: make(chan struct{}, runtime.NumCPU()),
		prepared: newPreparedImages(),
		limits: rateLimits{
			login:    perIP(counters, "login", 60, time.Minute),
			register: perIP(counters, "register", 30, time.Minute),
			sms:      perIP(counters, "sms", 20, time.Minute),
			recovery: perIP(counters, "recovery", 20, time.Minute),
		},
	}
	app.Use(withRequestID())
	app.Use(clientAddress(d.Config.TrustedProxies))
	app.Use(closeWhenDraining(d.Draining))
	app.Use(accessLog(d.Logger, newHTTPMetrics(d.Metrics)))
	d.Metrics.MustRegister(opsmetrics.New(d.DB, d.Clock, d.Logger))
	app.Use(withRecover())
	app.Use(securityHeaders())
	app.Use(underTLS())
	app.Use(withAuditRequest())
	static, err := fs.Sub(views.FS, "static")
	if err != nil {
		return nil, err
	}
	app.Use("/static", labelRoute(staticRoute), filesystem.New(filesystem.Config{Root: http.FS(static), MaxAge: 3600}))
	app.Use(csrfProtection(kvstore.NewRenewing(d.DB.Ent, "csrf:", d.Clock, renewEvery)))
	table := s.routes()
	if s.apiDoc, err = buildAPIDoc(table); err != nil {
		return nil, err
	}
	for _, r := range table {
		hs, err := s.chain(r)
		if err != nil {
			return nil, err
		}
		if hs != nil {
			app.Add(r.method, r.path, hs...)
		}
	}
	return app, nil
}

func prefixStrings(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}
