package handlers

import (
	"github.com/gofiber/fiber/v2"
)

// Page is what every template receives: the layout's needs (title, active
// navigation item, request id, CSRF token, signed-in staff) plus the page's
// own form state and data.
type Page struct {
	Title     string            // shown as "{{.Title}} - 广东人社统一认证系统"
	Nav       string            // active navigation key
	RequestID string            // shown on error pages for support calls
	CSRFToken string            // hidden _csrf field and <meta name="csrf-token">
	Staff     *StaffView        // the signed-in staff user in the console, or nil
	Flash     string            // a one-line notice shown by the layout
	Error     string            // a form-level error message
	Form      map[string]string // values to re-show after a refused form
	Fields    map[string]string // field name → error message beside the field
	Data      any               // page-specific view data
}

// StaffView is the signed-in staff user as the console frame shows them.
type StaffView struct {
	Username string
	Name     string
	Roles    []string
	Nav      []navLink // the pages their roles open
	// Duty is the user's duty state for auto-assignment (vocab.Duty),
	// shown with the 暂停接单 toggle to those who are assigned cases; ""
	// under pull or for staff who claim no cases.
	Duty   string
	Paused bool
}

// ErrorView is the data of the error page.
type ErrorView struct {
	Status  int
	Title   string
	Message string
}

// Layouts.
const (
	layoutPublic  = "layouts/base"
	layoutConsole = "layouts/console"
)

// render fills the per-request parts of p and renders a page in a layout.
func render(c *fiber.Ctx, status int, name, layout string, p Page) error {
	p.RequestID = requestID(c)
	if tok, ok := c.Locals(csrfContextKey).(string); ok {
		p.CSRFToken = tok
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(status).Render(name, p, layout)
}

// requestID is the id given to this request by the requestid middleware.
func requestID(c *fiber.Ctx) string {
	if id, ok := c.Locals(requestIDKey).(string); ok {
		return id
	}
	return ""
}
