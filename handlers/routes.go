package handlers

import (
	"slices"

	"github.com/gofiber/fiber/v2"

	"recoverydesk/policies"
)

// route is one line of the HTTP surface.
type route struct {
	method  string
	path    string
	access  string // who may call it: public, ops, dev, token (a case's bearer token), staff
	perm    policies.Permission
	devOnly bool // registered only when RD_DEV=1
	limit   fiber.Handler
	handler fiber.Handler
}

// accessStaff marks console routes: a signed-in staff user, and perm when set.
const accessStaff = "staff"

// routes is every route of the product, so a reader sees the whole surface
// at once: this table, then the supervision and administration pages, each
// area's table beside its handlers.
func (s *Server) routes() []route {
	return slices.Concat(s.baseRoutes(), s.auditRoutes(), s.qaRoutes(), s.dashboardRoutes(), s.adminRoutes())
}

// baseRoutes are the applicant, API, review console, operations and dev routes.
func (s *Server) baseRoutes() []route {
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

		// Password recovery API (CONTRACT §4); the bearer token authorises each case.
		{method: fiber.MethodPost, path: "/api/v1/recoveries", access: "public", limit: s.limits.recovery, handler: s.startRecovery},
		{method: fiber.MethodPost, path: "/api/v1/recoveries/lookup", access: "public", limit: s.limits.sms, handler: s.startStatusLookup},
		{method: fiber.MethodPost, path: "/api/v1/recoveries/lookup/verify", access: "public", limit: s.limits.login, handler: s.finishStatusLookup},
		{method: fiber.MethodPost, path: "/api/v1/recoveries/:id/sms", access: "token", limit: s.limits.sms, handler: s.sendRecoveryCode},
		{method: fiber.MethodPost, path: "/api/v1/recoveries/:id/verify", access: "token", limit: s.limits.login, handler: s.verifyRecoveryCode},
		{method: fiber.MethodPut, path: "/api/v1/recoveries/:id/evidence/:kind", access: "token", handler: s.uploadEvidence},
		{method: fiber.MethodPost, path: "/api/v1/recoveries/:id/submit", access: "token", handler: s.submitRecovery},
		{method: fiber.MethodGet, path: "/api/v1/recoveries/:id", access: "token", handler: s.recoveryStatus},

		// Applicant pages.
		{method: fiber.MethodGet, path: "/", access: "public", handler: s.home},
		{method: fiber.MethodGet, path: "/register/person", access: "public", handler: s.registerPersonPage},
		{method: fiber.MethodPost, path: "/register/person", access: "public", limit: s.personRegistrationLimit, handler: s.registerPersonPost},
		{method: fiber.MethodGet, path: "/register/unit", access: "public", handler: s.registerUnitPage},
		{method: fiber.MethodPost, path: "/register/unit/operator", access: "public", limit: s.limits.register, handler: s.registerUnitOperator},
		{method: fiber.MethodPost, path: "/register/unit", access: "public", limit: s.limits.register, handler: s.registerUnitPost},
		{method: fiber.MethodGet, path: "/register/unit/done", access: "public", handler: s.registerUnitDone},
		{method: fiber.MethodGet, path: "/login", access: "public", handler: s.loginPageGet},
		{method: fiber.MethodPost, path: "/login", access: "public", limit: s.limits.login, handler: s.loginPagePost},
		{method: fiber.MethodGet, path: "/account", access: "public", handler: s.accountPage},
		{method: fiber.MethodPost, path: "/logout", access: "public", handler: s.logoutPage},
		{method: fiber.MethodGet, path: "/password/change", access: "public", handler: s.passwordChangePage},
		{method: fiber.MethodPost, path: "/password/change", access: "public", limit: s.limits.login, handler: s.passwordChangePost},
		{method: fiber.MethodGet, path: "/account/recover", access: "public", handler: s.accountRecoverPageGet},
		{method: fiber.MethodPost, path: "/account/recover", access: "public", limit: s.limits.sms, handler: s.accountRecoverPost},

		// Recovery wizard pages (they drive the recovery API from the browser).
		{method: fiber.MethodGet, path: "/recover", access: "public", handler: s.recoverPage},
		{method: fiber.MethodGet, path: "/recover/status", access: "public", handler: s.recoverStatusPage},
		{method: fiber.MethodGet, path: "/recover/letter-template", access: "public", handler: s.letterTemplatePage},

		// Staff console.
		{method: fiber.MethodGet, path: "/console/login", access: "public", handler: s.consoleLoginPage},
		{method: fiber.MethodPost, path: "/console/login", access: "public", limit: s.limits.login, handler: s.consoleLogin},
		{method: fiber.MethodPost, path: "/console/logout", access: accessStaff, handler: s.consoleLogout},
		{method: fiber.MethodGet, path: "/console/totp", access: accessStaff, handler: s.totpPage},
		{method: fiber.MethodPost, path: "/console/totp", access: accessStaff, limit: s.limits.login, handler: s.totpConfirm},
		{method: fiber.MethodGet, path: "/console", access: accessStaff, handler: s.consoleHome},
		{method: fiber.MethodGet, path: "/console/cases", access: accessStaff, perm: permCaseList, handler: s.queuePage},
		{method: fiber.MethodGet, path: "/console/cases/next", access: accessStaff, perm: permCaseList, handler: s.nextCase},
		{method: fiber.MethodGet, path: "/console/cases/:number", access: accessStaff, perm: permCaseRead, handler: s.casePage},
		{method: fiber.MethodPost, path: "/console/cases/:number/claim", access: accessStaff, perm: permCaseClaim, handler: s.claimCase},
		{method: fiber.MethodPost, path: "/console/cases/:number/decision", access: accessStaff, perm: permCaseDecide, handler: s.decideCase},
		{method: fiber.MethodPost, path: "/console/cases/:number/notes", access: accessStaff, perm: permCaseNote, handler: s.noteCase},
		{method: fiber.MethodPost, path: "/console/cases/:number/reassign", access: accessStaff, perm: permCaseReassign, handler: s.reassignCase},
		{method: fiber.MethodGet, path: "/console/cases/:number/evidence/:kind", access: accessStaff, perm: permEvidence, handler: s.evidenceImage},

		// Dev mode (CONTRACT §6).
		{method: fiber.MethodGet, path: "/dev/sms", access: "dev", devOnly: true, handler: s.devSMS},
		{method: fiber.MethodGet, path: "/dev/clock", access: "dev", devOnly: true, handler: s.devClockGet},
		{method: fiber.MethodPost, path: "/dev/clock", access: "dev", devOnly: true, handler: s.devClockSet},
	}
}
