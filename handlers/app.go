// Package handlers is the HTTP layer: it translates requests into calls of
// the domain services and their results into pages and JSON, and nothing
// else. Every route is listed in routes.go.
package handlers

import (
	"context"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/filesystem"
	"github.com/prometheus/client_golang/prometheus"

	"recoverydesk/internal/clock"
	"recoverydesk/internal/config"
	"recoverydesk/internal/db"
	"recoverydesk/internal/kvstore"
	"recoverydesk/internal/sms"
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
	Logger   *slog.Logger
	Metrics  *prometheus.Registry
}

// Server holds the dependencies the handlers share.
type Server struct {
	deps Deps
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
	if err := engine.Load(); err != nil {
		return nil, err
	}
	app := fiber.New(fiber.Config{
		AppName:               "recoverydesk",
		Views:                 engine,
		ErrorHandler:          errorHandler(d.Logger),
		DisableStartupMessage: true,
		BodyLimit:             4 << 20,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          60 * time.Second,
		IdleTimeout:           120 * time.Second,
	})
	s := &Server{deps: d}
	app.Use(withRequestID())
	app.Use(accessLog(d.Logger, newHTTPMetrics(d.Metrics)))
	app.Use(withRecover())
	app.Use(securityHeaders(false))
	static, err := fs.Sub(views.FS, "static")
	if err != nil {
		return nil, err
	}
	app.Use("/static", filesystem.New(filesystem.Config{Root: http.FS(static), MaxAge: 3600}))
	app.Use(csrfProtection(kvstore.New(d.DB.Ent, "csrf:"), d.Config.S3TLS && false))
	for _, r := range s.routes() {
		if r.devOnly && !d.Config.Dev {
			continue
		}
		app.Add(r.method, r.path, r.handler)
	}
	return app, nil
}
