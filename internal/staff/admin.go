package staff

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"recoverydesk/ent"
	"recoverydesk/ent/staffuser"
	"recoverydesk/internal/apperr"
	"recoverydesk/internal/audit"
	"recoverydesk/internal/db"
	"recoverydesk/internal/rules"
	"recoverydesk/internal/vocab"
	"recoverydesk/policies"
)

// Errors of staff administration.
var (
	ErrStaffNotFound = apperr.New(apperr.NotFound, "staff_not_found", "未找到该工作人员")
	ErrUsernameTaken = apperr.New(apperr.Conflict, "username_taken", "该用户名已被使用")
	ErrInvalidName   = apperr.New(apperr.Invalid, "invalid_name", "请填写1-50个字符的姓名")
	ErrInvalidRole   = apperr.New(apperr.Invalid, "invalid_role", "请选择角色："+vocab.RoleReviewer.Label()+"、"+vocab.RoleSupervisor.Label()+"或"+vocab.RoleAdmin.Label())
	ErrInvalidRegion = apperr.New(apperr.Invalid, "invalid_region", "请选择广东省内的地区（如 44 全省、4407 江门市、440703 蓬江区）")
	// ErrSelfRoles keeps anyone, an administrator included, from widening
	// or narrowing their own access: another administrator must do it.
	ErrSelfRoles = apperr.New(apperr.Forbidden, "self_role_change", "不能修改自己的角色授权，请由其他管理员操作")
	// ErrSelfAccount refuses disabling or resetting one's own account from
	// the administration pages.
	ErrSelfAccount = apperr.New(apperr.Forbidden, "self_account_change", "不能在人员管理中修改自己的账号，请由其他管理员操作")
	// ErrOutOfScope is an administrator acting beyond the regions where
	// they manage staff (a city administrator and a province-wide role).
	ErrOutOfScope     = apperr.New(apperr.Forbidden, "outside_admin_scope", "您无权管理该地区的人员或授权")
	ErrAlreadyGranted = apperr.New(apperr.Conflict, "already_granted", "该人员已拥有此角色和地区的授权")
	ErrNoSuchGrant    = apperr.New(apperr.NotFound, "no_such_grant", "该人员没有此角色和地区的授权")
)

// NewStaff is a staff user to create with one role in one region.
type NewStaff struct {
	Username, Name, Role, Region string
}

// CheckNew returns every problem of n, with the form field it concerns
// (username, name, role, region) and a Chinese message; nil when n is fine.
// The console form and `recoverydesk staff add` share it.
func CheckNew(n NewStaff) []apperr.FieldError {
	var out []apperr.FieldError
	for _, v := range rules.CheckUsername(n.Username) {
		out = append(out, apperr.FieldError{Field: "username", Code: v.Code, Message: v.Message})
	}
	if name := strings.TrimSpace(n.Name); name == "" || utf8.RuneCountInString(name) > 50 {
		out = append(out, apperr.FieldError{Field: "name", Code: ErrInvalidName.Code, Message: ErrInvalidName.Message})
	}
	for _, err := range grantProblems(n.Role, n.Region) {
		out = append(out, apperr.FieldError{Field: err.Field, Code: err.Code, Message: err.Message})
	}
	return out
}

// grantProblems is policies.ValidateGrant with refusals a person can read,
// the role and the region judged separately so a form marks both.
func grantProblems(role, region string) []*apperr.Error {
	var out []*apperr.Error
	if !slices.Contains(policies.Roles(), role) {
		out = append(out, ErrInvalidRole.WithField("role"))
	}
	if policies.ValidateGrant(policies.RoleReviewer, region) != nil {
		out = append(out, ErrInvalidRegion.WithField("region"))
	}
	if len(out) == 0 && policies.ValidateGrant(role, region) != nil {
		out = append(out, ErrInvalidRegion.WithField("region"))
	}
	return out
}

// checkGrant returns the first problem of a grant, or nil.
func checkGrant(role, region string) error {
	if p := grantProblems(role, region); len(p) > 0 {
		return p[0]
	}
	return nil
}

// Creator is who creates a staff user, as the audit log names them.
type Creator struct {
	Kind  vocab.ActorKind // audit.ActorStaff or audit.ActorSystem
	Actor string          // a username key, or "cli"
}

// Create stores a new staff user with its one role grant and its audit
// entry, in one transaction. It is the one home of staff creation: the
// console, `recoverydesk staff add` and `seed --demo` all call it. The
// caller checked n with CheckNew and hashed the password.
//
// The grant is written by an enforcer built on the transaction's client, so
// the casbin_rules row commits or rolls back with the user and the audit
// entry. Enforcers serving requests see it at their next Reload (every
// instance runs StartAutoReload; the console reloads its own at once).
func Create(ctx context.Context, d *db.DB, by Creator, n NewStaff, passwordHash string) error {
	return d.InTx(ctx, func(tx *db.Tx) error {
		key := rules.NormalizeUsername(n.Username)
		if _, err := tx.Ent.StaffUser.Create().SetUsername(n.Username).SetUsernameKey(key).
			SetName(strings.TrimSpace(n.Name)).SetPasswordHash(passwordHash).Save(ctx); err != nil {
			if ent.IsConstraintError(err) {
				return ErrUsernameTaken.WithField("username")
			}
			return err
		}
		if err := grantInTx(ctx, tx, key, n.Role, n.Region); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{ActorKind: by.Kind, Actor: by.Actor, Action: "staff.created",
			ObjectType: "staff", ObjectID: key, Detail: map[string]any{"role": n.Role, "region": n.Region}})
	})
}

// grantInTx stores the grant through tx (see Create).
func grantInTx(ctx context.Context, tx *db.Tx, key, role, region string) error {
	enf, err := policies.NewEnforcer(ctx, tx.Ent)
	if err != nil {
		return err
	}
	return enf.Grant(ctx, policies.Subject(key), role, region)
}

// Actor is the signed-in administrator on whose behalf Admin acts.
type Actor struct {
	ID  int
	Key string // username_key
}

// Member is a staff user as the administration pages show them.
type Member struct {
	Username, Key, Name string
	Grants              []policies.Grant
	TOTPEnrolled        bool // a confirmed second factor is stored
	TOTPRequired        bool
	Disabled            bool
	LockedUntil         *time.Time
	LastLoginAt         *time.Time
}

// Admin manages staff accounts and role grants for administrators. Every
// change is audited in its own transaction, and an administrator acts only
// within the regions where they hold staff:manage and never on their own
// roles or account.
type Admin struct {
	s   *Service
	enf *policies.Enforcer
}

// Admin returns the administration of staff over the enforcer that serves
// the console (reloaded at once after each change of grants).
func (s *Service) Admin(enf *policies.Enforcer) *Admin {
	return &Admin{s: s, enf: enf}
}

// List returns every staff user in username order with their grants.
func (a *Admin) List(ctx context.Context) ([]Member, error) {
	users, err := a.s.db.Ent.StaffUser.Query().Order(ent.Asc(staffuser.FieldUsernameKey)).All(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Member, len(users))
	for i, u := range users {
		out[i] = a.member(u)
	}
	return out, nil
}

// Get returns one staff user by username (any case).
func (a *Admin) Get(ctx context.Context, username string) (Member, error) {
	u, err := a.find(ctx, a.s.db.Ent, username)
	if err != nil {
		return Member{}, err
	}
	return a.member(u), nil
}

func (a *Admin) member(u *ent.StaffUser) Member {
	return Member{Username: u.Username, Key: u.UsernameKey, Name: u.Name,
		Grants:       a.enf.RolesOf(policies.Subject(u.UsernameKey)),
		TOTPEnrolled: len(u.TotpSecret) > 0, TOTPRequired: u.TotpRequired, Disabled: u.Disabled,
		LockedUntil: u.LockedUntil, LastLoginAt: u.LastLoginAt}
}

func (a *Admin) find(ctx context.Context, c *ent.Client, username string) (*ent.StaffUser, error) {
	key := rules.NormalizeUsername(strings.TrimSpace(username))
	u, err := c.StaffUser.Query().Where(staffuser.UsernameKey(key)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, ErrStaffNotFound
	}
	return u, err
}

// covers reports whether the actor manages staff in region.
func (a *Admin) covers(actor Actor, region string) bool {
	ok, err := a.enf.Allowed(policies.Subject(actor.Key), region, policies.ObjStaff, policies.ActManage)
	return err == nil && ok
}

// mayManage checks that the actor manages every region where target holds
// a role, so that a city administrator cannot reset a province supervisor.
func (a *Admin) mayManage(actor Actor, targetKey string) error {
	for _, g := range a.enf.RolesOf(policies.Subject(targetKey)) {
		if !a.covers(actor, g.Region) {
			return ErrOutOfScope
		}
	}
	return nil
}

// Create creates a staff user with one role in one region and returns the
// generated password, to be shown once; only its hash is stored.
func (a *Admin) Create(ctx context.Context, actor Actor, n NewStaff) (string, error) {
	n.Username, n.Name, n.Region = strings.TrimSpace(n.Username), strings.TrimSpace(n.Name), strings.TrimSpace(n.Region)
	if err := apperr.FromFields(CheckNew(n)); err != nil {
		return "", err
	}
	if !a.covers(actor, n.Region) {
		return "", ErrOutOfScope.WithField("region")
	}
	password, hash, err := a.newPassword(n.Username)
	if err != nil {
		return "", err
	}
	if err := Create(ctx, a.s.db, Creator{Kind: audit.ActorStaff, Actor: actor.Key}, n, hash); err != nil {
		return "", err
	}
	a.reload(ctx)
	return password, nil
}

func (a *Admin) newPassword(username string) (password, hash string, err error) {
	if password, err = rules.GeneratePasswordFor(username); err != nil {
		return "", "", err
	}
	if hash, err = a.s.hasher.Hash(password); err != nil {
		return "", "", err
	}
	return password, hash, nil
}

// reload puts a committed change of grants in force on this instance now.
//
// A failed reload is logged, not returned: the change is committed, the
// automatic reload puts it in force within seconds, and an error here would
// hide a result the administrator must see (a new person's password is
// shown only once).
func (a *Admin) reload(ctx context.Context) {
	if err := a.enf.Reload(ctx); err != nil {
		a.s.logger.WarnContext(ctx, "grants changed, but reloading the rules failed; the automatic reload will apply them", "err", err)
	}
}

// change runs fn on the target in a transaction after the checks every
// account change shares: the target exists, is not the actor, and is in
// the actor's scope.
func (a *Admin) change(ctx context.Context, actor Actor, username string, fn func(tx *db.Tx, u *ent.StaffUser) error) error {
	return a.s.db.InTx(ctx, func(tx *db.Tx) error {
		u, err := a.find(ctx, tx.Ent, username)
		if err != nil {
			return err
		}
		if u.ID == actor.ID {
			return ErrSelfAccount
		}
		if err := a.mayManage(actor, u.UsernameKey); err != nil {
			return err
		}
		if err := tx.LockKey(ctx, fmt.Sprintf("staff:%d", u.ID)); err != nil {
			return err
		}
		return fn(tx, u)
	})
}

func (a *Admin) audit(ctx context.Context, tx *db.Tx, actor Actor, action vocab.Action, target string, detail map[string]any) error {
	return audit.Record(ctx, tx, audit.Event{At: a.s.clock.Now(), ActorKind: audit.ActorStaff, Actor: actor.Key,
		Action: action, ObjectType: "staff", ObjectID: target, Detail: detail})
}

// SetDisabled disables or enables a staff user. A disabled user cannot sign
// in, and disabling ends their console sessions (SessionUser): enabling the
// account again does not bring them back.
func (a *Admin) SetDisabled(ctx context.Context, actor Actor, username string, disabled bool) error {
	return a.change(ctx, actor, username, func(tx *db.Tx, u *ent.StaffUser) error {
		if u.Disabled == disabled {
			return nil
		}
		upd := tx.Ent.StaffUser.UpdateOne(u).SetDisabled(disabled).SetUpdatedAt(a.s.clock.Now())
		if disabled {
			upd.AddSessionEpoch(1)
		}
		if err := upd.Exec(ctx); err != nil {
			return err
		}
		action := vocab.ActionStaffEnabled
		if disabled {
			action = vocab.ActionStaffDisabled
		}
		return a.audit(ctx, tx, actor, action, u.UsernameKey, nil)
	})
}

// ResetPassword gives a staff user a new generated password, returned to be
// shown once. The old password stops working at once, a lockout is lifted,
// and every console session of the user ends (SessionUser) in the same
// transaction.
func (a *Admin) ResetPassword(ctx context.Context, actor Actor, username string) (string, error) {
	target, err := a.find(ctx, a.s.db.Ent, username)
	if err != nil {
		return "", err
	}
	// Hashing is slow; do it before the transaction.
	password, hash, err := a.newPassword(target.Username)
	if err != nil {
		return "", err
	}
	err = a.change(ctx, actor, username, func(tx *db.Tx, u *ent.StaffUser) error {
		if err := tx.Ent.StaffUser.UpdateOne(u).SetPasswordHash(hash).SetFailedLogins(0).ClearLockedUntil().
			AddSessionEpoch(1).SetUpdatedAt(a.s.clock.Now()).Exec(ctx); err != nil {
			return err
		}
		return a.audit(ctx, tx, actor, "staff.password_reset", u.UsernameKey, nil)
	})
	if err != nil {
		return "", err
	}
	return password, nil
}

// RequireTOTP makes the second factor mandatory for a staff user: one who
// has not enrolled yet is sent to enrol at the next console request.
func (a *Admin) RequireTOTP(ctx context.Context, actor Actor, username string) error {
	return a.change(ctx, actor, username, func(tx *db.Tx, u *ent.StaffUser) error {
		if u.TotpRequired {
			return nil
		}
		if err := tx.Ent.StaffUser.UpdateOne(u).SetTotpRequired(true).SetUpdatedAt(a.s.clock.Now()).Exec(ctx); err != nil {
			return err
		}
		return a.audit(ctx, tx, actor, "staff.totp_required", u.UsernameKey, nil)
	})
}

// Grant gives a staff user a role in a region. Nobody changes their own
// roles, and an administrator grants only within their own scope.
func (a *Admin) Grant(ctx context.Context, actor Actor, username, role, region string) error {
	return a.changeGrant(ctx, actor, username, role, region, true)
}

// Revoke takes a role in a region away from a staff user (that exact grant;
// a wider or narrower one of the same role stays).
func (a *Admin) Revoke(ctx context.Context, actor Actor, username, role, region string) error {
	return a.changeGrant(ctx, actor, username, role, region, false)
}

// changeGrant writes the casbin_rules row through an enforcer on the
// transaction's client (policies.Enforcer writes through the client it was
// built on), so the row and its audit entry commit together; the console's
// enforcer is reloaded after the commit, other instances reload within
// seconds (StartAutoReload).
func (a *Admin) changeGrant(ctx context.Context, actor Actor, username, role, region string, grant bool) error {
	role, region = strings.TrimSpace(role), strings.TrimSpace(region)
	if err := checkGrant(role, region); err != nil {
		return err
	}
	err := a.s.db.InTx(ctx, func(tx *db.Tx) error {
		u, err := a.find(ctx, tx.Ent, username)
		if err != nil {
			return err
		}
		if u.ID == actor.ID || u.UsernameKey == actor.Key {
			return ErrSelfRoles
		}
		if !a.covers(actor, region) {
			return ErrOutOfScope.WithField("region")
		}
		enf, err := policies.NewEnforcer(ctx, tx.Ent)
		if err != nil {
			return err
		}
		subject, action := policies.Subject(u.UsernameKey), vocab.ActionStaffRoleGranted
		if grant {
			err = enf.Grant(ctx, subject, role, region)
		} else {
			action = vocab.ActionStaffRoleRevoked
			err = enf.Revoke(ctx, subject, role, region)
		}
		switch {
		case errors.Is(err, policies.ErrAlreadyGranted):
			return ErrAlreadyGranted
		case errors.Is(err, policies.ErrNoSuchGrant):
			return ErrNoSuchGrant
		case err != nil:
			return err
		}
		return a.audit(ctx, tx, actor, action, u.UsernameKey, map[string]any{"role": role, "region": region})
	})
	if err != nil {
		return err
	}
	a.reload(ctx)
	return nil
}
