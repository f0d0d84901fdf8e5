package staff

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"recoverydesk/ent"
	"recoverydesk/ent/rolerequest"
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
	// ErrAlreadyRequested is a grant already awaiting confirmation.
	ErrAlreadyRequested = apperr.New(apperr.Conflict, "grant_pending", "该授权已在等待另一名管理员确认")
	// ErrNoSuchRequest is a confirmation of a grant nobody asked for (or
	// already confirmed or withdrawn).
	ErrNoSuchRequest = apperr.New(apperr.NotFound, "no_such_grant_request", "没有待确认的此项授权申请")
	// ErrOwnRequest keeps the administrator who asked for a grant from
	// confirming it: two administrators must agree (三员分立).
	ErrOwnRequest = apperr.New(apperr.Forbidden, "own_grant_request", "不能确认自己提出的授权申请，请由另一名管理员确认")
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
//
// This is the operator's bootstrap (whoever holds the server chooses the
// password): the role is in force at once and nothing is forced at the
// first sign-in. An administrator creating staff in the console goes
// through Admin.Create instead.
func Create(ctx context.Context, d *db.DB, by Creator, n NewStaff, passwordHash string) error {
	return d.InTx(ctx, func(tx *db.Tx) error {
		key, err := insert(ctx, tx, n, passwordHash, false)
		if err != nil {
			return err
		}
		if err := grantInTx(ctx, tx, key, n.Role, n.Region); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{ActorKind: by.Kind, Actor: by.Actor, Action: "staff.created",
			ObjectType: "staff", ObjectID: key, Detail: map[string]any{"role": n.Role, "region": n.Region}})
	})
}

// insert stores the staff user row and returns its username key. A
// temporary password (issued by an administrator) also makes TOTP required:
// the first sign-in sets the person's own password and enrols their device.
func insert(ctx context.Context, tx *db.Tx, n NewStaff, passwordHash string, temporary bool) (string, error) {
	key := rules.NormalizeUsername(n.Username)
	_, err := tx.Ent.StaffUser.Create().SetUsername(n.Username).SetUsernameKey(key).
		SetName(strings.TrimSpace(n.Name)).SetPasswordHash(passwordHash).
		SetPasswordTemporary(temporary).SetTotpRequired(temporary).Save(ctx)
	if ent.IsConstraintError(err) {
		return "", ErrUsernameTaken.WithField("username")
	}
	return key, err
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
	Pending             []Pending // grants awaiting a second administrator
	TOTPEnrolled        bool      // a confirmed second factor is stored
	TOTPRequired        bool
	// PasswordTemporary: the person has not yet replaced the password an
	// administrator issued.
	PasswordTemporary bool
	Disabled          bool
	LockedUntil       *time.Time
	LastLoginAt       *time.Time
}

// Pending is a role grant awaiting a second administrator's confirmation.
type Pending struct {
	Role, Region string
	RequestedBy  string // the requesting administrator's username key
	At           time.Time
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
	pending, err := a.pending(ctx, "")
	if err != nil {
		return nil, err
	}
	out := make([]Member, len(users))
	for i, u := range users {
		out[i] = a.member(u, pending[u.UsernameKey])
	}
	return out, nil
}

// pending returns the grants awaiting confirmation by subject, of one
// subject when subject is set.
func (a *Admin) pending(ctx context.Context, subject string) (map[string][]Pending, error) {
	q := a.s.db.Ent.RoleRequest.Query().Order(ent.Asc(rolerequest.FieldCreatedAt), ent.Asc(rolerequest.FieldID))
	if subject != "" {
		q.Where(rolerequest.Subject(subject))
	}
	rows, err := q.All(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string][]Pending{}
	for _, r := range rows {
		out[r.Subject] = append(out[r.Subject], Pending{Role: r.Role, Region: r.Region, RequestedBy: r.RequestedBy, At: r.CreatedAt})
	}
	return out, nil
}

// Get returns one staff user by username (any case).
func (a *Admin) Get(ctx context.Context, username string) (Member, error) {
	u, err := a.find(ctx, a.s.db.Ent, username)
	if err != nil {
		return Member{}, err
	}
	pending, err := a.pending(ctx, u.UsernameKey)
	if err != nil {
		return Member{}, err
	}
	return a.member(u, pending[u.UsernameKey]), nil
}

func (a *Admin) member(u *ent.StaffUser, pending []Pending) Member {
	return Member{Username: u.Username, Key: u.UsernameKey, Name: u.Name,
		Grants: a.enf.RolesOf(policies.Subject(u.UsernameKey)), Pending: pending,
		TOTPEnrolled: len(u.TotpSecret) > 0, TOTPRequired: u.TotpRequired, PasswordTemporary: u.PasswordTemporary,
		Disabled: u.Disabled, LockedUntil: u.LockedUntil, LastLoginAt: u.LastLoginAt}
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
//
// The password is temporary: it signs in only to the page where the person
// sets their own password, then enrols TOTP on their own device, so the
// administrator who saw it cannot work as that person. A role that sees
// evidence or decides (policies.NeedsSecondAdmin) is only requested: it is
// in force once a second administrator confirms it (Confirm).
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
	err = a.s.db.InTx(ctx, func(tx *db.Tx) error {
		key, err := insert(ctx, tx, n, hash, true)
		if err != nil {
			return err
		}
		detail := map[string]any{"role": n.Role, "region": n.Region}
		if err := a.audit(ctx, tx, actor, vocab.ActionStaffCreated, key, detail); err != nil {
			return err
		}
		if policies.NeedsSecondAdmin(n.Role) {
			return a.request(ctx, tx, actor, key, n.Role, n.Region)
		}
		if err := grantInTx(ctx, tx, key, n.Role, n.Region); err != nil {
			return err
		}
		return a.audit(ctx, tx, actor, vocab.ActionStaffRoleGranted, key, detail)
	})
	if err != nil {
		return "", err
	}
	a.reload(ctx)
	return password, nil
}

// request stores a grant awaiting a second administrator, with its audit
// entry, in tx.
func (a *Admin) request(ctx context.Context, tx *db.Tx, actor Actor, key, role, region string) error {
	err := tx.Ent.RoleRequest.Create().SetSubject(key).SetRole(role).SetRegion(region).SetRequestedBy(actor.Key).
		SetCreatedAt(a.s.clock.Now()).Exec(ctx)
	if ent.IsConstraintError(err) {
		return ErrAlreadyRequested
	}
	if err != nil {
		return err
	}
	return a.audit(ctx, tx, actor, vocab.ActionStaffRoleRequested, key, map[string]any{"role": role, "region": region})
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
		if err := tx.LockKey(ctx, staffLockKey(u.ID)); err != nil {
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
//
// The new password is temporary (see Create): it signs in only to set the
// person's own password, and TOTP becomes required. An enrolled second
// factor stays, so whoever resets a person's password still lacks their
// device and cannot sign in as them.
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
		if err := tx.Ent.StaffUser.UpdateOne(u).SetPasswordHash(hash).SetPasswordTemporary(true).SetTotpRequired(true).
			SetFailedLogins(0).ClearLockedUntil().AddSessionEpoch(1).SetUpdatedAt(a.s.clock.Now()).Exec(ctx); err != nil {
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
// roles, and an administrator grants only within their own scope. A role
// that sees evidence or decides is only requested (pending is true): a
// second administrator must Confirm it.
func (a *Admin) Grant(ctx context.Context, actor Actor, username, role, region string) (pending bool, err error) {
	return policies.NeedsSecondAdmin(strings.TrimSpace(role)), a.changeGrant(ctx, actor, username, role, region, true)
}

// Confirm puts in force a grant another administrator requested: the
// Casbin rule is written, the request deleted and the confirmation audited
// (naming the requester) in one transaction. Nobody confirms their own
// request, nor a grant to themselves, nor one outside their scope.
func (a *Admin) Confirm(ctx context.Context, actor Actor, username, role, region string) error {
	role, region = strings.TrimSpace(role), strings.TrimSpace(region)
	err := a.s.db.InTx(ctx, func(tx *db.Tx) error {
		u, err := a.find(ctx, tx.Ent, username)
		if err != nil {
			return err
		}
		req, err := tx.Ent.RoleRequest.Query().Where(rolerequest.Subject(u.UsernameKey), rolerequest.Role(role),
			rolerequest.Region(region)).Only(ctx)
		if ent.IsNotFound(err) {
			return ErrNoSuchRequest
		}
		if err != nil {
			return err
		}
		switch {
		case u.ID == actor.ID || u.UsernameKey == actor.Key:
			return ErrSelfRoles
		case req.RequestedBy == actor.Key:
			return ErrOwnRequest
		case !a.covers(actor, region):
			return ErrOutOfScope
		}
		// Deleting by id makes a second confirmation at the same moment
		// (another instance) find nothing and roll back.
		if n, err := tx.Ent.RoleRequest.Delete().Where(rolerequest.ID(req.ID)).Exec(ctx); err != nil || n != 1 {
			if err == nil {
				err = ErrNoSuchRequest
			}
			return err
		}
		enf, err := policies.NewEnforcer(ctx, tx.Ent)
		if err != nil {
			return err
		}
		if err := enf.Grant(ctx, policies.Subject(u.UsernameKey), role, region); err != nil && !errors.Is(err, policies.ErrAlreadyGranted) {
			return err
		}
		return a.audit(ctx, tx, actor, vocab.ActionStaffRoleConfirmed, u.UsernameKey,
			map[string]any{"role": role, "region": region, "requested_by": req.RequestedBy})
	})
	if err != nil {
		return err
	}
	a.reload(ctx)
	return nil
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
		switch {
		case grant && policies.NeedsSecondAdmin(role):
			if slices.Contains(enf.RolesOf(subject), policies.Grant{Role: role, Region: region}) {
				return ErrAlreadyGranted
			}
			return a.request(ctx, tx, actor, u.UsernameKey, role, region)
		case grant:
			err = enf.Grant(ctx, subject, role, region)
		default:
			// Revoking a grant still awaiting confirmation withdraws the request.
			n, derr := tx.Ent.RoleRequest.Delete().Where(rolerequest.Subject(u.UsernameKey), rolerequest.Role(role),
				rolerequest.Region(region)).Exec(ctx)
			if derr != nil {
				return derr
			}
			if n > 0 {
				return a.audit(ctx, tx, actor, vocab.ActionStaffRoleWithdrawn, u.UsernameKey, map[string]any{"role": role, "region": region})
			}
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
