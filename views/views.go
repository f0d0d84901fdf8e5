// Package views holds the HTML templates and static assets of recoverydesk:
// the public pages for applicants, the staff console, and the error page.
// Everything is embedded so the binary makes no request outside itself.
package views

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gofiber/template/html/v2"

	"recoverydesk/internal/config"
	"recoverydesk/internal/rules"
	"recoverydesk/internal/vocab"
)

// FS is every template and static file, embedded at build time. Templates
// are named by their path without the extension ("public/home",
// "layouts/base", "partials/steps"); static files live under "static" and
// are served at /static/.
//
//go:embed layouts partials public console errors static
var FS embed.FS

// Numbers are the figures the copy names — a code's lifetime, the claim
// lease, the 4-hour delay, the password's lengths, the upload limits — by
// name. Whoever wires the engine fills them from the constants that enforce
// them (copyNumbers), so that no page states a number the code no longer
// enforces: {{num "code_ttl_minutes"}}分钟内有效.
type Numbers map[string]int

// Engine returns the html/template engine for Fiber over FS. Pages are
// rendered inside a layout: c.Render("public/home", page, "layouts/base").
// Partials are invoked by file path, e.g. {{template "partials/steps" 2}}.
//
// Words are labelled by one function, {{label "event" .Type}}, from the
// vocabulary (internal/vocab); {{labels "status"}} is a whole vocabulary as
// JSON, for a script's data- attribute. {{maskphone .Phone}} is a phone
// number as staff see it, "138****1234" (rules.MaskPhone).
func Engine() *html.Engine {
	n := copyNumbers()
	e := html.NewFileSystem(http.FS(FS), ".html")
	e.AddFunc("dict", dict)
	e.AddFunc("cst", cst)
	e.AddFunc("cstdate", cstdate)
	e.AddFunc("label", vocab.Label)
	e.AddFunc("labels", labels)
	e.AddFunc("codes", vocab.Codes)
	e.AddFunc("num", n.get)
	e.AddFunc("field", field)
	e.AddFunc("inputs", inputs)
	e.AddFunc("maskphone", rules.MaskPhone)
	e.AddFunc("choices", choices)
	e.AddFunc("regions", regions)
	// hotline is the applicants' hotline, {{(hotline).Text}} and .Tel;
	// the partial "partials/hotline" is its tel: link. The server replaces
	// the default with RD_HOTLINE (Hotline) before the templates load.
	e.AddFunc("hotline", config.DefaultHotline)
	return e
}

// Hotline makes e's hotline function return h (RD_HOTLINE); call it before
// e.Load.
func Hotline(e *html.Engine, h config.Hotline) {
	if h.Text != "" {
		e.AddFunc("hotline", func() config.Hotline { return h })
	}
}

// get is the template function num: an unknown name fails the render, so a
// typo shows in the tests instead of as a wrong number on a page.
func (n Numbers) get(name string) (int, error) {
	v, ok := n[name]
	if !ok {
		return 0, fmt.Errorf("num: no number %q", name)
	}
	return v, nil
}

// labels is the template function labels: every code of a vocabulary with
// its label, as a JSON object for a data- attribute that a script reads.
func labels(vocabulary string) (string, error) {
	m, err := vocab.Table(vocabulary)
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(m)
	return string(b), err
}

// Option is one choice of a drop-down (partials/filter_select).
type Option struct{ Value, Label string }

// choices is the template function choices: a vocabulary's codes with their
// labels, in the vocabulary's order, as a drop-down offers them.
func choices(vocabulary string) ([]Option, error) {
	codes, err := vocab.Codes(vocabulary)
	if err != nil {
		return nil, err
	}
	out := make([]Option, len(codes))
	for i, c := range codes {
		l, err := vocab.Label(vocabulary, c)
		if err != nil {
			return nil, err
		}
		out[i] = Option{Value: c, Label: l}
	}
	return out, nil
}

// regions is the template function regions: regions as drop-down choices,
// code and name.
func regions(rs []rules.Region) []Option {
	out := make([]Option, len(rs))
	for i, r := range rs {
		out[i] = Option{Value: r.Code, Label: r.Name}
	}
	return out
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
