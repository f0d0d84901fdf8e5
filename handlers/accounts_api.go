package handlers

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"recoverydesk/internal/accounts"
	"recoverydesk/internal/apperr"
	"recoverydesk/internal/rules"
)

// The refusals of a body that is not JSON.
var (
	errNotJSON = &APIError{Status: fiber.StatusUnsupportedMediaType, Code: "unsupported_type", Message: "请求体应为 JSON（Content-Type: application/json）"}
	errBadJSON = &APIError{Status: fiber.StatusBadRequest, Code: "bad_request", Message: "请求体不是有效的 JSON"}
)

// parseJSON decodes a JSON body into v, refusing anything else with 400.
func parseJSON(c *fiber.Ctx, v any) error {
	if !strings.HasPrefix(c.Get(fiber.HeaderContentType), fiber.MIMEApplicationJSON) {
		return errNotJSON
	}
	if err := c.BodyParser(v); err != nil {
		return errBadJSON
	}
	return nil
}

// The refusals of the accounts API's own checks.
var (
	errInvalidPurpose = apperr.New(apperr.Invalid, "invalid_purpose", "purpose 只能为 register")
	errRegionNotFound = apperr.New(apperr.NotFound, "region_not_found", "未知的行政区划代码")
)

type smsCodeRequest struct {
	Phone   string `json:"phone"`
	Purpose string `json:"purpose"`
}

// sendSMSCode sends a registration code to a phone (POST /api/v1/sms/codes).
func (s *Server) sendSMSCode(c *fiber.Ctx) error {
	var req smsCodeRequest
	if err := parseJSON(c, &req); err != nil {
		return err
	}
	if req.Purpose != accounts.PurposeRegister {
		return errInvalidPurpose.WithField("purpose")
	}
	wait, _, err := s.deps.Accounts.SendRegistrationCode(c.UserContext(), req.Phone)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"resend_after": int(wait.Seconds())})
}

type personRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Name     string `json:"name"`
	IDNumber string `json:"id_number"`
	Phone    string `json:"phone"`
	SMSCode  string `json:"sms_code"`
}

// registerPerson creates a person account (POST /api/v1/accounts/person).
func (s *Server) registerPerson(c *fiber.Ctx) error {
	var r personRequest
	if err := parseJSON(c, &r); err != nil {
		return err
	}
	acc, err := s.deps.Accounts.RegisterPerson(c.UserContext(), accounts.PersonRegistration(r))
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"username": acc.Username, "kind": "person", "verified": acc.Verified})
}

type unitRequest struct {
	OperatorUsername string `json:"operator_username"`
	OperatorPassword string `json:"operator_password"`
	CertType         string `json:"cert_type"`
	CertNumber       string `json:"cert_number"`
	UnitName         string `json:"unit_name"`
	RegionCode       string `json:"region_code"`
	Username         string `json:"username"`
	Password         string `json:"password"`
}

// registerUnit creates a unit account (POST /api/v1/accounts/unit).
func (s *Server) registerUnit(c *fiber.Ctx) error {
	var r unitRequest
	if err := parseJSON(c, &r); err != nil {
		return err
	}
	acc, err := s.deps.Accounts.RegisterUnit(c.UserContext(), accounts.UnitRegistration(r))
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"username": acc.Username, "kind": "unit"})
}

type loginRequest struct {
	Kind     string `json:"kind"`
	Username string `json:"username"`
	Password string `json:"password"`
}

// login signs an applicant in (POST /api/v1/login) and starts a fresh
// server-side session.
func (s *Server) login(c *fiber.Ctx) error {
	var r loginRequest
	if err := parseJSON(c, &r); err != nil {
		return err
	}
	acc, err := s.deps.Accounts.Login(c.UserContext(), accounts.Credentials(r))
	if err != nil {
		return err
	}
	if err := s.startApplicantSession(c, acc.ID); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"username": acc.Username, "kind": string(acc.Kind)})
}

// startApplicantSession gives the signed-in applicant a new session id, so a
// session id planted before login is worthless after it.
func (s *Server) startApplicantSession(c *fiber.Ctx, accountID int) error {
	sess, err := s.sessions.Get(c)
	if err != nil {
		return err
	}
	if err := sess.Regenerate(); err != nil {
		return err
	}
	sess.Set(sessAccountID, accountID)
	sess.Set(sessSignedInAt, s.deps.Clock.Now().UnixNano())
	return sess.Save()
}

// logout ends the applicant's session (POST /api/v1/logout).
func (s *Server) logout(c *fiber.Ctx) error {
	sess, err := s.sessions.Get(c)
	if err != nil {
		return err
	}
	if err := sess.Destroy(); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

type passwordRequest struct {
	Kind        string `json:"kind"`
	Username    string `json:"username"`
	OldPassword string `json:"old_password"`
	NewPassword string `json:"new_password"`
}

// changePassword replaces a password (POST /api/v1/password).
func (s *Server) changePassword(c *fiber.Ctx) error {
	var r passwordRequest
	if err := parseJSON(c, &r); err != nil {
		return err
	}
	if err := s.deps.Accounts.ChangePassword(c.UserContext(), accounts.PasswordChange(r)); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

type usernameRecoveryRequest struct {
	Kind       string `json:"kind"`
	CertType   string `json:"cert_type"`
	CertNumber string `json:"cert_number"`
	UnitName   string `json:"unit_name"`
	Name       string `json:"name"`
	IDNumber   string `json:"id_number"`
}

// recoverUsername sends the username to the phone on record
// (POST /api/v1/account-recovery).
func (s *Server) recoverUsername(c *fiber.Ctx) error {
	var r usernameRecoveryRequest
	if err := parseJSON(c, &r); err != nil {
		return err
	}
	masked, err := s.deps.Accounts.RecoverUsername(c.UserContext(), accounts.UsernameRecovery(r))
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"phone_masked": masked})
}

// regions serves the cascading region picker (GET /api/v1/regions?parent=CODE).
func (s *Server) regions(c *fiber.Ctx) error {
	children := rules.RegionChildren(c.Query("parent"))
	if children == nil {
		return errRegionNotFound.WithField("parent")
	}
	c.Set(fiber.HeaderCacheControl, "public, max-age=86400")
	return c.JSON(fiber.Map{"regions": children})
}
