package policies

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/casbin/casbin/v2/model"
	"github.com/casbin/casbin/v2/persist"

	"recoverydesk/ent"
	"recoverydesk/ent/casbinrule"
	"recoverydesk/ent/predicate"
)

// groupingType is the only rule type the database holds: role assignments.
const groupingType = "g"

// Adapter is the Casbin persist.Adapter of recoverydesk, on the ent entity
// CasbinRule (table casbin_rules).
//
// It stores role assignments (g rules) only. Role permissions (p rules) are
// the embedded policy.csv: LoadPolicy adds them from the file on every load
// and every call that would write one returns ErrPermissionsReadOnly. So a
// permission change is a reviewed commit that every instance picks up at
// deploy, and the table never holds a second, diverging copy of the
// permissions that an operator might edit by hand.
//
// It implements the plain and the context-aware (batch) adapter interfaces;
// the plain methods use context.Background.
type Adapter struct {
	client *ent.Client
	perms  [][]string // (role, obj, act) rows of policy.csv
}

var (
	_ persist.Adapter             = (*Adapter)(nil)
	_ persist.BatchAdapter        = (*Adapter)(nil)
	_ persist.ContextAdapter      = (*Adapter)(nil)
	_ persist.ContextBatchAdapter = (*Adapter)(nil)
)

// NewAdapter returns the adapter over client. It parses the embedded
// policy.csv now, so a broken file stops the server at start rather than at
// the first permission check.
func NewAdapter(client *ent.Client) (*Adapter, error) {
	if client == nil {
		return nil, errors.New("policies: nil ent client")
	}
	perms, err := parsePolicy(policyText)
	if err != nil {
		return nil, err
	}
	return &Adapter{client: client, perms: perms}, nil
}

// LoadPolicy loads the permissions of policy.csv and the role assignments of
// the database into m.
func (a *Adapter) LoadPolicy(m model.Model) error {
	return a.LoadPolicyCtx(context.Background(), m)
}

// LoadPolicyCtx loads the permissions of policy.csv and the role assignments
// of the database into m. Database rows of another type than g, and g rows
// that fail validation (unknown role, malformed region or subject, typically
// hand edits), are skipped with a warning: they must not grant anything, and
// one bad row must not take authorisation down for everybody.
func (a *Adapter) LoadPolicyCtx(ctx context.Context, m model.Model) error {
	for _, p := range a.perms {
		if err := persist.LoadPolicyArray(append([]string{"p"}, p...), m); err != nil {
			return fmt.Errorf("load permission %q: %w", p, err)
		}
	}
	rows, err := a.client.CasbinRule.Query().Order(ent.Asc(casbinrule.FieldID)).All(ctx)
	if err != nil {
		return fmt.Errorf("load role assignments: %w", err)
	}
	for _, r := range rows {
		rule := []string{r.V0, r.V1, r.V2}
		if r.Ptype != groupingType || r.V3 != "" || r.V4 != "" || r.V5 != "" {
			slog.WarnContext(ctx, "policies: ignoring casbin_rules row that is not a role assignment",
				"id", r.ID, "ptype", r.Ptype)
			continue
		}
		if err := validateGrouping(rule); err != nil {
			slog.WarnContext(ctx, "policies: ignoring invalid role assignment", "id", r.ID, "err", err)
			continue
		}
		if err := persist.LoadPolicyArray(append([]string{groupingType}, rule...), m); err != nil {
			return fmt.Errorf("load role assignment %d: %w", r.ID, err)
		}
	}
	return nil
}

// SavePolicy replaces the stored role assignments with those of m.
func (a *Adapter) SavePolicy(m model.Model) error {
	return a.SavePolicyCtx(context.Background(), m)
}

// SavePolicyCtx replaces the stored role assignments with the g rules of m,
// in one transaction. The p rules of m are not written: they come from
// policy.csv on every load.
func (a *Adapter) SavePolicyCtx(ctx context.Context, m model.Model) error {
	rules, err := m.GetPolicy("g", groupingType)
	if err != nil {
		return err
	}
	for _, r := range rules {
		if err := validateGrouping(r); err != nil {
			return err
		}
	}
	return a.inTx(ctx, func(c *ent.Client) error {
		if _, err := c.CasbinRule.Delete().Where(casbinrule.Ptype(groupingType)).Exec(ctx); err != nil {
			return fmt.Errorf("clear role assignments: %w", err)
		}
		for _, r := range rules {
			if err := create(ctx, c, r); err != nil {
				return err
			}
		}
		return nil
	})
}

// AddPolicy stores one role assignment.
func (a *Adapter) AddPolicy(sec, ptype string, rule []string) error {
	return a.AddPolicyCtx(context.Background(), sec, ptype, rule)
}

// AddPolicyCtx stores one role assignment. Storing one that is already there
// is not an error: several instances may add the same grant, and the stored
// state is what was asked for.
func (a *Adapter) AddPolicyCtx(ctx context.Context, sec, ptype string, rule []string) error {
	_, err := a.addRule(ctx, ptype, rule)
	return err
}

// AddPolicies stores several role assignments at once.
func (a *Adapter) AddPolicies(sec, ptype string, rules [][]string) error {
	return a.AddPoliciesCtx(context.Background(), sec, ptype, rules)
}

// AddPoliciesCtx stores several role assignments in one transaction: all of
// them or none. Those already stored are skipped.
func (a *Adapter) AddPoliciesCtx(ctx context.Context, sec, ptype string, rules [][]string) error {
	for _, r := range rules {
		if err := checkWritable(ptype, r); err != nil {
			return err
		}
	}
	return a.inTx(ctx, func(c *ent.Client) error {
		for _, r := range rules {
			exists, err := c.CasbinRule.Query().Where(ruleIs(r)).Exist(ctx)
			if err != nil {
				return fmt.Errorf("look up role assignment: %w", err)
			}
			if exists {
				continue
			}
			if err := create(ctx, c, r); err != nil {
				return err
			}
		}
		return nil
	})
}

// RemovePolicy deletes one role assignment.
func (a *Adapter) RemovePolicy(sec, ptype string, rule []string) error {
	return a.RemovePolicyCtx(context.Background(), sec, ptype, rule)
}

// RemovePolicyCtx deletes one role assignment; deleting one that is not
// stored is not an error (another instance may have deleted it first).
func (a *Adapter) RemovePolicyCtx(ctx context.Context, sec, ptype string, rule []string) error {
	_, err := a.removeRule(ctx, ptype, rule)
	return err
}

// RemovePolicies deletes several role assignments at once.
func (a *Adapter) RemovePolicies(sec, ptype string, rules [][]string) error {
	return a.RemovePoliciesCtx(context.Background(), sec, ptype, rules)
}

// RemovePoliciesCtx deletes several role assignments in one transaction.
func (a *Adapter) RemovePoliciesCtx(ctx context.Context, sec, ptype string, rules [][]string) error {
	if ptype != groupingType {
		return ErrPermissionsReadOnly
	}
	return a.inTx(ctx, func(c *ent.Client) error {
		for _, r := range rules {
			if len(r) > 6 {
				return fmt.Errorf("rule %q: more than 6 fields", r)
			}
			if _, err := c.CasbinRule.Delete().Where(ruleIs(r)).Exec(ctx); err != nil {
				return fmt.Errorf("delete role assignment: %w", err)
			}
		}
		return nil
	})
}

// RemoveFilteredPolicy deletes the role assignments matching a filter.
func (a *Adapter) RemoveFilteredPolicy(sec, ptype string, fieldIndex int, fieldValues ...string) error {
	return a.RemoveFilteredPolicyCtx(context.Background(), sec, ptype, fieldIndex, fieldValues...)
}

// RemoveFilteredPolicyCtx deletes the role assignments whose field
// fieldIndex+i equals fieldValues[i] for every non-empty value (Casbin's
// filter semantics: an empty value matches anything). Unlike Casbin's file
// adapter it refuses a filter without any non-empty value, which would
// revoke every role of every user.
func (a *Adapter) RemoveFilteredPolicyCtx(ctx context.Context, sec, ptype string, fieldIndex int, fieldValues ...string) error {
	_, err := a.removeFiltered(ctx, ptype, fieldIndex, fieldValues...)
	return err
}

// addRule stores rule unless it is there and reports whether it added it.
func (a *Adapter) addRule(ctx context.Context, ptype string, rule []string) (bool, error) {
	if err := checkWritable(ptype, rule); err != nil {
		return false, err
	}
	exists, err := a.client.CasbinRule.Query().Where(ruleIs(rule)).Exist(ctx)
	if err != nil {
		return false, fmt.Errorf("look up role assignment: %w", err)
	}
	if exists {
		return false, nil
	}
	err = create(ctx, a.client, rule)
	if ent.IsConstraintError(err) {
		return false, nil // added concurrently by someone else
	}
	return err == nil, err
}

// removeRule deletes rule and reports whether it was stored.
func (a *Adapter) removeRule(ctx context.Context, ptype string, rule []string) (bool, error) {
	if ptype != groupingType {
		return false, ErrPermissionsReadOnly
	}
	if len(rule) > 6 {
		return false, fmt.Errorf("rule %q: more than 6 fields", rule)
	}
	n, err := a.client.CasbinRule.Delete().Where(ruleIs(rule)).Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("delete role assignment: %w", err)
	}
	return n > 0, nil
}

// removeFiltered implements RemoveFilteredPolicyCtx and reports how many
// rows it deleted.
func (a *Adapter) removeFiltered(ctx context.Context, ptype string, fieldIndex int, fieldValues ...string) (int, error) {
	if ptype != groupingType {
		return 0, ErrPermissionsReadOnly
	}
	if fieldIndex < 0 || fieldIndex+len(fieldValues) > 6 {
		return 0, fmt.Errorf("filter fields %d..%d: out of range", fieldIndex, fieldIndex+len(fieldValues)-1)
	}
	preds := []predicate.CasbinRule{casbinrule.Ptype(groupingType)}
	for i, v := range fieldValues {
		if v != "" {
			preds = append(preds, fieldIs(fieldIndex+i, v))
		}
	}
	if len(preds) == 1 {
		return 0, errors.New("refusing to remove role assignments with an empty filter")
	}
	n, err := a.client.CasbinRule.Delete().Where(preds...).Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("delete role assignments: %w", err)
	}
	return n, nil
}

// inTx runs fn on a client bound to one transaction, committing when fn
// succeeds.
func (a *Adapter) inTx(ctx context.Context, fn func(*ent.Client) error) error {
	tx, err := a.client.Tx(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx.Client()); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// checkWritable refuses p rules and g rules that LoadPolicy would ignore.
func checkWritable(ptype string, rule []string) error {
	if ptype != groupingType {
		return ErrPermissionsReadOnly
	}
	return validateGrouping(rule)
}

// create inserts the g rule.
func create(ctx context.Context, c *ent.Client, rule []string) error {
	v := pad(rule)
	err := c.CasbinRule.Create().SetPtype(groupingType).
		SetV0(v[0]).SetV1(v[1]).SetV2(v[2]).SetV3(v[3]).SetV4(v[4]).SetV5(v[5]).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("store role assignment: %w", err)
	}
	return nil
}

// ruleIs matches the stored g row equal to rule, all six fields compared
// (missing ones as empty strings), as the unique index does.
func ruleIs(rule []string) predicate.CasbinRule {
	v := pad(rule)
	preds := []predicate.CasbinRule{casbinrule.Ptype(groupingType)}
	for i := range v {
		preds = append(preds, fieldIs(i, v[i]))
	}
	return casbinrule.And(preds...)
}

// fieldIs matches column v<i> equal to value.
func fieldIs(i int, value string) predicate.CasbinRule {
	switch i {
	case 0:
		return casbinrule.V0(value)
	case 1:
		return casbinrule.V1(value)
	case 2:
		return casbinrule.V2(value)
	case 3:
		return casbinrule.V3(value)
	case 4:
		return casbinrule.V4(value)
	default:
		return casbinrule.V5(value)
	}
}

// pad returns the rule's six stored fields.
func pad(rule []string) [6]string {
	var v [6]string
	copy(v[:], rule)
	return v
}
