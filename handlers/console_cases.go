package handlers

import (
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"recoverydesk/internal/recovery"
	"recoverydesk/internal/rules"
	"recoverydesk/internal/vocab"
	"recoverydesk/policies"
)

// reviewer is the signed-in staff user with the regions where they hold perm.
func (s *Server) reviewer(c *fiber.Ctx, perm policies.Permission) recovery.Reviewer {
	u := signedInStaff(c)
	return recovery.Reviewer{ID: u.ID, Username: u.Username,
		Regions: s.deps.Enforcer.Regions(policies.Subject(u.UsernameKey), perm.Obj, perm.Act)}
}

// queueView is the queue page's data.
type queueView struct {
	Tab     string
	Tabs    []queueTab
	Filter  recovery.QueueFilter
	Rows    []recovery.QueueRow
	Next    string
	Cities  []rules.Region // the cities of the viewer's regions
	Decided string         // the confirmation of the decision just made (decidedNotice)
	// CanBulk: the viewer may reassign or release many cases at once (the
	// rows get checkboxes and the page a bulk form).
	CanBulk bool
	// Here is this page's address, where the bulk form returns to.
	Here string
}

// Pager links the queue's pages, keeping the tab and the filters.
func (v queueView) Pager() pager {
	f := v.Filter
	return pageLinks("/console/cases", []param{{"tab", v.Tab}, {"kind", f.Kind}, {"city", f.City},
		{"district", f.District}, {"sla", f.SLA}, {"q", f.Search}}, f.After, v.Next)
}

// queueTab is one tab with its label and count ("999+" past the cap).
type queueTab struct {
	Key, Label string
	Count      string
	Active     bool
}

var tabLabels = map[string]string{
	recovery.TabPending: "待审核", recovery.TabMine: "我的", recovery.TabReturned: "已退回", recovery.TabDone: "已完成",
	recovery.TabDueSoon: vocab.SLADueSoon.Label(), recovery.TabOverdue: vocab.SLAOverdue.Label(),
}

// tabLabel is a tab's label. With auto-assignment the pending cases are the
// ones nobody could be given yet: the tab says 待分配.
func (s *Server) tabLabel(tab string) string {
	if tab == recovery.TabPending && s.deps.Recovery.AutoAssign() {
		return "待分配"
	}
	return tabLabels[tab]
}

// queuePage is /console/cases: the cases of the reviewer's regions.
func (s *Server) queuePage(c *fiber.Ctx) error {
	f := recovery.QueueFilter{Tab: c.Query("tab", recovery.TabPending), Kind: c.Query("kind"), City: c.Query("city"),
		District: c.Query("district"), SLA: c.Query("sla"), Search: strings.TrimSpace(c.Query("q")), After: c.Query("after")}
	f = cloneFilter(f)
	if _, known := tabLabels[f.Tab]; !known {
		f.Tab = recovery.TabPending
	}
	rv := s.reviewer(c, policies.PermCaseList)
	if number := recovery.ExactCaseNumber(f.Search); number != "" {
		// A whole case number opens the case when the reviewer may see it;
		// otherwise the (empty) list says nothing matched.
		if _, err := s.deps.Recovery.CaseFor(c.UserContext(), rv, number); err == nil {
			return c.Redirect("/console/cases/"+url.PathEscape(number), fiber.StatusSeeOther)
		}
	}
	page, err := s.deps.Recovery.Queue(c.UserContext(), rv, f)
	if err != nil {
		return err
	}
	v := queueView{Tab: f.Tab, Filter: f, Rows: page.Rows, Next: page.Next, Cities: rv.Cities(),
		Decided: s.decidedNotice(c, c.Query("decided")),
		CanBulk: len(s.reviewer(c, policies.PermCaseBulkAssign).Regions) > 0,
		Here:    "/console/cases?" + string(c.Request().URI().QueryString())}
	flash, err := s.takeConsoleFlash(c)
	if err != nil {
		return err
	}
	for _, t := range recovery.Tabs {
		v.Tabs = append(v.Tabs, queueTab{Key: t, Label: s.tabLabel(t), Count: page.CountLabel(t), Active: t == f.Tab})
	}
	return render(c, fiber.StatusOK, "console/cases", layoutConsole,
		Page{Title: "审核队列", Nav: "cases", Staff: s.staffView(c), Flash: flash, Data: v})
}

// cloneFilter copies Fiber's zero-copy query strings before they outlive the handler.
func cloneFilter(f recovery.QueueFilter) recovery.QueueFilter {
	f.Tab, f.Kind, f.City, f.District = strings.Clone(f.Tab), strings.Clone(f.Kind), strings.Clone(f.City), strings.Clone(f.District)
	f.SLA, f.Search, f.After = strings.Clone(f.SLA), strings.Clone(f.Search), strings.Clone(f.After)
	return f
}
