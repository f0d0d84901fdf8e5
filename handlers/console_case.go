package handlers

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"recoverydesk/internal/apperr"
	"recoverydesk/internal/recovery"
	"recoverydesk/internal/recovery/state"
	"recoverydesk/internal/rules"
	"recoverydesk/internal/vocab"
	"recoverydesk/internal/watermark"
	"recoverydesk/policies"
)

// caseView is the case workspace's data.
type caseView struct {
	W           *recovery.Workspace
	Number      string
	StatusLabel string
	RegionName  string
	Reasons     []recovery.Reason // the active reasons that fit the case's kind: the reject form's choices
	// ReasonTexts names every code, retired ones too, for earlier decisions.
	ReasonTexts map[string]string
	Required    []evidenceKind
	CanDecide   bool
	CanReassign bool // the viewer may give the case to another reviewer
	CanHold     bool // the viewer may place or lift a legal hold (保全)
	Events      []eventView
	Stale       bool
	SMSFailing  bool
	// CanResendSMS: the viewer may resend a failed message of this case;
	// Resent: one was just resent.
	CanResendSMS bool
	Resent       bool
	// Decided confirms the decision just made on another case (the
	// previous one, when "提交并处理下一件" led here).
	Decided      string
	EvidenceBase string

	// CanSecondApprove: the case awaits a second approval the viewer may
	// give (the permission in its region, and not its first approver).
	CanSecondApprove bool
	// FirstApprovedByMe: the viewer's own approval awaits a supervisor.
	FirstApprovedByMe bool
	// NextEvidence are the image addresses of the case "下一件" would open
	// (peeked, not claimed), for the page to have them prepared while the
	// reviewer decides this one; empty unless the viewer holds this case.
	NextEvidence []string
}

// decisionRefusals are the decision form's refusals as the domain words
// them (recovery's sentinels), rendered into data- attributes so that the
// page's script says before posting exactly what the server would.
type decisionRefusals struct{ Outcome, Reasons, Kinds, Message string }

// Refusals are the decision form's refusals (decisionRefusals).
func (caseView) Refusals() decisionRefusals {
	return decisionRefusals{Outcome: recovery.ErrBadDecision.Message, Reasons: recovery.ErrNeedReasons.Message,
		Kinds: recovery.ErrNeedKinds.Message, Message: recovery.ErrNeedMessage.Message}
}

// evidenceKind is an evidence kind with its label, for the return form.
type evidenceKind struct{ Kind, Label string }

// eventView is one history entry as the console shows it.
type eventView struct {
	At     time.Time
	Type   string
	Actor  string
	Before map[string]any
	After  map[string]any
	Note   string
}

// casePage is the case workspace /console/cases/{number}. Opening a case
// one holds renews the claim: working on it keeps it.
func (s *Server) casePage(c *fiber.Ctx) error {
	if err := s.deps.Recovery.RenewClaim(c.UserContext(), s.reviewer(c, policies.PermCaseClaim), strings.ToUpper(strings.Clone(c.Params("number")))); err != nil {
		return err
	}
	return s.showCase(c, fiber.StatusOK, "", nil, nil)
}

// showCase renders the workspace, with an error, field problems and what
// the reviewer had chosen after a refused decision.
func (s *Server) showCase(c *fiber.Ctx, status int, formError string, fields, form map[string]string) error {
	number := strings.ToUpper(strings.Clone(c.Params("number")))
	w, err := s.deps.Recovery.Workspace(c.UserContext(), s.reviewer(c, policies.PermCaseRead), number)
	if err != nil {
		return err
	}
	catalog, err := s.deps.Recovery.ReasonCatalog(c.UserContext())
	if err != nil {
		return err
	}
	v := caseView{W: w, Number: number, StatusLabel: vocab.StatusLabel(w.Case.Status), RegionName: rules.RegionFullName(w.Case.RegionCode),
		ReasonTexts: map[string]string{}, CanDecide: w.ClaimedByMe, Stale: status == fiber.StatusConflict,
		CanReassign:  s.allowedHere(c, policies.PermCaseReassign, w.Case.RegionCode),
		CanResendSMS: s.allowedHere(c, policies.PermCaseResendSMS, w.Case.RegionCode),
		CanHold:      s.allowedHere(c, policies.PermCaseHold, w.Case.RegionCode),
		Resent:       c.Query("resent") == "1",
		Decided:      s.decidedNotice(c, c.Query("decided")),
		EvidenceBase: "/console/cases/" + url.PathEscape(number) + "/evidence/"}
	if w.Case.Status == state.AwaitingSecond && w.Case.FirstApprovedBy != nil {
		v.FirstApprovedByMe = *w.Case.FirstApprovedBy == signedInStaff(c).ID
	}
	v.CanSecondApprove = recovery.MayCoSign(w.Case, s.reviewer(c, policies.PermCaseApproveSecond))
	if w.ClaimedByMe {
		next, err := s.deps.Recovery.PeekNext(c.UserContext(), s.reviewer(c, policies.PermCaseClaim), number)
		if err != nil {
			return err
		}
		for _, k := range next.Kinds {
			v.NextEvidence = append(v.NextEvidence, "/console/cases/"+url.PathEscape(next.Number)+"/evidence/"+k)
		}
	}
	for _, r := range catalog {
		v.ReasonTexts[r.Code] = r.Text
		if r.Active && r.AppliesTo(vocab.CaseKind(w.Case.Kind)) {
			v.Reasons = append(v.Reasons, r)
		}
	}
	for _, k := range recovery.RequiredEvidence(string(w.Case.Kind)) {
		v.Required = append(v.Required, evidenceKind{k, vocab.EvidenceKind(k).Label()})
	}
	for _, e := range w.Events {
		v.Events = append(v.Events, eventView{At: e.CreatedAt, Type: e.Type, Actor: e.Actor, Before: e.Before, After: e.After, Note: e.Note})
	}
	for _, m := range w.SMS {
		if m.Status != "sent" && m.SendCount > 0 {
			v.SMSFailing = true
		}
	}
	return render(c, status, "console/case", layoutConsole,
		Page{Title: "案件 " + number, Nav: "cases", Staff: s.staffView(c), Error: formError, Fields: fields, Form: form, Data: v})
}

// claimCase claims (or renews the claim on) a case for the signed-in reviewer.
func (s *Server) claimCase(c *fiber.Ctx) error {
	number := strings.ToUpper(strings.Clone(c.Params("number")))
	if _, err := s.deps.Recovery.Claim(c.UserContext(), s.reviewer(c, policies.PermCaseClaim), number); err != nil {
		if e, ok := apperr.As(err); ok && e.Kind == apperr.Conflict {
			return s.showCase(c, fiber.StatusConflict, e.Message, nil, nil)
		}
		return err
	}
	return c.Redirect("/console/cases/"+url.PathEscape(number), fiber.StatusSeeOther)
}

// decisionForm is the decision form (CONTRACT §5 field names).
type decisionForm struct {
	Outcome  string   `form:"outcome"`
	Reasons  []string `form:"reason"`
	Kinds    []string `form:"return_kind"`
	Note     string   `form:"note"`
	Message  string   `form:"message"`
	Version  int      `form:"version"`
	OpenNext string   `form:"next"`
}

// decideCase records a reviewer's decision on one case; a stale version gets
// 409 and the page again, with the current state.
func (s *Server) decideCase(c *fiber.Ctx) error {
	var f decisionForm
	if err := c.BodyParser(&f); err != nil {
		return fiber.ErrBadRequest
	}
	number := strings.ToUpper(strings.Clone(c.Params("number")))
	d := recovery.Decision{Outcome: vocab.Outcome(f.Outcome), Reasons: f.Reasons, ReturnKinds: f.Kinds, Note: f.Note, Message: f.Message, Version: f.Version}
	if err := s.deps.Recovery.Decide(c.UserContext(), s.reviewer(c, policies.PermCaseDecide), number, d); err != nil {
		fields, msg, ok := formErrors(err)
		if !ok {
			return err
		}
		return s.showCase(c, toAPIError(err).Status, msg, fields, map[string]string{"outcome": f.Outcome, "note": f.Note, "message": f.Message})
	}
	if f.OpenNext == "1" {
		return s.claimNextAndOpen(c, number)
	}
	return c.Redirect("/console/cases?decided="+url.QueryEscape(number), fiber.StatusSeeOther)
}

// nextCase (POST, from N, 下一件 and the queue's 开始处理下一件) opens the
// first case of the pending queue, claimed for the reviewer when they hold
// no other claim, or the queue when it is empty. The case just decided, if
// any, rides along for the confirmation banner. Claiming is a POST (with the
// CSRF token) so that no prefetch or crawler of a link takes a case.
func (s *Server) nextCase(c *fiber.Ctx) error {
	return s.claimNextAndOpen(c, strings.Clone(c.FormValue("decided")))
}

// peekNextCase (GET /console/cases/next) shows the case 下一件 would open,
// claiming nothing: a bookmarked or prefetched link stays harmless.
func (s *Server) peekNextCase(c *fiber.Ctx) error {
	next, err := s.deps.Recovery.PeekNext(c.UserContext(), s.reviewer(c, policies.PermCaseClaim), "")
	if err != nil {
		return err
	}
	return s.openAfterDecision(c, next.Number, "")
}

// claimNextAndOpen claims the next case (recovery.ClaimNext) and opens it,
// confirming the decision on decided.
func (s *Server) claimNextAndOpen(c *fiber.Ctx, decided string) error {
	number, _, err := s.deps.Recovery.ClaimNext(c.UserContext(), s.reviewer(c, policies.PermCaseClaim))
	if err != nil {
		return err
	}
	return s.openAfterDecision(c, number, decided)
}

// openAfterDecision redirects to the case (the queue when there is none),
// carrying the case just decided for the banner.
func (s *Server) openAfterDecision(c *fiber.Ctx, number, decided string) error {
	q := ""
	if decided != "" {
		q = "?decided=" + url.QueryEscape(decided)
	}
	if number == "" {
		return c.Redirect("/console/cases"+q, fiber.StatusSeeOther)
	}
	return c.Redirect("/console/cases/"+url.PathEscape(number)+q, fiber.StatusSeeOther)
}

// openCase (POST, a case opened from the 待审核 tab) claims the case when it
// is free and the reviewer holds no other claim, then shows it; a case
// already theirs, or held by someone else, is just shown.
func (s *Server) openCase(c *fiber.Ctx) error {
	number := strings.ToUpper(strings.Clone(c.Params("number")))
	if _, err := s.deps.Recovery.OpenClaimed(c.UserContext(), s.reviewer(c, policies.PermCaseClaim), number); err != nil {
		return err
	}
	return c.Redirect("/console/cases/"+url.PathEscape(number), fiber.StatusSeeOther)
}

// decidedNotice is the confirmation banner for a case the viewer just
// decided, read from the case as it now stands (not from the link, so a
// crafted link cannot claim a decision that was not made): "" when the case
// is not one the viewer can see or not decided.
func (s *Server) decidedNotice(c *fiber.Ctx, number string) string {
	number = recovery.ExactCaseNumber(number)
	if number == "" {
		return ""
	}
	rc, err := s.deps.Recovery.CaseFor(c.UserContext(), s.reviewer(c, policies.PermCaseRead), number)
	if err != nil {
		return ""
	}
	return vocab.DecidedNotice(rc.Status, number)
}

// noteCase adds a note to the case history.
func (s *Server) noteCase(c *fiber.Ctx) error {
	number := strings.ToUpper(strings.Clone(c.Params("number")))
	if err := s.deps.Recovery.AddNote(c.UserContext(), s.reviewer(c, policies.PermCaseNote), number, strings.Clone(c.FormValue("note"))); err != nil {
		if e, ok := apperr.As(err); ok && e.Kind == apperr.Invalid {
			return s.showCase(c, toAPIError(err).Status, e.Message, nil, nil)
		}
		return err
	}
	return c.Redirect("/console/cases/"+url.PathEscape(number)+"#history", fiber.StatusSeeOther)
}

// evidenceImage serves one evidence image, watermarked on the server with
// the viewer and the time, never cached by a browser or proxy; every view is
// an audit event.
func (s *Server) evidenceImage(c *fiber.Ctx) error {
	number := strings.ToUpper(strings.Clone(c.Params("number")))
	kind := strings.Clone(c.Params("kind"))
	if isPrepareRequest(c) {
		return s.prepareEvidence(c, number, kind)
	}
	if done, err := s.servePrepared(c, number, kind); done {
		return err
	}
	rv := s.reviewer(c, policies.PermEvidenceView)
	data, err := s.deps.Recovery.OpenEvidence(c.UserContext(), rv, number, kind)
	if err != nil {
		return err
	}
	out, ctype, err := s.watermark(c, data, s.stamp(rv.Username))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderContentType, ctype)
	c.Set(fiber.HeaderContentLength, strconv.Itoa(len(out)))
	return c.Send(out)
}

// stamp is the watermark's text: the viewer and the time.
func (s *Server) stamp(username string) string {
	return fmt.Sprintf("%s %s", username, s.deps.Clock.Now().In(rules.Shanghai).Format("2006-01-02 15:04 CST"))
}

// watermark stamps one image, at most one per core at a time.
func (s *Server) watermark(c *fiber.Ctx, data []byte, text string) ([]byte, string, error) {
	select {
	case s.stamping <- struct{}{}:
	case <-c.UserContext().Done():
		return nil, "", c.UserContext().Err()
	}
	defer func() { <-s.stamping }()
	return watermark.Apply(data, text)
}

// reassignCase gives a case to another reviewer (supervisors).
func (s *Server) reassignCase(c *fiber.Ctx) error {
	number := strings.ToUpper(strings.Clone(c.Params("number")))
	to := strings.Clone(c.FormValue("to"))
	if err := s.deps.Recovery.Reassign(c.UserContext(), s.reviewer(c, policies.PermCaseReassign), number, to, s.canDecide); err != nil {
		fields, msg, ok := formErrors(err)
		if !ok {
			return err
		}
		return s.showCase(c, toAPIError(err).Status, msg, fields, map[string]string{"to": to})
	}
	return c.Redirect("/console/cases/"+url.PathEscape(number), fiber.StatusSeeOther)
}

// allowedHere reports whether the signed-in staff user holds perm in region.
func (s *Server) allowedHere(c *fiber.Ctx, perm policies.Permission, region string) bool {
	ok, err := s.deps.Enforcer.Allowed(policies.Subject(signedInStaff(c).UsernameKey), region, perm.Obj, perm.Act)
	return err == nil && ok
}
