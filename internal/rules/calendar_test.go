package rules_test

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"recoverydesk/internal/rules"
)

// at is a Shanghai wall-clock instant.
func at(y int, m time.Month, d, hh, mm int) time.Time {
	return time.Date(y, m, d, hh, mm, 0, 0, rules.Shanghai)
}

func date(y int, m time.Month, d int) time.Time { return at(y, m, d, 0, 0) }

// quietCalendar is a calendar whose warnings go to buf.
func quietCalendar(buf *bytes.Buffer, opts ...rules.CalendarOption) *rules.Calendar {
	l := slog.New(slog.NewTextHandler(buf, nil))
	return rules.NewCalendar(append([]rules.CalendarOption{rules.WithLogger(l)}, opts...)...)
}

func TestIsWorkday(t *testing.T) {
	var logs bytes.Buffer
	c := quietCalendar(&logs)
	tests := []struct {
		name string
		day  time.Time
		want bool
	}{
		{"ordinary Wednesday", date(2026, 3, 11), true},
		{"ordinary Saturday", date(2026, 3, 14), false},
		{"ordinary Sunday", date(2026, 3, 15), false},
		{"National Day 2025 (Wednesday)", date(2025, 10, 1), false},
		{"last day of the 2025 break (Wednesday)", date(2025, 10, 8), false},
		{"first day back (Thursday)", date(2025, 10, 9), true},
		{"make-up Sunday 28 Sept 2025", date(2025, 9, 28), true},
		{"make-up Saturday 11 Oct 2025", date(2025, 10, 11), true},
		{"Sunday after the make-up Saturday", date(2025, 10, 12), false},
		{"New Year 2026 (Thursday)", date(2026, 1, 1), false},
		{"make-up Sunday 4 Jan 2026", date(2026, 1, 4), true},
		{"Spring Festival 2026 (Monday 16 Feb)", date(2026, 2, 16), false},
		{"Spring Festival make-up Saturday 14 Feb 2026", date(2026, 2, 14), true},
		{"Spring Festival make-up Saturday 28 Feb 2026", date(2026, 2, 28), true},
		{"Labour Day 2025 (Monday 5 May)", date(2025, 5, 5), false},
		{"Dragon Boat 2025 (Monday 2 June)", date(2025, 6, 2), false},
		// The date that counts is Shanghai's: 17:00 UTC on 30 Sept is already
		// 1 October there.
		{"UTC evening before a holiday", time.Date(2025, 9, 30, 17, 0, 0, 0, time.UTC), false},
		{"16:30 UTC on 8 Oct is already 9 Oct in Shanghai", time.Date(2025, 10, 8, 16, 30, 0, 0, time.UTC), true},
	}
	for _, tt := range tests {
		if got := c.IsWorkday(tt.day); got != tt.want {
			t.Errorf("%s: IsWorkday(%v) = %v, want %v", tt.name, tt.day, got, tt.want)
		}
	}
	if logs.Len() != 0 {
		t.Errorf("years with data logged warnings: %s", logs.String())
	}
}

func TestWorkingDaysIn2025(t *testing.T) {
	// 261 weekdays − 18 weekday holidays (1 Jan; 28–31 Jan, 3–4 Feb; 4 Apr;
	// 1, 2, 5 May; 2 Jun; 1–3, 6–8 Oct) + 5 make-up days (26 Jan, 8 Feb,
	// 27 Apr, 28 Sep, 11 Oct) = 248, counted by hand from the State Council's
	// notice.
	c := rules.NewCalendar(rules.WithLogger(slog.New(slog.DiscardHandler)))
	if got := c.WorkdaysBetween(date(2024, 12, 31), date(2025, 12, 31)); got != 248 {
		t.Errorf("working days in 2025 = %d, want 248", got)
	}
}

func TestDueBy(t *testing.T) {
	c := rules.NewCalendar(rules.WithLogger(slog.New(slog.DiscardHandler)))
	tests := []struct {
		name      string
		submitted time.Time
		want      time.Time
	}{
		{"the issue's example", at(2025, 9, 30, 10, 0), date(2025, 10, 10)},
		{"late evening of 30 Sept", at(2025, 9, 30, 23, 59), date(2025, 10, 10)},
		{"Monday", at(2026, 3, 9, 9, 0), date(2026, 3, 11)},
		{"Thursday", at(2026, 3, 12, 23, 59), date(2026, 3, 16)},
		{"Thursday 16:30 UTC is Friday in Shanghai", time.Date(2026, 3, 12, 16, 30, 0, 0, time.UTC), date(2026, 3, 17)},
		{"Friday", at(2026, 3, 13, 12, 0), date(2026, 3, 17)},
		{"Saturday", at(2026, 3, 14, 12, 0), date(2026, 3, 17)},
		{"before Spring Festival: the make-up Saturday counts", at(2026, 2, 12, 9, 0), date(2026, 2, 14)},
		{"across Spring Festival", at(2026, 2, 13, 9, 0), date(2026, 2, 24)},
		{"during the holiday", at(2025, 10, 3, 9, 0), date(2025, 10, 10)},
	}
	for _, tt := range tests {
		got := c.DueBy(tt.submitted)
		if !got.Equal(tt.want) || got.Format(time.DateOnly) != tt.want.Format(time.DateOnly) {
			t.Errorf("%s: DueBy(%v) = %v, want %v", tt.name, tt.submitted, got, tt.want)
		}
		if got.Location() != rules.Shanghai {
			t.Errorf("%s: DueBy location = %v, want Shanghai", tt.name, got.Location())
		}
		if n := c.WorkdaysBetween(tt.submitted, got); n != rules.DueWorkdays {
			t.Errorf("%s: WorkdaysBetween(submitted, due) = %d, want %d", tt.name, n, rules.DueWorkdays)
		}
	}
}

func TestAddWorkdays(t *testing.T) {
	c := rules.NewCalendar(rules.WithLogger(slog.New(slog.DiscardHandler)))
	tests := []struct {
		from time.Time
		n    int
		want time.Time
	}{
		{at(2026, 3, 13, 15, 0), 1, date(2026, 3, 16)},  // Friday → Monday
		{at(2026, 3, 13, 15, 0), 5, date(2026, 3, 20)},  // a week
		{at(2026, 3, 16, 15, 0), -1, date(2026, 3, 13)}, // Monday → Friday
		{at(2025, 10, 9, 9, 0), -1, date(2025, 9, 30)},  // back over National Day
		{at(2025, 10, 9, 9, 0), -2, date(2025, 9, 29)},
		{at(2025, 10, 9, 9, 0), -3, date(2025, 9, 28)}, // the make-up Sunday
		{at(2026, 3, 14, 15, 0), 0, date(2026, 3, 14)}, // 0: the date itself, even a Saturday
		{at(2025, 12, 31, 9, 0), 1, date(2026, 1, 4)},  // over New Year (1–3 Jan) to the make-up Sunday
	}
	for _, tt := range tests {
		if got := c.AddWorkdays(tt.from, tt.n); !got.Equal(tt.want) {
			t.Errorf("AddWorkdays(%v, %d) = %v, want %v", tt.from, tt.n, got, tt.want)
		}
	}
}

func TestWorkdaysBetween(t *testing.T) {
	c := rules.NewCalendar(rules.WithLogger(slog.New(slog.DiscardHandler)))
	tests := []struct {
		a, b time.Time
		want int
	}{
		{at(2026, 3, 11, 9, 0), at(2026, 3, 11, 18, 0), 0},   // same day
		{at(2026, 3, 9, 9, 0), at(2026, 3, 16, 9, 0), 5},     // Monday to Monday
		{at(2026, 3, 16, 9, 0), at(2026, 3, 9, 9, 0), -5},    // reversed
		{at(2026, 3, 13, 9, 0), at(2026, 3, 15, 9, 0), 0},    // Friday to Sunday
		{at(2025, 9, 30, 9, 0), at(2025, 10, 8, 23, 0), 0},   // only holidays after the 30th
		{at(2025, 9, 30, 9, 0), at(2025, 10, 11, 9, 0), 3},   // 9, 10, and the make-up 11th
		{at(2025, 9, 27, 9, 0), at(2025, 9, 28, 9, 0), 1},    // the make-up Sunday counts
		{at(2026, 3, 11, 23, 0), at(2026, 3, 12, 1, 0), 1},   // two hours, but a new day
		{at(2026, 3, 11, 15, 59), at(2026, 3, 11, 16, 1), 0}, // same Shanghai day
	}
	for _, tt := range tests {
		if got := c.WorkdaysBetween(tt.a, tt.b); got != tt.want {
			t.Errorf("WorkdaysBetween(%v, %v) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestFallbackYearWarnsOncePerYear(t *testing.T) {
	var logs bytes.Buffer
	c := quietCalendar(&logs)
	// 2030 is past the library's data: Monday–Friday.
	if !c.IsWorkday(date(2030, 1, 1)) { // a Tuesday; really New Year, but unknown
		t.Error("fallback: Tuesday 2030-01-01 should count as a working day")
	}
	if c.IsWorkday(date(2030, 1, 5)) {
		t.Error("fallback: Saturday 2030-01-05 should not count")
	}
	c.IsWorkday(date(2030, 6, 3))
	c.DueBy(at(2030, 12, 30, 9, 0)) // reaches into 2031
	out := logs.String()
	if n := strings.Count(out, "year=2030"); n != 1 {
		t.Errorf("2030 warned %d times, want once:\n%s", n, out)
	}
	if n := strings.Count(out, "year=2031"); n != 1 {
		t.Errorf("2031 warned %d times, want once:\n%s", n, out)
	}
	if !strings.Contains(out, "level=WARN") {
		t.Errorf("warning not at WARN level:\n%s", out)
	}
}

func TestFallbackWarnsOnceUnderConcurrency(t *testing.T) {
	var mu sync.Mutex
	var logs bytes.Buffer
	l := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))
	c := rules.NewCalendar(rules.WithLogger(l))
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.IsWorkday(date(2032, 1, 1+i%28))
			c.DueBy(date(2025, 9, 30))
		}()
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if n := strings.Count(logs.String(), "year=2032"); n != 1 {
		t.Errorf("2032 warned %d times, want once:\n%s", n, logs.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestOverrides(t *testing.T) {
	var logs bytes.Buffer
	c := quietCalendar(&logs,
		rules.WithHolidays(date(2026, 3, 16), date(2030, 1, 1)),
		rules.WithWorkdays(date(2026, 3, 14)),
		// Given as UTC midnight: still the 21st in Shanghai.
		rules.WithWorkdays(time.Date(2026, 3, 21, 0, 0, 0, 0, time.UTC)),
		// A later option wins: 28 Feb 2026 is a make-up day, configured off.
		rules.WithHolidays(date(2026, 2, 28)),
		rules.WithWorkdays(date(2026, 3, 23)), rules.WithHolidays(date(2026, 3, 23)),
	)
	tests := []struct {
		day  time.Time
		want bool
	}{
		{date(2026, 3, 16), false}, // extra holiday on a Monday
		{date(2026, 3, 14), true},  // extra working Saturday
		{date(2026, 3, 21), true},
		{date(2026, 2, 28), false},
		{date(2026, 3, 23), false},
		{date(2030, 1, 1), false}, // overrides apply in fallback years too
		{date(2026, 3, 17), true}, // untouched
	}
	for _, tt := range tests {
		if got := c.IsWorkday(tt.day); got != tt.want {
			t.Errorf("IsWorkday(%v) = %v, want %v", tt.day.Format(time.DateOnly), got, tt.want)
		}
	}
	// Thursday 12 March: Friday 13 and the configured working Saturday 14
	// (without overrides it would be Monday 16).
	if got := c.DueBy(at(2026, 3, 12, 9, 0)); !got.Equal(date(2026, 3, 14)) {
		t.Errorf("DueBy with overrides = %v, want 2026-03-14", got)
	}
}

func TestParseDateList(t *testing.T) {
	got, err := rules.ParseDateList(" 2026-10-09, 2026-10-10;2026-10-11\n2026-10-12 ")
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Time{date(2026, 10, 9), date(2026, 10, 10), date(2026, 10, 11), date(2026, 10, 12)}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range got {
		if !got[i].Equal(want[i]) {
			t.Errorf("date %d = %v, want %v", i, got[i], want[i])
		}
	}
	if got, err := rules.ParseDateList(""); err != nil || len(got) != 0 {
		t.Errorf(`ParseDateList("") = %v, %v`, got, err)
	}
	for _, bad := range []string{"2026-13-01", "2026/10/09", "2026-02-30", "20261009", "2026-10-09,x"} {
		if _, err := rules.ParseDateList(bad); err == nil {
			t.Errorf("ParseDateList(%q): no error", bad)
		}
	}
}

func TestCalendarDefaultLogger(t *testing.T) {
	// Without WithLogger the calendar must still work (and log to the
	// default logger rather than panic on a nil one).
	// 2031 has no holiday data, so the calendar does warn: the warning must
	// reach slog.Default(). (No test in this package runs in parallel, so
	// swapping the default logger for this test is safe.)
	var buf bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })
	c := rules.NewCalendar(rules.WithLogger(nil))
	if !c.IsWorkday(date(2031, 3, 12)) {
		t.Error("Wednesday is no working day")
	}
	if c.IsWorkday(date(2031, 3, 15)) {
		t.Error("Saturday is a working day")
	}
	if out := buf.String(); !strings.Contains(out, "no holiday data") || !strings.Contains(out, "year=2031") {
		t.Errorf("the fallback warning did not reach the default logger:\n%s", out)
	}
}
