package recovery

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"recoverydesk/ent"
	"recoverydesk/ent/account"
	"recoverydesk/ent/recoverycase"
	"recoverydesk/internal/apperr"
	"recoverydesk/internal/audit"
	"recoverydesk/internal/db"
	"recoverydesk/internal/recovery/state"
	"recoverydesk/internal/rules"
	"recoverydesk/internal/vocab"
)

// StartInput is step 1, 填写信息: what the applicant knows.
type StartInput struct {
	Kind       string // person or unit
	Username   string // may be empty or approximate
	CertType   string // unit: uscc or org_code
	CertNumber string // unit
	UnitName   string // unit
	Name       string // person
	IDNumber   string // person
}

// Started is what the applicant gets back: the case id, the token that
// authorises every later step (shown once, stored only hashed), the masked
// phone the code will go to, and the evidence to upload.
type Started struct {
	ID               uuid.UUID
	Token            string
	PhoneMasked      string
	RequiredEvidence []string
}

// Start finds the account by certificate (or ID number) and opens a draft
// case. The typed username and name never block; their similarity to the
// record is kept for the reviewer. A draft nobody verified yet is replaced;
// a draft that passed SMS verification belongs to whoever proved the phone
// and is never expired by a new start (draft_in_progress, until it is
// submitted or lapses after DraftTTL); a submitted case still open is
// refused with its case number.
func (s *Service) Start(ctx context.Context, in StartInput) (*Started, error) {
	acc, certType, number, typedName, err := s.findAccount(ctx, in)
	if err != nil {
		return nil, err
	}
	token, tokenHash, err := newToken()
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	var rc *ent.RecoveryCase
	var stale []string
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		if err := tx.LockKey(ctx, fmt.Sprintf("account:%d", acc.ID)); err != nil {
			return err
		}
		if stale, err = s.refuseOpenCase(ctx, tx, acc.ID, now); err != nil {
			return err
		}
		rc, err = tx.Ent.RecoveryCase.Create().SetKind(recoverycase.Kind(in.Kind)).SetAccountID(acc.ID).
			SetRegionCode(acc.RegionCode).SetTypedUsername(trim(in.Username, TypedUsernameMaxLen)).SetTypedName(trim(typedName, 200)).
			SetTypedCertType(certType).SetTypedCertNumber(number).
			SetUsernameSimilarity(Similarity(in.Username, acc.Username)).SetNameSimilarity(Similarity(typedName, acc.Name)).
			SetTokenHash(tokenHash).SetCreatedAt(now).SetUpdatedAt(now).Save(ctx)
		if err != nil {
			return err
		}
		return s.record(ctx, tx, rc, now, actorApplicant, vocab.EventCreated, nil, map[string]any{"kind": in.Kind})
	})
	if err != nil {
		return nil, err
	}
	s.deleteObjects(ctx, stale)
	return &Started{ID: rc.ID, Token: token, PhoneMasked: rules.MaskPhone(acc.Phone), RequiredEvidence: RequiredEvidence(in.Kind)}, nil
}

// findAccount is step 1's lookup: the account whose certificate (or ID
// number) the applicant typed, with the normalised certificate and the typed
// name. The typed username and name never decide it. 忘记申请编号
// (SendCaseNumber) uses the same lookup, so it tells no more than step 1.
func (s *Service) findAccount(ctx context.Context, in StartInput) (acc *ent.Account, certType, number, typedName string, err error) {
	certType, number, typedName, err = s.checkStart(in)
	if err != nil {
		return nil, "", "", "", err
	}
	acc, err = s.db.Ent.Account.Query().
		Where(account.KindEQ(account.Kind(in.Kind)), account.CertType(certType), account.CertHmacIn(s.db.Lookups(number)...)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, "", "", "", ErrAccountNotFound
	}
	if err != nil {
		return nil, "", "", "", err
	}
	return acc, certType, number, typedName, nil
}

// checkStart validates step 1 and returns the normalised certificate.
func (s *Service) checkStart(in StartInput) (certType, number, typedName string, err error) {
	var fields []apperr.FieldError
	add := func(field, code, msg string) {
		fields = append(fields, apperr.FieldError{Field: field, Code: code, Message: msg})
	}
	today := s.clock.Now()
	switch in.Kind {
	case "unit":
		certType, typedName = in.CertType, strings.TrimSpace(in.UnitName)
		if t := rules.CertType(certType); t != rules.CertUSCC && t != rules.CertOrgCode {
			add("cert_type", "invalid_cert_type", "请选择证件类型：统一社会信用代码或组织机构代码")
		} else if number, err = rules.ValidateCert(t, in.CertNumber, today); err != nil {
			add("cert_number", "invalid_cert_number", rules.CertMessage(err, "证件号码不正确"))
		}
		if typedName == "" {
			add("unit_name", "invalid_unit_name", "请输入单位名称")
		}
	case "person":
		certType, typedName = string(rules.CertIDCard), strings.TrimSpace(in.Name)
		if typedName == "" {
			add("name", "invalid_name", "请输入姓名")
		}
		if number, err = rules.ValidateIDNumber(in.IDNumber, today); err != nil {
			add("id_number", "invalid_id_number", rules.CertMessage(err, "身份证号码不正确"))
		}
	default:
		add("kind", "invalid_kind", "请选择自然人找回密码或单位找回密码")
	}
	return certType, number, typedName, apperr.FromFields(fields)
}

// refuseOpenCase fails with case_open when the account has a submitted case
// still open, and with draft_in_progress when its draft passed SMS
// verification; an unverified draft is expired instead, and its object keys
// are returned for deletion after commit.
func (s *Service) refuseOpenCase(ctx context.Context, tx *db.Tx, accountID int, now time.Time) ([]string, error) {
	open, err := tx.Ent.RecoveryCase.Query().Where(ofAccount(accountID),
		recoverycase.StatusIn(openStatuses()...)).WithEvidence().All(ctx)
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, c := range open {
		if c.Status != state.Draft {
			number := ""
			if c.CaseNumber != nil {
				number = *c.CaseNumber
			}
			e := ErrCaseOpen.With("case_number", number)
			e.Message = fmt.Sprintf("该账号已有正在办理的密码找回申请（%s），请等待审核结果", number)
			return nil, e
		}
		if c.PhoneVerifiedAt != nil && now.Before(c.CreatedAt.Add(DraftTTL)) {
			return nil, draftInProgress(c)
		}
		k, err := s.expireDraft(ctx, tx, c, now, "replaced")
		if errors.Is(err, errDraftMoved) {
			// Verified (or submitted) after it was read: no longer ours to replace.
			return nil, draftInProgress(c)
		}
		if err != nil {
			return nil, err
		}
		keys = append(keys, k...)
	}
	return keys, nil
}

// draftInProgress is the refusal of a start while draft c is in someone's
// hands, with the time it lapses if they leave it.
func draftInProgress(c *ent.RecoveryCase) error {
	return ErrDraftInProgress.With("expires_at", c.CreatedAt.Add(DraftTTL).Format(time.RFC3339))
}

// Authorize returns the case that token opens. A wrong token and an unknown
// case look the same, so ids cannot be probed.
func (s *Service) Authorize(ctx context.Context, id, token string) (*ent.RecoveryCase, error) {
	cid, err := uuid.Parse(id)
	if err != nil || token == "" {
		return nil, ErrCaseNotFound
	}
	rc, err := s.db.Ent.RecoveryCase.Get(ctx, cid)
	if ent.IsNotFound(err) {
		return nil, ErrCaseNotFound
	}
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(token))
	if subtle.ConstantTimeCompare(sum[:], rc.TokenHash) != 1 || rc.Status == state.Expired {
		return nil, ErrCaseNotFound
	}
	return rc, nil
}

func newToken() (string, []byte, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", nil, err
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	sum := sha256.Sum256([]byte(token))
	return token, sum[:], nil
}

// openStatuses are the statuses that occupy an account (state.Open).
func openStatuses() []state.Status {
	var out []state.Status
	for _, st := range state.All {
		if state.Open(st) {
			out = append(out, st)
		}
	}
	return out
}

// The actors of case events other than staff ("staff:" + username, see
// Reviewer.actor): the applicant holding the case's token, and the product
// itself (jobs, expiry). They are the audit log's actor kinds.
const (
	actorApplicant = string(vocab.ActorApplicant)
	actorSystem    = string(vocab.ActorSystem)
)

// record writes a case event and its audit entry in tx.
func (s *Service) record(ctx context.Context, tx *db.Tx, rc *ent.RecoveryCase, at time.Time, actor string, event vocab.EventType, before, after map[string]any) error {
	return s.recordNote(ctx, tx, rc, at, actor, event, "", before, after)
}

// recordNote is record with a note in the case history (a staff member's
// words; the audit entry does not repeat them).
func (s *Service) recordNote(ctx context.Context, tx *db.Tx, rc *ent.RecoveryCase, at time.Time, actor string, event vocab.EventType, note string, before, after map[string]any) error {
	c := tx.Ent.CaseEvent.Create().SetCaseID(rc.ID).SetType(string(event)).SetActor(actor).SetCreatedAt(at).SetNote(note)
	if before != nil {
		c.SetBefore(before)
	}
	if after != nil {
		c.SetAfter(after)
	}
	if err := c.Exec(ctx); err != nil {
		return fmt.Errorf("case event %s: %w", event, err)
	}
	kind, who := audit.ActorApplicant, actor
	if actor == actorSystem {
		kind = audit.ActorSystem
	} else if name, ok := strings.CutPrefix(actor, "staff:"); ok {
		kind, who = audit.ActorStaff, name
	}
	// Case entries name the case by its number once it has one (drafts: the id).
	object := rc.ID.String()
	if rc.CaseNumber != nil {
		object = *rc.CaseNumber
	} else if n, ok := after["case_number"].(string); ok && n != "" {
		object = n
	}
	return audit.Record(ctx, tx, audit.Event{At: at, ActorKind: kind, Actor: who, Action: event.Action(),
		ObjectType: string(vocab.ObjectCase), ObjectID: object, Detail: after})
}

// TypedUsernameMaxLen bounds the username an applicant remembers
// approximately (step 1 of the wizard, shown to the reviewer): longer input
// is cut, and the wizard's field takes no more.
const TypedUsernameMaxLen = 64

// trim cuts s to n characters after trimming white space: what an applicant
// typed is kept for the reviewer, not refused.
func trim(s string, n int) string {
	s = strings.TrimSpace(s)
	r := []rune(s)
	if len(r) > n {
		return string(r[:n])
	}
	return s
}
