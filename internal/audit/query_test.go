package audit_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"recoverydesk/ent"
	"recoverydesk/ent/auditevent"
	"recoverydesk/internal/apperr"
	"recoverydesk/internal/audit"
	"recoverydesk/internal/clock"
	"recoverydesk/internal/db"
	"recoverydesk/internal/rules"
	"recoverydesk/internal/testenv"
)

// record appends one entry in its own transaction and returns its id.
func record(t *testing.T, d *db.DB, e audit.Event) int {
	t.Helper()
	ctx := context.Background()
	if err := d.InTx(ctx, func(tx *db.Tx) error { return audit.Record(ctx, tx, e) }); err != nil {
		t.Fatal(err)
	}
	return d.Ent.AuditEvent.Query().Order(ent.Desc(auditevent.FieldID)).FirstIDX(ctx)
}

// logFixture is a small log: two staff users, an applicant, a case under
// its uuid and under its number, over three days in Shanghai time.
type logFixture struct {
	d                 *db.DB
	number            string
	caseIDs, staffIDs []int // entries of the case; entries of staff user Gd_Super
	day1, day2, day3  []int // entries per Shanghai day
	all               []int
}

func newLogFixture(t *testing.T) *logFixture {
	t.Helper()
	ctx := context.Background()
	d := testenv.SQLite(t)
	f := &logFixture{d: d, number: "ZH20260315000001"}
	acc := d.Ent.Account.Create().SetKind("person").SetUsername("Zhang_san").SetUsernameKey("zhang_san").
		SetPasswordHash("x").SetName("张三").SetCertType("id_card").SetCertNumber("440703199001011234").
		SetPhone("13812341234").SaveX(ctx)
	rc := d.Ent.RecoveryCase.Create().SetKind("person").SetRegionCode("440703").SetTypedCertType("id_card").
		SetTypedCertNumber("440703199001011234").SetTokenHash([]byte{1}).SetAccount(acc).SaveX(ctx)
	d.Ent.StaffUser.Create().SetUsername("Gd_Super").SetUsernameKey("gd_super").SetName("主管").SetPasswordHash("x").ExecX(ctx)
	// 23:30 CST on 14 March is 15:30 UTC: it belongs to the 14th in Shanghai.
	d1 := time.Date(2026, 3, 14, 23, 30, 0, 0, rules.Shanghai)
	d2 := time.Date(2026, 3, 15, 0, 10, 0, 0, rules.Shanghai)
	d3 := time.Date(2026, 3, 16, 9, 0, 0, 0, rules.Shanghai)
	add := func(at time.Time, e audit.Event, day *[]int) int {
		e.At = at
		id := record(t, d, e)
		*day = append(*day, id)
		f.all = append(f.all, id)
		return id
	}
	add(d1, audit.Event{ActorKind: audit.ActorApplicant, Actor: "applicant", Action: "recovery.created",
		ObjectType: "case", ObjectID: rc.ID.String(), Detail: map[string]any{"kind": "person"}}, &f.day1)
	f.caseIDs = append(f.caseIDs, f.all[len(f.all)-1])
	add(d1, audit.Event{ActorKind: audit.ActorApplicant, Actor: "13812341234", Action: "sms_code.sent",
		ObjectType: "phone", ObjectID: "13812341234", Detail: map[string]any{"purpose": "recovery"}}, &f.day1)
	f.caseIDs = append(f.caseIDs, add(d2, audit.Event{ActorKind: audit.ActorStaff, Actor: "staff:Gd_Super", Action: "recovery.claimed",
		ObjectType: "case", ObjectID: rc.ID.String()}, &f.day2))
	f.staffIDs = append(f.staffIDs, f.caseIDs[len(f.caseIDs)-1])
	f.caseIDs = append(f.caseIDs, add(d2, audit.Event{ActorKind: audit.ActorStaff, Actor: "Gd_Super", Action: "evidence.viewed",
		ObjectType: "case", ObjectID: f.number, Detail: map[string]any{"kind": "id_front"}}, &f.day2))
	f.staffIDs = append(f.staffIDs, f.caseIDs[len(f.caseIDs)-1])
	f.staffIDs = append(f.staffIDs, add(d3, audit.Event{ActorKind: audit.ActorStaff, Actor: "gd_super", Action: "staff.login.success",
		ObjectType: "staff", ObjectID: "gd_super"}, &f.day3))
	add(d3, audit.Event{ActorKind: audit.ActorStaff, Actor: "jm_reviewer", Action: "evidence.viewed",
		ObjectType: "case", ObjectID: "ZH20260316000009"}, &f.day3)
	for i := 0; i < 3; i++ {
		add(d3, audit.Event{ActorKind: audit.ActorStaff, Actor: "jm_reviewer", Action: "staff.login.failure",
			ObjectType: "staff", ObjectID: "jm_reviewer"}, &f.day3)
	}
	// The number is given at submission, after the first entries.
	rc.Update().SetCaseNumber(f.number).ExecX(ctx)
	return f
}

// ids pages through the search with the given page size and returns the
// ids in the order shown, failing on a repeated id.
func ids(t *testing.T, d *db.DB, f audit.Filter, size int) []int {
	t.Helper()
	f.Limit = size
	var out []int
	for pages := 0; ; pages++ {
		p, err := audit.Search(context.Background(), d, f)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Rows) > size || (p.Next != "" && len(p.Rows) != size) {
			t.Fatalf("page of %d rows with next %q (size %d)", len(p.Rows), p.Next, size)
		}
		for _, r := range p.Rows {
			if slices.Contains(out, r.ID) {
				t.Fatalf("entry %d shown twice", r.ID)
			}
			out = append(out, r.ID)
		}
		if p.Next == "" {
			return out
		}
		f.After = p.Next
		if pages > 100 {
			t.Fatal("paging does not end")
		}
	}
}

// newestFirst is want in descending id order.
func newestFirst(want []int) []int {
	w := slices.Clone(want)
	slices.Sort(w)
	slices.Reverse(w)
	return w
}

func TestSearchFiltersEachNarrowTheLog(t *testing.T) {
	f := newLogFixture(t)
	for _, tc := range []struct {
		name   string
		filter audit.Filter
		want   []int
	}{
		{"everything", audit.Filter{}, f.all},
		// Staff entries carry the username, its key or "staff:"+username.
		{"staff in any case", audit.Filter{Staff: "GD_SUPER"}, f.staffIDs},
		{"unknown staff", audit.Filter{Staff: "nobody"}, nil},
		{"exact action", audit.Filter{Action: "evidence.viewed"}, []int{f.all[3], f.all[5]}},
		{"action prefix", audit.Filter{Action: "staff.*"}, append([]int{f.staffIDs[2]}, f.all[6:]...)},
		// The uuid entries from before the case had its number count too.
		{"case number", audit.Filter{Case: "zh20260315000001"}, f.caseIDs},
		{"unknown case", audit.Filter{Case: "ZH20990101000001"}, nil},
		{"one Shanghai day", audit.Filter{From: "2026-03-14", To: "2026-03-14"}, f.day1},
		{"from a day on", audit.Filter{From: "2026-03-15"}, append(slices.Clone(f.day2), f.day3...)},
		{"up to a day", audit.Filter{To: "2026-03-15"}, append(slices.Clone(f.day1), f.day2...)},
		{"combined", audit.Filter{Staff: "gd_super", Case: "ZH20260315000001", From: "2026-03-15", To: "2026-03-15"}, f.day2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ids(t, f.d, tc.filter, 50)
			if want := newestFirst(tc.want); !slices.Equal(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
		})
	}
}

func TestSearchKeysetPagesShowEveryEntryOnceNewestFirst(t *testing.T) {
	f := newLogFixture(t)
	for _, size := range []int{1, 2, 3, 4, len(f.all), len(f.all) + 1} {
		if got, want := ids(t, f.d, audit.Filter{}, size), newestFirst(f.all); !slices.Equal(got, want) {
			t.Fatalf("page size %d: got %v, want %v", size, got, want)
		}
	}
	// An entry appended while someone pages does not shift the later pages.
	ctx := context.Background()
	p1, err := audit.Search(ctx, f.d, audit.Filter{Limit: 4})
	if err != nil {
		t.Fatal(err)
	}
	record(t, f.d, audit.Event{ActorKind: audit.ActorSystem, Actor: "system", Action: "recovery.expired"})
	p2, err := audit.Search(ctx, f.d, audit.Filter{Limit: 4, After: p1.Next})
	if err != nil {
		t.Fatal(err)
	}
	if p2.Rows[0].ID != newestFirst(f.all)[4] {
		t.Fatalf("second page starts at %d, want %d", p2.Rows[0].ID, newestFirst(f.all)[4])
	}
}

func TestSearchMasksAndLabels(t *testing.T) {
	f := newLogFixture(t)
	p, err := audit.Search(context.Background(), f.d, audit.Filter{Action: "sms_code.sent"})
	if err != nil || len(p.Rows) != 1 {
		t.Fatalf("%v %v", p, err)
	}
	r := p.Rows[0]
	if r.Actor != "138****1234" || r.ObjectID != "138****1234" || r.Detail != "用途：密码找回验证码" || r.ActionLabel != "发送短信验证码" {
		t.Fatalf("row %+v", r)
	}
	if got := audit.ActionLabel("qa.something_new"); got != "qa.something_new" {
		t.Fatalf("unknown action label %q", got)
	}
}

func TestSearchRefusesBadDatesAndCursors(t *testing.T) {
	f := newLogFixture(t)
	ctx := context.Background()
	for _, tc := range []struct {
		filter audit.Filter
		want   *apperr.Error
		field  string
	}{
		{audit.Filter{From: "2026/03/15"}, audit.ErrBadDate, "from"},
		{audit.Filter{To: "yesterday"}, audit.ErrBadDate, "to"},
		{audit.Filter{From: "2026-03-16", To: "2026-03-15"}, audit.ErrBadRange, "to"},
		{audit.Filter{After: "abc"}, audit.ErrBadCursor, ""},
		{audit.Filter{After: "-3"}, audit.ErrBadCursor, ""},
	} {
		_, err := audit.Search(ctx, f.d, tc.filter)
		e, ok := apperr.As(err)
		if !errors.Is(err, tc.want) || !ok || e.Field != tc.field {
			t.Errorf("%+v: got %v, want %v on %q", tc.filter, err, tc.want, tc.field)
		}
	}
}

func TestExportIsRecordedFirstWithItsRowCountAndStreamsExactlyThoseRows(t *testing.T) {
	f := newLogFixture(t)
	ctx := context.Background()
	clk := clock.NewAdjustable()
	filter := audit.Filter{Staff: "gd_super"}
	x, err := audit.StartExport(ctx, f.d, clk, filter, "gd_super")
	if err != nil {
		t.Fatal(err)
	}
	// Recorded before a single row was read.
	rec := f.d.Ent.AuditEvent.Query().Where(auditevent.Action("audit.exported")).OnlyX(ctx)
	if rec.Actor != "gd_super" || rec.ActorKind != string(audit.ActorStaff) || rec.Detail["staff"] != "gd_super" ||
		rec.Detail["rows"] != float64(len(f.staffIDs)) {
		t.Fatalf("export record %+v", rec)
	}
	// Appended after the start: not part of this export.
	record(t, f.d, audit.Event{ActorKind: audit.ActorStaff, Actor: "gd_super", Action: "staff.login.success"})
	var got []int
	if err := x.Each(ctx, func(r audit.Row) error { got = append(got, r.ID); return nil }); err != nil {
		t.Fatal(err)
	}
	if want := newestFirst(f.staffIDs); !slices.Equal(got, want) || x.Rows != len(want) {
		t.Fatalf("exported %v (Rows %d), want %v", got, x.Rows, want)
	}
	if n := f.d.Ent.AuditEvent.Query().Where(auditevent.Action("audit.export_interrupted")).CountX(ctx); n != 0 {
		t.Fatalf("%d interruptions recorded for a complete export", n)
	}
}

func TestExportThatBreaksMidwayIsRecordedAsInterrupted(t *testing.T) {
	f := newLogFixture(t)
	ctx := context.Background()
	x, err := audit.StartExport(ctx, f.d, clock.NewAdjustable(), audit.Filter{}, "gd_super")
	if err != nil {
		t.Fatal(err)
	}
	gone := errors.New("client went away")
	n := 0
	err = x.Each(ctx, func(audit.Row) error {
		if n == 2 {
			return gone
		}
		n++
		return nil
	})
	if !errors.Is(err, gone) {
		t.Fatalf("Each: %v", err)
	}
	started := f.d.Ent.AuditEvent.Query().Where(auditevent.Action("audit.exported")).OnlyX(ctx)
	broke := f.d.Ent.AuditEvent.Query().Where(auditevent.Action("audit.export_interrupted")).OnlyX(ctx)
	if started.Detail["rows"] != float64(len(f.all)) || broke.Detail["written"] != float64(2) || broke.Actor != "gd_super" {
		t.Fatalf("started %v, interrupted %v", started.Detail, broke.Detail)
	}
	if broke.Detail["upto"] != started.Detail["upto"] || started.Detail["upto"] != float64(f.all[len(f.all)-1]) {
		t.Fatalf("upto: started %v, interrupted %v, last entry %d", started.Detail["upto"], broke.Detail["upto"], f.all[len(f.all)-1])
	}
}
