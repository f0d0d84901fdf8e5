package handlers

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"recoverydesk/internal/imagecheck"
	"recoverydesk/internal/recovery"
	"recoverydesk/internal/vocab"
)

// The recovery wizard pages only render; the browser drives the recovery API
// (/api/v1/recoveries) from /static/js/recover.js and recover-status.js, the
// same calls a portal would make.

// recoverView is the data of the 密码找回 wizard (/recover).
type recoverView struct {
	Kind     string         // person or unit: the active tab and the step-1 form
	Evidence []evidenceTile // every evidence kind; the script shows those the case requires
	// ShrinkAdvice follows the size refusal when the browser could not
	// shrink a photo itself (imagecheck.ShrinkAdvice, the server's words).
	ShrinkAdvice string
}

// evidenceTile is one upload tile of step 3 with its example illustration.
type evidenceTile struct {
	Kind    string // id_front, id_handheld, unit_license, authorization_letter
	Label   string // the live page's label
	Example string // /static/img/examples/<kind>.svg
}

// letterView is the data of the printable 单位授权函.
type letterView struct {
	UnitName   string // typed by the applicant in step 1; empty leaves a blank
	CertNumber string
}

// recoverPage is the four-step wizard; the unit tab is the default, as on
// the live page.
func (s *Server) recoverPage(c *fiber.Ctx) error {
	kind := "unit"
	if c.Query("kind") == "person" {
		kind = "person"
	}
	var tiles []evidenceTile
	for _, k := range recovery.RequiredEvidence("unit") {
		tiles = append(tiles, evidenceTile{Kind: k, Label: vocab.EvidenceKind(k).Label(), Example: "/static/img/examples/" + k + ".svg"})
	}
	return render(c, fiber.StatusOK, "public/recover", layoutPublic,
		Page{Title: "密码找回", Nav: "recover", Data: recoverView{Kind: kind, Evidence: tiles, ShrinkAdvice: imagecheck.ShrinkAdvice}})
}

// recoverStatusPage is 查询申请进度: the script shows the status when this
// browser holds the case's token, or asks for the case number and a code.
func (s *Server) recoverStatusPage(c *fiber.Ctx) error {
	return render(c, fiber.StatusOK, "public/recover_status", layoutPublic, Page{Title: "查询申请进度", Nav: "recover"})
}

// letterTemplatePage is the printable 单位授权函, its unit blanks prefilled
// from the query (the wizard passes what the applicant typed in step 1).
func (s *Server) letterTemplatePage(c *fiber.Ctx) error {
	v := letterView{UnitName: clipQuery(c.Query("unit_name"), 100), CertNumber: clipQuery(c.Query("cert_number"), 20)}
	return render(c, fiber.StatusOK, "public/letter_template", layoutPublic, Page{Title: "单位授权函", Nav: "recover", Data: v})
}

// clipQuery trims a query value and cuts it to n characters; the result is a
// copy, safe to keep past the handler.
func clipQuery(s string, n int) string {
	r := []rune(strings.TrimSpace(s))
	if len(r) > n {
		r = r[:n]
	}
	return string(r)
}
