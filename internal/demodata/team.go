// Package demodata generates a realistic history in bulk: applicant accounts
// (persons and units with valid certificate numbers), recovery cases over the
// last months across Guangdong's 21 cities in every status, their case
// events, decisions by several reviewers with their audit entries, QA reviews
// for a share of the decisions, and evidence rows whose images exist in the
// object store. `recoverydesk seed --demo` and the benchmark (cmd/bench) both
// use it; nothing here is reachable from a request.
package demodata

import (
	"context"
	"fmt"

	"recoverydesk/ent/staffuser"
	"recoverydesk/internal/audit"
	"recoverydesk/internal/db"
	"recoverydesk/internal/rules"
	"recoverydesk/internal/vocab"
	"recoverydesk/policies"
)

// Staff is a console user who makes decisions in the generated history.
type Staff struct {
	ID       int
	Username string
	Region   string // the grant's region prefix ("4407", or "44" for the province)
}

// Team is who decides: reviewers per region prefix and the supervisors who
// co-sign flagged approvals and review sampled decisions.
type Team struct {
	Reviewers   []Staff
	Supervisors []Staff
}

// reviewersFor returns the reviewers whose region covers code, or every
// reviewer of the province when no city reviewer does.
func (t Team) reviewersFor(code string) []Staff {
	var out []Staff
	for _, r := range t.Reviewers {
		if r.Region != rules.ProvinceCode && rules.RegionCovers(r.Region, code) {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		for _, r := range t.Reviewers {
			if rules.RegionCovers(r.Region, code) {
				out = append(out, r)
			}
		}
	}
	return out
}

// surnames give the generated staff and applicants their family names.
var surnames = []rune("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")

// givenNames are common given names (one or two characters).
var givenNames = []string{"伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀英", "霞", "平",
	"刚", "桂英", "华", "玉兰", "建华", "志强", "晓明", "嘉欣", "子轩", "浩然", "梓涵", "诗琪", "俊杰", "家豪", "文静", "海燕", "国强", "丽华", "伟杰", "婷婷"}

// CreateTeam adds reviewersPerCity reviewers to every city that has none in
// have, and one province-wide supervisor when have holds none, each with its
// role grant and an audit entry, all with the given password hash (hashed
// once by the caller). It returns have plus the new staff.
func CreateTeam(ctx context.Context, d *db.DB, passwordHash string, have Team, reviewersPerCity int) (Team, error) {
	team := have
	covered := map[string]bool{}
	for _, r := range have.Reviewers {
		covered[r.Region] = true
	}
	type want struct{ username, name, role, region string }
	var wants []want
	n := 0
	for _, city := range rules.Cities() {
		if covered[city.Code] {
			continue
		}
		for k := range reviewersPerCity {
			name := string(surnames[n%len(surnames)]) + "审核"
			n++
			wants = append(wants, want{fmt.Sprintf("rv%s_%d", city.Code, k+1), name, policies.RoleReviewer, city.Code})
		}
	}
	if len(have.Supervisors) == 0 {
		wants = append(wants, want{"sup_gd_1", "孙主管", policies.RoleSupervisor, rules.ProvinceCode})
	}
	for _, w := range wants {
		st, err := CreateStaff(ctx, d, w.username, w.name, w.role, w.region, passwordHash)
		if err != nil {
			return team, err
		}
		if w.role == policies.RoleSupervisor {
			team.Supervisors = append(team.Supervisors, st)
		} else {
			team.Reviewers = append(team.Reviewers, st)
		}
	}
	return team, nil
}

// CreateStaff creates one staff user with its role grant and its audit entry
// in one transaction, as `staff add` does.
func CreateStaff(ctx context.Context, d *db.DB, username, name, role, region, passwordHash string) (Staff, error) {
	var out Staff
	err := d.InTx(ctx, func(tx *db.Tx) error {
		enf, err := policies.NewEnforcer(ctx, tx.Ent)
		if err != nil {
			return err
		}
		key := rules.NormalizeUsername(username)
		if exists, err := tx.Ent.StaffUser.Query().Where(staffuser.UsernameKey(key)).Exist(ctx); err != nil {
			return err
		} else if exists {
			return fmt.Errorf("staff %s already exists", username)
		}
		u, err := tx.Ent.StaffUser.Create().SetUsername(username).SetUsernameKey(key).SetName(name).
			SetPasswordHash(passwordHash).Save(ctx)
		if err != nil {
			return err
		}
		if err := enf.Grant(ctx, policies.Subject(key), role, region); err != nil {
			return err
		}
		out = Staff{ID: u.ID, Username: username, Region: region}
		return audit.Record(ctx, tx, audit.Event{ActorKind: audit.ActorSystem, Actor: string(vocab.SystemSeed), Action: vocab.ActionStaffCreated,
			ObjectType: "staff", ObjectID: key, Detail: map[string]any{"role": role, "region": region}})
	})
	return out, err
}

// LoadStaff returns the staff users with these usernames as Team members of
// the given region (for staff created elsewhere, such as the demo logins).
func LoadStaff(ctx context.Context, d *db.DB, region string, usernames ...string) ([]Staff, error) {
	var out []Staff
	for _, u := range usernames {
		su, err := d.Ent.StaffUser.Query().Where(staffuser.UsernameKey(rules.NormalizeUsername(u))).Only(ctx)
		if err != nil {
			return nil, fmt.Errorf("staff %s: %w", u, err)
		}
		out = append(out, Staff{ID: su.ID, Username: su.Username, Region: region})
	}
	return out, nil
}
