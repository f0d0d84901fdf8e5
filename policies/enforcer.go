package policies

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/model"

	"recoverydesk/ent"
	"recoverydesk/ent/staffuser"
	"recoverydesk/internal/rules"
)

// Grant is one role held by a staff user, with the region prefix it covers.
type Grant struct {
	Role, Region string
}

// Enforcer answers permission questions for the console and changes role
// assignments. It is safe for concurrent use.
//
// Each load builds a complete Casbin enforcer from the embedded model and
// policy and the database's role assignments, then swaps it in atomically:
// checks never wait for the database and never see a half-loaded state.
// Grant and Revoke write the database first and then reload everything,
// rather than patching the in-memory rules. That keeps the database the one
// truth when several instances share it (an instance whose copy is stale
// cannot skip a write because it believes the rule is already there), and it
// sidesteps Casbin's incremental link removal under a domain matching
// function, which can drop a link that a second, overlapping grant still
// justifies (reviewer at 44 and at 4407, revoke 44).
type Enforcer struct {
	client  *ent.Client
	adapter *Adapter
	mu      sync.Mutex // serialises loads so an older snapshot never replaces a newer one
	cur     atomic.Pointer[casbin.Enforcer]
}

// NewEnforcer loads the model, the role permissions and the role assignments
// stored through client, and returns an Enforcer ready to answer. It fails
// when the embedded files are broken or the database cannot be read, so a
// server never starts with no or partial rules.
func NewEnforcer(ctx context.Context, client *ent.Client) (*Enforcer, error) {
	a, err := NewAdapter(client)
	if err != nil {
		return nil, err
	}
	e := &Enforcer{client: client, adapter: a}
	if err := e.Reload(ctx); err != nil {
		return nil, err
	}
	return e, nil
}

// regionCovers is the domain matching function of g: a grant at region
// prefix granted covers every requested region that starts with it. Casbin
// calls it with the requested domain first and the stored one second.
func regionCovers(requested, granted string) bool {
	return rules.RegionCovers(granted, requested)
}

// load builds a fresh Casbin enforcer from the embedded files and the
// database.
func (e *Enforcer) load(ctx context.Context) (*casbin.Enforcer, error) {
	m, err := model.NewModelFromString(modelText)
	if err != nil {
		return nil, fmt.Errorf("policies: model.conf: %w", err)
	}
	ce, err := casbin.NewEnforcer(m)
	if err != nil {
		return nil, fmt.Errorf("policies: new enforcer: %w", err)
	}
	ce.AddNamedDomainMatchingFunc("g", "regionCovers", regionCovers)
	if err := e.adapter.LoadPolicyCtx(ctx, ce.GetModel()); err != nil {
		return nil, fmt.Errorf("policies: %w", err)
	}
	if err := ce.BuildRoleLinks(); err != nil {
		return nil, fmt.Errorf("policies: build role links: %w", err)
	}
	return ce, nil
}

// Reload re-reads the role assignments from the database and puts them in
// force. Several instances share the database, so each must reload to see
// the grants and revocations made by the others; StartAutoReload does it
// periodically. On error the previous rules stay in force.
func (e *Enforcer) Reload(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.reloadLocked(ctx)
}

func (e *Enforcer) reloadLocked(ctx context.Context) error {
	ce, err := e.load(ctx)
	if err != nil {
		return err
	}
	e.cur.Store(ce)
	return nil
}

// StartAutoReload reloads the rules every interval (5 s when every <= 0)
// until ctx is done, so a grant or revocation made on any instance is in
// force on this one within one interval. A failed reload is logged and the
// previous rules stay in force until the next success.
func (e *Enforcer) StartAutoReload(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = 5 * time.Second
	}
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := e.Reload(ctx); err != nil && ctx.Err() == nil {
					slog.WarnContext(ctx, "policies: reload failed; previous rules stay in force", "err", err)
				}
			}
		}
	}()
}

// Allowed reports whether subject may do act on obj for something in region
// (a case's region code such as 440703, or a city or province code). The
// error reports a malformed subject or region, which is a programming error
// in the caller and must not be mistaken for a plain "no".
func (e *Enforcer) Allowed(subject, region, obj, act string) (bool, error) {
	if err := validateSubject(subject); err != nil {
		return false, err
	}
	if !regionShape(region) {
		return false, fmt.Errorf("%w %q", ErrInvalidRegion, region)
	}
	ok, err := e.cur.Load().Enforce(subject, region, obj, act)
	if err != nil {
		return false, fmt.Errorf("policies: enforce: %w", err)
	}
	return ok, nil
}

// Regions returns the region prefixes under which subject holds (obj, act),
// minimal and sorted: a prefix covered by a shorter one in the set is left
// out, so a holder at 44 gets just ["44"]. The case queue filters with
// region_code LIKE prefix||'%' for each (prefixes are digits only, no LIKE
// wildcard to escape). Empty when the subject holds it nowhere.
func (e *Enforcer) Regions(subject, obj, act string) []string {
	if validateSubject(subject) != nil {
		return nil
	}
	ce := e.cur.Load()
	grants, err := ce.GetFilteredGroupingPolicy(0, subject)
	if err != nil {
		return nil
	}
	var regions []string
	for _, g := range grants {
		// Ask the matcher rather than policy.csv directly, so Regions can
		// never disagree with Allowed.
		if ok, err := ce.Enforce(subject, g[2], obj, act); err == nil && ok {
			regions = append(regions, g[2])
		}
	}
	return minimalPrefixes(regions)
}

// minimalPrefixes drops duplicates and every entry that has a shorter
// prefix in the set, and sorts the rest.
func minimalPrefixes(regions []string) []string {
	slices.Sort(regions)
	regions = slices.Compact(regions)
	var out []string
	for _, r := range regions {
		// Sorted order puts a prefix right before the codes it covers, so
		// comparing with the last kept entry suffices.
		if len(out) > 0 && strings.HasPrefix(r, out[len(out)-1]) {
			continue
		}
		out = append(out, r)
	}
	return out
}

// AllowedAnywhere reports whether subject holds (obj, act) in at least one
// region. Route middleware uses it to let a request reach a handler, which
// then checks the case's own region with Allowed or filters by Regions.
func (e *Enforcer) AllowedAnywhere(subject, obj, act string) bool {
	if validateSubject(subject) != nil {
		return false
	}
	ce := e.cur.Load()
	grants, err := ce.GetFilteredGroupingPolicy(0, subject)
	if err != nil {
		return false
	}
	for _, g := range grants {
		if ok, err := ce.Enforce(subject, g[2], obj, act); err == nil && ok {
			return true
		}
	}
	return false
}

// RolesOf lists the grants of subject, sorted by role and region, as in
// force on this instance.
func (e *Enforcer) RolesOf(subject string) []Grant {
	rules, err := e.cur.Load().GetFilteredGroupingPolicy(0, subject)
	if err != nil {
		return nil
	}
	out := make([]Grant, 0, len(rules))
	for _, r := range rules {
		out = append(out, Grant{Role: r[1], Region: r[2]})
	}
	slices.SortFunc(out, func(a, b Grant) int {
		if c := strings.Compare(a.Role, b.Role); c != 0 {
			return c
		}
		return strings.Compare(a.Region, b.Region)
	})
	return out
}

// Grant gives subject role within region, stores it, and puts it in force on
// this instance at once (other instances on their next Reload). The subject
// must be an existing staff user; role and region must pass ValidateGrant.
// Granting what is already stored returns ErrAlreadyGranted.
func (e *Enforcer) Grant(ctx context.Context, subject, role, region string) error {
	if err := validateSubject(subject); err != nil {
		return err
	}
	if err := ValidateGrant(role, region); err != nil {
		return err
	}
	key := strings.TrimPrefix(subject, subjectPrefix)
	exists, err := e.client.StaffUser.Query().Where(staffuser.UsernameKey(key)).Exist(ctx)
	if err != nil {
		return fmt.Errorf("grant %s %s@%s: look up staff: %w", subject, role, region, err)
	}
	if !exists {
		return fmt.Errorf("grant %s %s@%s: %w", subject, role, region, ErrUnknownStaff)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	added, err := e.adapter.addRule(ctx, groupingType, []string{subject, role, region})
	if err != nil {
		return fmt.Errorf("grant %s %s@%s: %w", subject, role, region, err)
	}
	if err := e.reloadLocked(ctx); err != nil {
		return fmt.Errorf("grant %s %s@%s stored, but reloading the rules failed: %w", subject, role, region, err)
	}
	if !added {
		return fmt.Errorf("grant %s %s@%s: %w", subject, role, region, ErrAlreadyGranted)
	}
	return nil
}

// Revoke takes role within region away from subject, deletes it from the
// database, and ends it on this instance at once (other instances on their
// next Reload). Only the exact grant is revoked: revoking reviewer@44 leaves
// reviewer@4407 in force. Revoking a grant that is not stored returns
// ErrNoSuchGrant.
func (e *Enforcer) Revoke(ctx context.Context, subject, role, region string) error {
	if err := validateSubject(subject); err != nil {
		return err
	}
	if err := ValidateGrant(role, region); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	removed, err := e.adapter.removeRule(ctx, groupingType, []string{subject, role, region})
	if err != nil {
		return fmt.Errorf("revoke %s %s@%s: %w", subject, role, region, err)
	}
	if err := e.reloadLocked(ctx); err != nil {
		return fmt.Errorf("revoke %s %s@%s stored, but reloading the rules failed: %w", subject, role, region, err)
	}
	if !removed {
		return fmt.Errorf("revoke %s %s@%s: %w", subject, role, region, ErrNoSuchGrant)
	}
	return nil
}

// RevokeAll takes every role away from subject and reports how many grants
// it removed. Call it when a staff user is deleted, so that a later user
// with the same username does not inherit the roles.
func (e *Enforcer) RevokeAll(ctx context.Context, subject string) (int, error) {
	if err := validateSubject(subject); err != nil {
		return 0, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	n, err := e.adapter.removeFiltered(ctx, groupingType, 0, subject)
	if err != nil {
		return 0, fmt.Errorf("revoke all of %s: %w", subject, err)
	}
	if err := e.reloadLocked(ctx); err != nil {
		return n, fmt.Errorf("revoke all of %s stored, but reloading the rules failed: %w", subject, err)
	}
	return n, nil
}
