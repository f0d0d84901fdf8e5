package handlers

import (
	"bufio"
	"context"
	"encoding/csv"
	"slices"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"recoverydesk/internal/audit"
	"recoverydesk/internal/rules"
	"recoverydesk/policies"
)

// auditView is the audit page's data.
type auditView struct {
	Filter    audit.Filter
	Filtered  bool
	Rows      []auditRowView
	Pager     pager
	ExportURL string // "" for those who may not export
	Actions   []audit.ActionChoice
	Verify    *auditVerifyView // the chain check just run, or nil
}

// auditRowView is one entry as the page shows it (already masked and labelled).
type auditRowView struct {
	audit.Row
	AtText string
}

// auditVerifyView is the result of the chain check.
type auditVerifyView struct {
	Checked     int64
	Intact      bool
	Broken      *audit.Broken
	BrokenAt    string
	BrokenLabel string
}

// auditPage is /console/audit: the audit log, filtered, newest first.
func (s *Server) auditPage(c *fiber.Ctx) error {
	return s.showAudit(c, nil)
}

// auditVerify runs the hash-chain check and shows its result above the log.
func (s *Server) auditVerify(c *fiber.Ctx) error {
	rep, err := audit.Verify(c.UserContext(), s.deps.DB)
	if err != nil {
		return err
	}
	v := &auditVerifyView{Checked: rep.Checked, Intact: rep.Intact, Broken: rep.FirstBroken}
	if b := rep.FirstBroken; b != nil {
		if !b.At.IsZero() {
			v.BrokenAt = b.At.In(rules.Shanghai).Format("2006-01-02 15:04:05")
		}
		v.BrokenLabel = audit.ActionLabel(b.Action)
	}
	return s.showAudit(c, v)
}

// showAudit renders the page for the filter in the request (query or form),
// with the chain check's result when one was run.
func (s *Server) showAudit(c *fiber.Ctx, check *auditVerifyView) error {
	f := auditFilterFrom(c)
	v := auditView{Filter: f, Filtered: !f.Empty(), Actions: audit.ActionChoices(), Verify: check}
	if f.Action != "" && !slices.ContainsFunc(v.Actions, func(a audit.ActionChoice) bool { return a.Value == f.Action }) {
		// An action from a link or a newer release: keep it selected.
		v.Actions = append(v.Actions, audit.ActionChoice{Value: f.Action, Label: audit.ActionLabel(f.Action)})
	}
	if s.deps.Enforcer.AllowedAnywhere(policies.Subject(signedInStaff(c).UsernameKey), policies.PermAuditExport.Obj, policies.PermAuditExport.Act) {
		v.ExportURL = listURL("/console/audit/export.csv", auditParams(f))
	}
	p := Page{Title: "审计日志", Nav: "audit", Staff: s.staffView(c), Data: &v}
	page, err := audit.Search(c.UserContext(), s.deps.DB, f)
	if err != nil {
		fields, msg, ok := formErrors(err)
		if !ok {
			return err
		}
		p.Fields, p.Error = fields, msg
		return render(c, toAPIError(err).Status, "console/audit", layoutConsole, p)
	}
	for _, r := range page.Rows {
		v.Rows = append(v.Rows, auditRowView{Row: r, AtText: r.At.In(rules.Shanghai).Format("2006-01-02 15:04:05")})
	}
	v.Pager = pageLinks("/console/audit", auditParams(f), f.After, page.Next)
	return render(c, fiber.StatusOK, "console/audit", layoutConsole, p)
}

// auditExport streams the filtered log as CSV (UTF-8 with a BOM, so that
// Excel reads the Chinese right). The export is recorded before the first
// row is sent; see audit.StartExport for why.
func (s *Server) auditExport(c *fiber.Ctx) error {
	f := auditFilterFrom(c)
	f.After = ""
	x, err := audit.StartExport(c.UserContext(), s.deps.DB, s.deps.Clock, f, signedInStaff(c).Username)
	if err != nil {
		return err
	}
	name := "audit-" + s.deps.Clock.Now().In(rules.Shanghai).Format("20060102-150405") + ".csv"
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
	// The writer runs after this handler returns: it must not touch c.
	ctx, logger, reqID := context.WithoutCancel(c.UserContext()), s.deps.Logger, requestID(c)
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		_, _ = w.WriteString("\uFEFF")
		cw := csv.NewWriter(w)
		_ = cw.Write(auditCSVHeader)
		n := 0
		err := x.Each(ctx, func(r audit.Row) error {
			if err := cw.Write(auditCSVRecord(r)); err != nil {
				return err
			}
			if n++; n%200 == 0 { // hand each batch to the client; a client gone shows here
				cw.Flush()
				if err := cw.Error(); err != nil {
					return err
				}
				return w.Flush()
			}
			return nil
		})
		cw.Flush()
		if err == nil {
			err = cw.Error()
		}
		if err != nil {
			logger.Error("audit export interrupted", "request_id", reqID, "rows", n, "err", err)
		}
	})
	return nil
}

// auditCSVHeader are the export's columns.
var auditCSVHeader = []string{"编号", "链序号", "时间", "操作人类型", "操作人", "操作", "操作代码", "对象类型", "对象", "详情", "IP地址", "请求编号"}

// auditCSVRecord is one row of the export.
func auditCSVRecord(r audit.Row) []string {
	seq := ""
	if r.Seq > 0 {
		seq = strconv.FormatInt(r.Seq, 10)
	}
	return []string{strconv.Itoa(r.ID), seq, r.At.In(rules.Shanghai).Format("2006-01-02 15:04:05"),
		r.ActorKindLabel, csvText(r.Actor), csvText(r.ActionLabel), csvText(r.Action),
		r.ObjectLabel, csvText(r.ObjectID), csvText(r.Detail), csvText(r.IP), csvText(r.RequestID)}
}

// csvText keeps a spreadsheet from taking a value for a formula: text that
// an applicant could have typed may start with = + - @.
func csvText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// auditFilterFrom reads the filter from the query string or the posted form
// (the chain-check form carries the filter along), copying Fiber's strings.
func auditFilterFrom(c *fiber.Ctx) audit.Filter {
	v := func(k string) string { return strings.TrimSpace(strings.Clone(c.FormValue(k))) }
	return audit.Filter{Staff: v("staff"), Action: v("action"), Case: v("case"), From: v("from"), To: v("to"), After: v("after")}
}

// auditParams are the filter's query parameters.
func auditParams(f audit.Filter) []param {
	return []param{{"staff", f.Staff}, {"action", f.Action}, {"case", f.Case}, {"from", f.From}, {"to", f.To}}
}
