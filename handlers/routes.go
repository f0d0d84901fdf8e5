package handlers

import (
	"fmt"

	"github.com/gofiber/fiber/v2"

	"recoverydesk/policies"
)

// route is one line of the HTTP surface.
type route struct {
	method  string
	path    string
	access  access              // who may call it; chain enforces it
	perm    policies.Permission // staff routes: what the user must hold in some region
	limit   fiber.Handler       // the per-IP rate limit, if any
	handler fiber.Handler
}

// access is who may call a route. Every value is enforced in one place,
// chain, before the handler runs, so no handler checks it by hand.
type access string

// The kinds of access.
const (
	// accessPublic: anyone.
	accessPublic access = "public"
	// accessOps: the operations probes and metrics, called by load
	// balancers and Prometheus without a person behind them; outside the
	// CSRF check. The probes are open; /metrics needs RD_METRICS_TOKEN as a
	// bearer token, or without one dev mode or a loopback client.
	accessOps access = "ops"
	// accessDev: the dev-mode helpers (CONTRACT §6). Outside dev mode the
	// route is not registered at all: 404 like any unknown path, and no
	// 405 that would tell it exists.
	accessDev access = "dev"
	// accessToken: the bearer token of the recovery case in :id
	// (requireCaseToken); the case is in caseOf(c).
	accessToken access = "token"
	// accessSession: a signed-in applicant (requireApplicant); the account
	// is in signedInAccount(c).
	accessSession access = "session"
	// accessStaff: a signed-in, enabled staff user (requireStaff), who holds
	// perm in some region when perm is set (requirePermission).
	accessStaff access = "staff"
)

// routes is every route of the product in one list, so a reader sees the
// whole surface at once: method, path, who may call it, the permission, the
// rate limit and the handler.
func (s *Server) routes() []route {
	return []route{
		// Operations.
		{method: fiber.MethodGet, path: "/healthz", access: accessOps, handler: s.healthz},
		{method: fiber.MethodGet, path: "/readyz", access: accessOps, handler: s.readyz},
		{method: fiber.MethodGet, path: metricsPath, access: accessOps, handler: s.metrics()},

		// Accounts API (CONTRACT §4).
		{method: fiber.MethodPost, path: "/api/v1/sms/codes", access: accessPublic, limit: s.limits.sms, handler: s.sendSMSCode},
		{method: fiber.MethodPost, path: "/api/v1/accounts/person", access: accessPublic, limit: s.limits.register, handler: s.registerPerson},
		{method: fiber.MethodPost, path: "/api/v1/accounts/unit", access: accessPublic, limit: s.limits.register, handler: s.registerUnit},
		{method: fiber.MethodPost, path: "/api/v1/login", access: accessPublic, limit: s.limits.login, handler: s.login},
		{method: fiber.MethodPost, path: "/api/v1/logout", access: accessPublic, handler: s.logout},
		{method: fiber.MethodPost, path: "/api/v1/password", access: accessPublic, limit: s.limits.login, handler: s.changePassword},
		{method: fiber.MethodPost, path: "/api/v1/account-recovery", access: accessPublic, limit: s.limits.sms, handler: s.recoverUsername},
		{method: fiber.MethodGet, path: "/api/v1/regions", access: accessPublic, handler: s.regions},

		// Password recovery API (CONTRACT §4); the bearer token authorises each case.
		{method: fiber.MethodPost, path: "/api/v1/recoveries", access: accessPublic, limit: s.limits.recovery, handler: s.startRecovery},
		{method: fiber.MethodPost, path: "/api/v1/recoveries/lookup", access: accessPublic, limit: s.limits.sms, handler: s.startStatusLookup},
		{method: fiber.MethodPost, path: "/api/v1/recoveries/lookup/verify", access: accessPublic, limit: s.limits.login, handler: s.finishStatusLookup},
		{method: fiber.MethodPost, path: "/api/v1/recoveries/case-number", access: accessPublic, limit: s.limits.sms, handler: s.sendCaseNumber},
		{method: fiber.MethodPost, path: "/api/v1/recoveries/:id/sms", access: accessToken, limit: s.limits.sms, handler: s.sendRecoveryCode},
		{method: fiber.MethodPost, path: "/api/v1/recoveries/:id/verify", access: accessToken, limit: s.limits.login, handler: s.verifyRecoveryCode},
		{method: fiber.MethodPut, path: "/api/v1/recoveries/:id/evidence/:kind", access: accessToken, handler: s.uploadEvidence},
		{method: fiber.MethodPost, path: "/api/v1/recoveries/:id/submit", access: accessToken, handler: s.submitRecovery},
		{method: fiber.MethodGet, path: "/api/v1/recoveries/:id", access: accessToken, handler: s.recoveryStatus},
		{method: fiber.MethodGet, path: "/api/v1/recoveries/:id/again", access: accessToken, handler: s.applyAgain},

		// The API's description: OpenAPI 3.1 for programs, a page for people.
		{method: fiber.MethodGet, path: "/api/v1/openapi.json", access: accessPublic, handler: s.openAPIJSON},
		{method: fiber.MethodGet, path: "/api/docs", access: accessPublic, handler: s.apiDocsPage},

		// Applicant pages.
		{method: fiber.MethodGet, path: "/", access: accessPublic, handler: s.home},
		{method: fiber.MethodGet, path: "/register/person", access: accessPublic, handler: s.registerPersonPage},
		{method: fiber.MethodPost, path: "/register/person", access: accessPublic, limit: s.personRegistrationLimit, handler: s.registerPersonPost},
		{method: fiber.MethodGet, path: "/register/unit", access: accessPublic, handler: s.registerUnitPage},
		{method: fiber.MethodPost, path: "/register/unit/operator", access: accessPublic, limit: s.limits.register, handler: s.registerUnitOperator},
		{method: fiber.MethodPost, path: "/register/unit", access: accessPublic, limit: s.limits.register, handler: s.registerUnitPost},
		{method: fiber.MethodGet, path: "/register/unit/done", access: accessPublic, handler: s.registerUnitDone},
		{method: fiber.MethodGet, path: "/login", access: accessPublic, handler: s.loginPageGet},
		{method: fiber.MethodPost, path: "/login", access: accessPublic, limit: s.limits.login, handler: s.loginPagePost},
		{method: fiber.MethodGet, path: "/account", access: accessSession, handler: s.accountPage},
		{method: fiber.MethodPost, path: "/logout", access: accessPublic, handler: s.logoutPage},
		{method: fiber.MethodGet, path: "/password/change", access: accessPublic, handler: s.passwordChangePage},
		{method: fiber.MethodPost, path: "/password/change", access: accessPublic, limit: s.limits.login, handler: s.passwordChangePost},
		{method: fiber.MethodGet, path: "/account/recover", access: accessPublic, handler: s.accountRecoverPageGet},
		{method: fiber.MethodPost, path: "/account/recover", access: accessPublic, limit: s.limits.sms, handler: s.accountRecoverPost},

		// Recovery wizard pages (they drive the recovery API from the browser).
		{method: fiber.MethodGet, path: "/recover", access: accessPublic, handler: s.recoverPage},
		{method: fiber.MethodGet, path: "/recover/status", access: accessPublic, handler: s.recoverStatusPage},
		{method: fiber.MethodGet, path: "/recover/letter-template", access: accessPublic, handler: s.letterTemplatePage},

		// Staff console: signing in.
		{method: fiber.MethodGet, path: "/console/login", access: accessPublic, handler: s.consoleLoginPage},
		{method: fiber.MethodPost, path: "/console/login", access: accessPublic, limit: s.limits.login, handler: s.consoleLogin},
		{method: fiber.MethodPost, path: "/console/logout", access: accessStaff, handler: s.consoleLogout},
		{method: fiber.MethodGet, path: "/console/totp", access: accessStaff, handler: s.totpPage},
		{method: fiber.MethodPost, path: "/console/totp", access: accessStaff, limit: s.limits.login, handler: s.totpConfirm},
		{method: fiber.MethodGet, path: "/console/password", access: accessStaff, handler: s.staffPasswordPage},
		{method: fiber.MethodPost, path: "/console/password", access: accessStaff, limit: s.limits.login, handler: s.staffPasswordChange},
		{method: fiber.MethodGet, path: "/console", access: accessStaff, handler: s.consoleHome},

		// Staff console: the review of cases.
		{method: fiber.MethodGet, path: "/console/cases", access: accessStaff, perm: policies.PermCaseList, handler: s.queuePage},
		{method: fiber.MethodGet, path: "/console/cases/next", access: accessStaff, perm: policies.PermCaseList, handler: s.peekNextCase},
		{method: fiber.MethodPost, path: "/console/cases/next", access: accessStaff, perm: policies.PermCaseClaim, handler: s.nextCase},
		{method: fiber.MethodPost, path: "/console/cases/bulk", access: accessStaff, perm: policies.PermCaseBulkAssign, handler: s.bulkCases},
		{method: fiber.MethodPost, path: "/console/duty", access: accessStaff, perm: policies.PermCaseClaim, handler: s.setDuty},
		{method: fiber.MethodGet, path: "/console/cases/:number", access: accessStaff, perm: policies.PermCaseRead, handler: s.casePage},
		{method: fiber.MethodPost, path: "/console/cases/:number/claim", access: accessStaff, perm: policies.PermCaseClaim, handler: s.claimCase},
		{method: fiber.MethodPost, path: "/console/cases/:number/open", access: accessStaff, perm: policies.PermCaseClaim, handler: s.openCase},
		{method: fiber.MethodPost, path: "/console/cases/:number/decision", access: accessStaff, perm: policies.PermCaseDecide, handler: s.decideCase},
		{method: fiber.MethodPost, path: "/console/cases/:number/notes", access: accessStaff, perm: policies.PermCaseNote, handler: s.noteCase},
		{method: fiber.MethodPost, path: "/console/cases/:number/reassign", access: accessStaff, perm: policies.PermCaseReassign, handler: s.reassignCase},
		{method: fiber.MethodGet, path: "/console/cases/:number/evidence/:kind", access: accessStaff, perm: policies.PermEvidenceView, handler: s.evidenceImage},

		// Staff console: supervision (the four-eyes second approval, QA, dashboard, audit log).
		{method: fiber.MethodPost, path: "/console/cases/:number/second-approval", access: accessStaff, perm: policies.PermCaseApproveSecond, handler: s.secondApproval},
		{method: fiber.MethodPost, path: "/console/cases/:number/sms/resend", access: accessStaff, perm: policies.PermCaseResendSMS, handler: s.resendSMS},
		{method: fiber.MethodPost, path: "/console/cases/:number/hold", access: accessStaff, perm: policies.PermCaseHold, handler: s.placeHold},
		{method: fiber.MethodPost, path: "/console/cases/:number/hold/lift", access: accessStaff, perm: policies.PermCaseHold, handler: s.liftHold},
		{method: fiber.MethodGet, path: "/console/sms/failed", access: accessStaff, perm: policies.PermCaseResendSMS, handler: s.failedSMSPage},
		{method: fiber.MethodGet, path: "/console/qa", access: accessStaff, perm: policies.PermQAReview, handler: s.qaPage},
		{method: fiber.MethodPost, path: "/console/qa/:id", access: accessStaff, perm: policies.PermQAReview, handler: s.qaVerdict},
		{method: fiber.MethodGet, path: "/console/dashboard", access: accessStaff, perm: policies.PermDashboardRead, handler: s.dashboardPage},
		{method: fiber.MethodGet, path: "/console/workload", access: accessStaff, perm: policies.PermWorkloadManage, handler: s.workloadPage},
		{method: fiber.MethodPost, path: "/console/workload/:username/cap", access: accessStaff, perm: policies.PermWorkloadManage, handler: s.setAssignCap},
		{method: fiber.MethodGet, path: "/console/audit", access: accessStaff, perm: policies.PermAuditRead, handler: s.auditPage},
		{method: fiber.MethodGet, path: "/console/audit/export.csv", access: accessStaff, perm: policies.PermAuditExport, handler: s.auditExport},
		{method: fiber.MethodPost, path: "/console/audit/verify", access: accessStaff, perm: policies.PermAuditRead, handler: s.auditVerify},

		// Staff console: administration (staff, their role grants, the reason catalog).
		{method: fiber.MethodGet, path: "/console/staff", access: accessStaff, perm: policies.PermStaffManage, handler: s.staffListPage},
		{method: fiber.MethodGet, path: "/console/staff/new", access: accessStaff, perm: policies.PermStaffManage, handler: s.staffNewPage},
		{method: fiber.MethodPost, path: "/console/staff", access: accessStaff, perm: policies.PermStaffManage, handler: s.staffCreate},
		{method: fiber.MethodGet, path: "/console/staff/:username", access: accessStaff, perm: policies.PermStaffManage, handler: s.staffPage},
		{method: fiber.MethodPost, path: "/console/staff/:username/disable", access: accessStaff, perm: policies.PermStaffManage, handler: s.staffSetDisabled(true)},
		{method: fiber.MethodPost, path: "/console/staff/:username/enable", access: accessStaff, perm: policies.PermStaffManage, handler: s.staffSetDisabled(false)},
		{method: fiber.MethodPost, path: "/console/staff/:username/password", access: accessStaff, perm: policies.PermStaffManage, handler: s.staffResetPassword},
		{method: fiber.MethodPost, path: "/console/staff/:username/totp", access: accessStaff, perm: policies.PermStaffManage, handler: s.staffRequireTOTP},
		{method: fiber.MethodPost, path: "/console/staff/:username/grants", access: accessStaff, perm: policies.PermStaffManage, handler: s.staffGrant(true)},
		{method: fiber.MethodPost, path: "/console/staff/:username/grants/revoke", access: accessStaff, perm: policies.PermStaffManage, handler: s.staffGrant(false)},
		{method: fiber.MethodPost, path: "/console/staff/:username/grants/confirm", access: accessStaff, perm: policies.PermStaffManage, handler: s.staffConfirmGrant},
		{method: fiber.MethodGet, path: "/console/reasons", access: accessStaff, perm: policies.PermReasonsManage, handler: s.reasonsPage},
		{method: fiber.MethodPost, path: "/console/reasons", access: accessStaff, perm: policies.PermReasonsManage, handler: s.reasonAdd},
		{method: fiber.MethodPost, path: "/console/reasons/:code", access: accessStaff, perm: policies.PermReasonsManage, handler: s.reasonEdit},
		{method: fiber.MethodPost, path: "/console/reasons/:code/move", access: accessStaff, perm: policies.PermReasonsManage, handler: s.reasonMove},
		{method: fiber.MethodPost, path: "/console/reasons/:code/retire", access: accessStaff, perm: policies.PermReasonsManage, handler: s.reasonSetActive(false)},
		{method: fiber.MethodPost, path: "/console/reasons/:code/restore", access: accessStaff, perm: policies.PermReasonsManage, handler: s.reasonSetActive(true)},

		// Dev mode (CONTRACT §6).
		{method: fiber.MethodGet, path: "/dev/sms", access: accessDev, handler: s.devSMS},
		{method: fiber.MethodGet, path: "/dev/clock", access: accessDev, handler: s.devClockGet},
		{method: fiber.MethodPost, path: "/dev/clock", access: accessDev, handler: s.devClockSet},
	}
}

// chain is a route's handlers: its rate limit, then the checks its access
// demands, then the handler. It returns nil for a route that does not exist
// in this mode (dev routes outside dev mode), and an error for a route whose
// access it does not know or that names a permission no check would ask for,
// so such a route stops the server at start instead of going unguarded.
func (s *Server) chain(r route) ([]fiber.Handler, error) {
	hs := []fiber.Handler{labelRoute(r.path)}
	if r.limit != nil {
		hs = append(hs, r.limit)
	}
	if r.perm != (policies.Permission{}) && r.access != accessStaff {
		return nil, fmt.Errorf("route %s %s: a permission only applies to staff routes, not %q", r.method, r.path, r.access)
	}
	switch r.access {
	case accessPublic:
	case accessOps:
		// The probes stay open to load balancers; the metrics, which tell
		// the business figures, only to whom requireMetricsReader admits.
		if r.path == metricsPath {
			hs = append(hs, s.requireMetricsReader)
		}
	case accessDev:
		if !s.deps.Config.Dev {
			return nil, nil
		}
	case accessToken:
		hs = append(hs, s.requireCaseToken)
	case accessSession:
		hs = append(hs, s.requireApplicant)
	case accessStaff:
		hs = append(hs, s.requireStaff)
		if r.perm != (policies.Permission{}) {
			hs = append(hs, s.requirePermission(r.perm))
		}
	default:
		return nil, fmt.Errorf("route %s %s: unknown access %q", r.method, r.path, r.access)
	}
	return append(hs, r.handler), nil
}
