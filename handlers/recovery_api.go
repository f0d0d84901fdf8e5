package handlers

import (
	"errors"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"recoverydesk/ent"
	"recoverydesk/internal/imagecheck"
	"recoverydesk/internal/recovery"
)

type startRecoveryRequest struct {
	Kind       string `json:"kind"`
	Username   string `json:"username"`
	CertType   string `json:"cert_type"`
	CertNumber string `json:"cert_number"`
	UnitName   string `json:"unit_name"`
	Name       string `json:"name"`
	IDNumber   string `json:"id_number"`
}

// startRecovery is step 1 (POST /api/v1/recoveries).
func (s *Server) startRecovery(c *fiber.Ctx) error {
	var r startRecoveryRequest
	if err := parseJSON(c, &r); err != nil {
		return err
	}
	st, err := s.deps.Recovery.Start(c.UserContext(), recovery.StartInput(r))
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"id": st.ID.String(), "token": st.Token,
		"phone_masked": st.PhoneMasked, "required_evidence": st.RequiredEvidence})
}

// localsCase holds the case a bearer token opened (requireCaseToken).
const localsCase = "recovery_case"

// requireCaseToken lets a request through only with the bearer token of
// the case in :id, and keeps that case for the handler (caseOf). A wrong
// token and an unknown case look the same (404), so ids cannot be probed.
func (s *Server) requireCaseToken(c *fiber.Ctx) error {
	token, _ := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
	rc, err := s.deps.Recovery.Authorize(c.UserContext(), c.Params("id"), strings.TrimSpace(token))
	if err != nil {
		return err
	}
	c.Locals(localsCase, rc)
	return c.Next()
}

// caseOf is the case of a token route, set by requireCaseToken.
func caseOf(c *fiber.Ctx) *ent.RecoveryCase {
	rc, _ := c.Locals(localsCase).(*ent.RecoveryCase)
	return rc
}

// sendRecoveryCode is step 2's code (POST /api/v1/recoveries/{id}/sms).
func (s *Server) sendRecoveryCode(c *fiber.Ctx) error {
	rc := caseOf(c)
	wait, err := s.deps.Recovery.SendCode(c.UserContext(), rc)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"resend_after": int(wait / time.Second)})
}

// verifyRecoveryCode is step 2's check (POST /api/v1/recoveries/{id}/verify).
func (s *Server) verifyRecoveryCode(c *fiber.Ctx) error {
	rc := caseOf(c)
	var r struct {
		Code string `json:"code"`
	}
	if err := parseJSON(c, &r); err != nil {
		return err
	}
	if err := s.deps.Recovery.VerifyCode(c.UserContext(), rc, strings.TrimSpace(r.Code)); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"step": "upload"})
}

// uploadEvidence is step 3 (PUT /api/v1/recoveries/{id}/evidence/{kind}):
// the image as the raw body, or the multipart field "file". What the file is
// comes from its bytes, never from its name or declared type.
func (s *Server) uploadEvidence(c *fiber.Ctx) error {
	rc := caseOf(c)
	data, err := uploadedBytes(c)
	if err != nil {
		return err
	}
	up, err := s.deps.Recovery.Upload(c.UserContext(), rc, strings.Clone(c.Params("kind")), data)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"kind": up.Kind, "sha256": up.SHA256, "size": up.Size,
		"width": up.Width, "height": up.Height})
}

// errNoFile is a multipart upload without its field "file".
var errNoFile = &APIError{Status: fiber.StatusBadRequest, Code: "bad_request", Message: "请在表单字段 file 中上传图片", Field: "file"}

// uploadedBytes reads the upload, at most imagecheck.MaxBytes+1 bytes of it.
func uploadedBytes(c *fiber.Ctx) ([]byte, error) {
	if !strings.HasPrefix(c.Get(fiber.HeaderContentType), fiber.MIMEMultipartForm) {
		return c.Body(), nil
	}
	fh, err := c.FormFile("file")
	if err != nil {
		return nil, errNoFile
	}
	f, err := fh.Open()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := imagecheck.ReadLimited(f)
	if errors.Is(err, imagecheck.ErrTooLarge) {
		return nil, recovery.ImageError(err)
	}
	return data, err
}

// submitRecovery is step 4 (POST /api/v1/recoveries/{id}/submit).
func (s *Server) submitRecovery(c *fiber.Ctx) error {
	rc := caseOf(c)
	sub, err := s.deps.Recovery.Submit(c.UserContext(), rc)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"case_number": sub.CaseNumber, "status": sub.Status, "submitted_at": sub.SubmittedAt,
		"due_by": sub.DueBy.Format(time.DateOnly)})
}

// recoveryStatus is the applicant's view of the case (GET /api/v1/recoveries/{id}).
func (s *Server) recoveryStatus(c *fiber.Ctx) error {
	rc := caseOf(c)
	v, err := s.deps.Recovery.Status(c.UserContext(), rc)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(v)
}

// startStatusLookup sends a code to the phone on record of a case number
// (POST /api/v1/recoveries/lookup), for /recover/status in another browser.
func (s *Server) startStatusLookup(c *fiber.Ctx) error {
	var r struct {
		CaseNumber string `json:"case_number"`
	}
	if err := parseJSON(c, &r); err != nil {
		return err
	}
	masked, wait, err := s.deps.Recovery.StartLookup(c.UserContext(), r.CaseNumber)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"phone_masked": masked, "resend_after": int(wait / time.Second)})
}

// finishStatusLookup checks the code and returns the case id and a fresh
// token (POST /api/v1/recoveries/lookup/verify).
func (s *Server) finishStatusLookup(c *fiber.Ctx) error {
	var r struct {
		CaseNumber string `json:"case_number"`
		Code       string `json:"code"`
	}
	if err := parseJSON(c, &r); err != nil {
		return err
	}
	id, token, err := s.deps.Recovery.FinishLookup(c.UserContext(), r.CaseNumber, r.Code)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"id": id, "token": token})
}

// sendCaseNumber is 忘记申请编号 (POST /api/v1/recoveries/case-number): the
// step-1 fields identify the account, and the number of its latest case goes
// by SMS to the phone on record; the answer is only that phone, masked.
func (s *Server) sendCaseNumber(c *fiber.Ctx) error {
	var r startRecoveryRequest
	if err := parseJSON(c, &r); err != nil {
		return err
	}
	masked, err := s.deps.Recovery.SendCaseNumber(c.UserContext(), recovery.StartInput(r))
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"phone_masked": masked})
}

// applyAgain is the step-1 input of a rejected case, for a new application
// prefilled from it (GET /api/v1/recoveries/{id}/again).
func (s *Server) applyAgain(c *fiber.Ctx) error {
	a, err := s.deps.Recovery.ApplyAgain(caseOf(c))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(a)
}
