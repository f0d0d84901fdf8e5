// Package recovery is the password-recovery workflow (密码找回): the
// applicant's intake (find the account, prove the phone, upload evidence,
// submit) and, in later parts, the review. Every step owns its transaction:
// the change, its case event and its audit entry commit together.
package recovery

import (
	"log/slog"
	"runtime"

	"github.com/google/uuid"
	"time"

	entsql "entgo.io/ent/dialect/sql"

	"recoverydesk/ent/predicate"
	"recoverydesk/ent/recoverycase"
	"recoverydesk/internal/apperr"
	"recoverydesk/internal/clock"
	"recoverydesk/internal/config"
	"recoverydesk/internal/db"
	"recoverydesk/internal/passhash"
	"recoverydesk/internal/rules"
	"recoverydesk/internal/sms"
	"recoverydesk/internal/verify"
	"recoverydesk/internal/vocab"
	"recoverydesk/storage"
)

// RequiredEvidence lists the kinds (vocab.EvidenceKind) a case of the given
// kind must carry before it can be submitted.
func RequiredEvidence(kind string) []string {
	kinds := []vocab.EvidenceKind{vocab.EvidenceIDFront, vocab.EvidenceIDHandheld}
	if kind == string(vocab.KindUnit) {
		kinds = vocab.EvidenceKinds
	}
	out := make([]string, len(kinds))
	for i, k := range kinds {
		out[i] = string(k)
	}
	return out
}

// DraftTTL is how long an unsubmitted draft lives before it expires and its
// images are deleted.
const DraftTTL = 24 * time.Hour

// OrphanAge is how old an object without an evidence row must be before the
// clean-up deletes it (an upload in flight is younger).
const OrphanAge = time.Hour

// Errors a user can act on.
var (
	ErrCaseNotFound    = apperr.New(apperr.NotFound, "not_found", "未找到该申请，或链接已失效")
	ErrAccountNotFound = apperr.New(apperr.NotFound, "account_not_found", "未找到与所填证件信息对应的账号，请核对证件类型和号码")
	ErrCaseOpen        = apperr.New(apperr.Conflict, "case_open", "该账号已有正在办理的密码找回申请，请等待审核结果")
	// ErrDraftInProgress refuses a second starter while the account's draft
	// has passed SMS verification: the draft belongs to whoever proved the
	// phone, and a stranger who knows the ID number must not wipe it.
	ErrDraftInProgress = apperr.New(apperr.Conflict, "draft_in_progress",
		"该账号已有一份通过手机短信验证、尚未提交的密码找回申请，请在原页面继续上传证件照并提交；如无法继续，该申请将在发起24小时后自动失效，届时可重新申请")
	ErrWrongStep       = apperr.New(apperr.Conflict, "wrong_step", "当前步骤不能进行此操作")
	ErrMissingEvidence = apperr.New(apperr.Invalid, "missing_evidence", "请先上传全部所需材料")
	ErrUnknownKind     = apperr.New(apperr.NotFound, "unknown_evidence_kind", "该申请不需要此类材料")
)

// Service runs the recovery workflow.
type Service struct {
	db       *db.DB
	clock    clock.Clock
	codes    *verify.Codes
	courier  *sms.Courier
	hasher   passhash.Hasher
	store    *storage.Store
	calendar *rules.Calendar
	logger   *slog.Logger
	checks   chan struct{} // bounds simultaneous image checks
	big      *bigTabs      // queue tabs known to hold more than CountCap cases
	// qaPercent (0–100) is the share of decisions drawn for QA.
	qaPercent int
	hotline   string              // the hotline's shown text, named in the SMS
	onDecided func(vocab.Outcome) // Deps.OnDecided
}

// Deps are what the service needs.
type Deps struct {
	DB       *db.DB
	Clock    clock.Clock
	Codes    *verify.Codes
	Courier  *sms.Courier
	Hasher   passhash.Hasher
	Store    *storage.Store
	Calendar *rules.Calendar
	// QASamplePercent (0–100) is the share of decisions drawn for QA.
	QASamplePercent int
	// Hotline is the hotline's shown text (config.Hotline.Text); empty
	// means the default.
	Hotline string
	Logger  *slog.Logger
	// OnDecided is told the outcome of each decision once it is committed
	// (the decisions counter of /metrics); nil: nobody.
	OnDecided func(vocab.Outcome)
}

// New returns the recovery service.
func New(d Deps) *Service {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Calendar == nil {
		d.Calendar = rules.NewCalendar(rules.WithLogger(d.Logger))
	}
	s := &Service{db: d.DB, clock: d.Clock, codes: d.Codes, courier: d.Courier, hasher: d.Hasher, store: d.Store,
		calendar: d.Calendar, logger: d.Logger, checks: make(chan struct{}, runtime.NumCPU()), big: newBigTabs(),
		qaPercent: min(max(d.QASamplePercent, 0), 100), hotline: d.Hotline, onDecided: d.OnDecided}
	if s.hotline == "" {
		s.hotline = config.DefaultHotline().Text
	}
	if d.Courier != nil {
		// A reset password exists in clear only sealed in its queued SMS,
		// and not even there once sent; its clock starts at the send.
		d.Courier.EraseAfterSend(vocab.PurposePassword)
		d.Courier.OnSent(vocab.PurposePassword, s.onPasswordSent)
		d.Courier.OnFailedForGood(s.onSMSFailed)
	}
	return s
}

func mustUUID(s string) uuid.UUID {
	id, err := uuid.Parse(s)
	if err != nil {
		return uuid.Nil
	}
	return id
}

// ofAccount selects an account's cases by the foreign key itself. ent's
// HasAccountWith(account.ID(id)) is a correlated EXISTS that no index
// serves: every such query walked the cases of the status it asked for
// (6 ms at 100 000 cases, 60 ms at a million, on each decision).
func ofAccount(id int) predicate.RecoveryCase {
	return predicate.RecoveryCase(entsql.FieldEQ(recoverycase.AccountColumn, id))
}

// notOfAccount selects the cases of every other account.
func notOfAccount(id int) predicate.RecoveryCase {
	return predicate.RecoveryCase(entsql.FieldNEQ(recoverycase.AccountColumn, id))
}
