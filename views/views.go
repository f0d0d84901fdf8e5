// Package views holds the HTML templates and static assets of recoverydesk:
// the public pages for applicants, the staff console, and the error page.
// Everything is embedded so the binary makes no request outside itself.
package views

import (
	"embed"
	"errors"
	"net/http"
	"time"

	"github.com/gofiber/template/html/v2"

	"recoverydesk/internal/rules"
)

// FS is every template and static file, embedded at build time. Templates
// are named by their path without the extension ("public/home",
// "layouts/base", "partials/steps"); static files live under "static" and
// are served at /static/.
//
//go:embed layouts partials public console errors static
var FS embed.FS

// Engine returns the html/template engine for Fiber over FS. Pages are
// rendered inside a layout: c.Render("public/home", page, "layouts/base").
// Partials are invoked by file path, e.g. {{template "partials/steps" 2}}.
func Engine() *html.Engine {
	e := html.NewFileSystem(http.FS(FS), ".html")
	e.AddFunc("dict", dict)
	e.AddFunc("cst", cst)
	e.AddFunc("cstdate", cstdate)
	return e
}

// cst formats a moment as staff read it, in Asia/Shanghai to the minute:
// {{cst .SubmittedAt}} → "2026-03-15 09:30". It takes a time.Time, a
// *time.Time or an RFC 3339 string (times inside case-event payloads);
// nil and the zero time give "", and any other string is shown as it is.
func cst(v any) string { return inShanghai(v, "2006-01-02 15:04") }

// cstdate is cst for dates (due dates): "2026-03-17".
func cstdate(v any) string { return inShanghai(v, time.DateOnly) }

func inShanghai(v any, layout string) string {
	var t time.Time
	switch x := v.(type) {
	case time.Time:
		t = x
	case *time.Time:
		if x == nil {
			return ""
		}
		t = *x
	case string:
		p, err := time.Parse(time.RFC3339, x)
		if err != nil {
			return x
		}
		t = p
	default:
		return ""
	}
	if t.IsZero() {
		return ""
	}
	return t.In(rules.Shanghai).Format(layout)
}

// dict builds a map from alternating keys and values so that a template can
// hand several values to a partial, which html/template cannot do otherwise:
// {{template "partials/field_error" dict "Name" "username" "Fields" .Fields}}.
func dict(pairs ...any) (map[string]any, error) {
	if len(pairs)%2 != 0 {
		return nil, errors.New("dict: odd number of arguments")
	}
	m := make(map[string]any, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		k, ok := pairs[i].(string)
		if !ok {
			return nil, errors.New("dict: keys must be strings")
		}
		m[k] = pairs[i+1]
	}
	return m, nil
}
