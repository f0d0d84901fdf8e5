package handlers

import "github.com/gofiber/fiber/v2"

// route is one line of the HTTP surface.
type route struct {
	method  string
	path    string
	access  string // who may call it: public, ops, dev
	devOnly bool   // registered only when RD_DEV=1
	limit   fiber.Handler
	handler fiber.Handler
}

// routes is every route of the product, in one table, so a reader sees the
// whole surface at once.
func (s *Server) routes() []route {
	return []route{
		// Operations.
		{method: fiber.MethodGet, path: "/healthz", access: "ops", handler: s.healthz},
		{method: fiber.MethodGet, path: "/readyz", access: "ops", handler: s.readyz},
		{method: fiber.MethodGet, path: "/metrics", access: "ops", handler: s.metrics()},

		// Accounts API (CONTRACT §4).
		{method: fiber.MethodPost, path: "/api/v1/sms/codes", access: "public", limit: s.limits.sms, handler: s.sendSMSCode},
		{method: fiber.MethodPost, path: "/api/v1/accounts/person", access: "public", limit: s.limits.register, handler: s.registerPerson},
		{method: fiber.MethodPost, path: "/api/v1/accounts/unit", access: "public", limit: s.limits.register, handler: s.registerUnit},
		{method: fiber.MethodPost, path: "/api/v1/login", access: "public", limit: s.limits.login, handler: s.login},
		{method: fiber.MethodPost, path: "/api/v1/logout", access: "public", handler: s.logout},
		{method: fiber.MethodPost, path: "/api/v1/password", access: "public", limit: s.limits.login, handler: s.changePassword},
		{method: fiber.MethodPost, path: "/api/v1/account-recovery", access: "public", limit: s.limits.sms, handler: s.recoverUsername},
		{method: fiber.MethodGet, path: "/api/v1/regions", access: "public", handler: s.regions},

		// Applicant pages.
		{method: fiber.MethodGet, path: "/", access: "public", handler: s.home},

		// Staff console.
		{method: fiber.MethodGet, path: "/console/login", access: "public", handler: s.consoleLoginPage},

		// Dev mode (CONTRACT §6).
		{method: fiber.MethodGet, path: "/dev/sms", access: "dev", devOnly: true, handler: s.devSMS},
		{method: fiber.MethodGet, path: "/dev/clock", access: "dev", devOnly: true, handler: s.devClockGet},
		{method: fiber.MethodPost, path: "/dev/clock", access: "dev", devOnly: true, handler: s.devClockSet},
	}
}
