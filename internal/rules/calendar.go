package rules

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/6tail/lunar-go/HolidayUtil"
)

// Shanghai is the time zone of every business rule (CONTRACT: Asia/Shanghai).
// China has kept UTC+8 without daylight saving since 1991, so a fixed zone is
// exact for every date the application handles and needs no tzdata on disk.
var Shanghai = time.FixedZone("CST", 8*3600)

// DueWorkdays is how many working days after the submission date a recovery
// case is due (CONTRACT §4: "the 2nd working day after the submission date").
const DueWorkdays = 2

// Calendar answers working-day questions in Asia/Shanghai: Monday–Friday plus
// the State Council's make-up working days (调休), minus statutory holidays,
// from github.com/6tail/lunar-go's HolidayUtil (data through 2027), plus
// overrides from configuration. For a year without library data it falls back
// to Monday–Friday (and the overrides) and logs one warning for that year.
//
// A Calendar is safe for concurrent use. Build one with NewCalendar at start
// and share it; the zero value is not usable.
type Calendar struct {
	logger    *slog.Logger
	overrides map[civilDay]bool // true = working day, false = day off; read-only after NewCalendar

	mu    sync.RWMutex
	years map[int]*yearDays // loaded on first use, never changed afterwards
}

// CalendarOption configures NewCalendar.
type CalendarOption func(*Calendar)

// WithLogger sets where the calendar warns that it fell back to Monday–Friday
// for a year it has no holiday data for. The default is slog.Default().
func WithLogger(l *slog.Logger) CalendarOption {
	return func(c *Calendar) {
		if l != nil {
			c.logger = l
		}
	}
}

// WithHolidays declares extra days off (e.g. a holiday announced after the
// library was released, or a local closure). Each date counts as its calendar
// day in Asia/Shanghai. A later option wins over an earlier one for the same
// day.
func WithHolidays(dates ...time.Time) CalendarOption {
	return func(c *Calendar) {
		for _, d := range dates {
			c.overrides[dayOf(d)] = false
		}
	}
}

// WithWorkdays declares extra working days (e.g. a make-up working day the
// library does not know yet). Each date counts as its calendar day in
// Asia/Shanghai. A later option wins over an earlier one for the same day.
func WithWorkdays(dates ...time.Time) CalendarOption {
	return func(c *Calendar) {
		for _, d := range dates {
			c.overrides[dayOf(d)] = true
		}
	}
}

// NewCalendar builds a Calendar with the given options.
func NewCalendar(opts ...CalendarOption) *Calendar {
	c := &Calendar{
		logger:    slog.Default(),
		overrides: map[civilDay]bool{},
		years:     map[int]*yearDays{},
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// IsWorkday reports whether the calendar day of day in Asia/Shanghai is a
// working day.
func (c *Calendar) IsWorkday(day time.Time) bool {
	return c.isWorkday(dayOf(day))
}

// AddWorkdays returns the date of the n-th working day after day's date
// (before it, for negative n), as midnight in Asia/Shanghai. The day itself
// never counts, so AddWorkdays(friday, 1) is the next Monday (barring
// holidays); n = 0 returns day's own date whatever kind of day it is. The
// cost grows with |n|: it is meant for deadlines, not for spans of centuries.
func (c *Calendar) AddWorkdays(day time.Time, n int) time.Time {
	d := dayOf(day)
	step := civilDay(1)
	if n < 0 {
		step, n = -1, -n
	}
	for n > 0 {
		d += step
		if c.isWorkday(d) {
			n--
		}
	}
	return d.time()
}

// DueBy is when a case submitted at submittedAt must be decided: the
// DueWorkdays-th (2nd) working day after the submission date in
// Asia/Shanghai, as midnight of that date (format it as YYYY-MM-DD). A case
// submitted on 2025-09-30 is due 2025-10-10: 1–8 October were holidays.
func (c *Calendar) DueBy(submittedAt time.Time) time.Time {
	return c.AddWorkdays(submittedAt, DueWorkdays)
}

// WorkdaysBetween counts the working days after a's date up to and
// including b's date (Asia/Shanghai), for SLA reports: it is 2 from a
// submission to its DueBy, 0 within one day, and negative when b is before a.
func (c *Calendar) WorkdaysBetween(a, b time.Time) int {
	da, db := dayOf(a), dayOf(b)
	sign := 1
	if db < da {
		da, db, sign = db, da, -1
	}
	n := 0
	for d := da + 1; d <= db; d++ {
		if c.isWorkday(d) {
			n++
		}
	}
	return sign * n
}

// ParseDateList parses the day lists that configuration passes to
// WithHolidays and WithWorkdays: YYYY-MM-DD dates separated by commas,
// semicolons or white space ("2026-10-09, 2026-10-10"). Each date is
// returned as midnight in Asia/Shanghai; an empty list is no error.
func ParseDateList(s string) ([]time.Time, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || r == ';' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
	})
	out := make([]time.Time, 0, len(fields))
	for _, f := range fields {
		t, err := time.ParseInLocation(time.DateOnly, f, Shanghai)
		if err != nil || !isDateShape(f) {
			return nil, fmt.Errorf("rules: date %q is not YYYY-MM-DD", f)
		}
		out = append(out, t)
	}
	return out, nil
}

// isDateShape reports whether s is exactly dddd-dd-dd; time.Parse alone
// would also take signs such as "+202-10-09".
func isDateShape(s string) bool {
	return len(s) == 10 && allDigits(s[:4]) && s[4] == '-' && allDigits(s[5:7]) && s[7] == '-' && allDigits(s[8:])
}

// civilDay is a calendar date as days since 1970-01-01 (a Thursday), which
// makes stepping, comparing and weekday arithmetic plain integer work.
type civilDay int64

// dayOf is t's calendar date in Asia/Shanghai.
func dayOf(t time.Time) civilDay {
	y, m, d := t.In(Shanghai).Date()
	return civilDay(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// time is midnight of the date in Asia/Shanghai.
func (d civilDay) time() time.Time {
	return time.Unix(int64(d)*86400-8*3600, 0).In(Shanghai)
}

// year is the date's calendar year.
func (d civilDay) year() int {
	return time.Unix(int64(d)*86400, 0).UTC().Year()
}

// weekend reports Saturday and Sunday; 1970-01-01 was a Thursday.
func (d civilDay) weekend() bool {
	wd := (int64(d)%7 + 7 + 4) % 7 // 0 = Sunday
	return wd == 0 || wd == 6
}

// yearDays is one year's exceptions to Monday–Friday from the library.
type yearDays struct {
	special map[civilDay]bool // true = make-up working day, false = holiday
}

func (c *Calendar) isWorkday(d civilDay) bool {
	if w, ok := c.overrides[d]; ok {
		return w
	}
	if w, ok := c.year(d.year()).special[d]; ok {
		return w
	}
	return !d.weekend()
}

// year returns the exceptions of year y, loading them once. The warning for a
// year without data is logged only by the call that stores the year, so it
// appears once per year however many goroutines ask.
func (c *Calendar) year(y int) *yearDays {
	c.mu.RLock()
	yd := c.years[y]
	c.mu.RUnlock()
	if yd != nil {
		return yd
	}
	yd, hasData := loadYear(y)
	c.mu.Lock()
	if prev := c.years[y]; prev != nil {
		c.mu.Unlock()
		return prev
	}
	c.years[y] = yd
	c.mu.Unlock()
	if !hasData {
		c.logger.Warn("working-day calendar has no holiday data for this year; using Monday-Friday plus configured overrides",
			slog.Int("year", y))
	}
	return yd
}

// loadYear reads year y's holidays and make-up working days from the
// library. Its lookups only read the library's package data; HolidayUtil.Fix,
// which rewrites that data for the whole process, is never called here:
// overrides live in the Calendar instead. hasData is false when none of its entries belongs to y's own
// holidays (entries late in y-1 may announce y's New Year, and do not count).
func loadYear(y int) (yd *yearDays, hasData bool) {
	yd = &yearDays{special: map[civilDay]bool{}}
	if y < 1000 || y > 9999 { // the library keys on 4-digit years
		return yd, false
	}
	prefix := fmt.Sprintf("%04d", y)
	for e := HolidayUtil.GetHolidaysByYear(y).Front(); e != nil; e = e.Next() {
		h, ok := e.Value.(*HolidayUtil.Holiday)
		if !ok {
			continue
		}
		t, err := time.ParseInLocation(time.DateOnly, h.GetDay(), Shanghai)
		if err != nil || !strings.HasPrefix(h.GetDay(), prefix) {
			continue
		}
		yd.special[dayOf(t)] = h.IsWork()
		if strings.HasPrefix(h.GetTarget(), prefix) {
			hasData = true
		}
	}
	return yd, hasData
}

// StartOfDay is 00:00 of t's date in Asia/Shanghai: where a business day
// begins for quotas and SLA states.
func StartOfDay(t time.Time) time.Time {
	y, m, d := t.In(Shanghai).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, Shanghai)
}
