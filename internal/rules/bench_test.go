package rules_test

import (
	"log/slog"
	"testing"
	"time"

	"recoverydesk/internal/rules"
)

// Sinks keep the compiler from optimising the benchmarked calls away.
var (
	sinkViolations []rules.Violation
	sinkString     string
	sinkErr        error
	sinkBool       bool
	sinkTime       time.Time
	sinkRegions    []rules.Region
)

// BenchmarkRules times each rule on one typical input (or, where named, a
// hard one): go test -bench 'Rules/CheckPassword' picks one.
func BenchmarkRules(b *testing.B) {
	calendar := rules.NewCalendar(rules.WithLogger(slog.New(slog.DiscardHandler)))
	now := time.Date(2026, 3, 15, 12, 0, 0, 0, rules.Shanghai)
	workday := time.Date(2025, 10, 9, 9, 0, 0, 0, rules.Shanghai)
	submitted := time.Date(2025, 9, 30, 10, 0, 0, 0, rules.Shanghai)
	for _, bc := range []struct {
		name string
		run  func()
	}{
		{"CheckPassword", func() { sinkViolations = rules.CheckPassword("Qwer7#Tyu-Abcd1234", "zhangsan") }},
		{"CheckPasswordAllViolations", func() { sinkViolations = rules.CheckPassword("qwerty中", "qwer") }},
		{"CheckUsername", func() { sinkViolations = rules.CheckUsername("Zhang_San2024") }},
		{"GeneratePassword", func() { sinkString, sinkErr = rules.GeneratePassword() }},
		{"ValidateUSCC", func() { sinkString, sinkErr = rules.ValidateUSCC("91440300708461136T") }},
		{"ValidateUSCCNormalising", func() {
			sinkString, sinkErr = rules.ValidateUSCC(" ９１４４０３００７０８４６１１３６ｔ ")
		}},
		{"ValidateOrgCode", func() { sinkString, sinkErr = rules.ValidateOrgCode("70846113-6") }},
		{"ValidateIDNumber", func() { sinkString, sinkErr = rules.ValidateIDNumber("11010519491231002X", now) }},
		{"NormalizeMobile", func() { sinkString, sinkErr = rules.NormalizeMobile("+86 138 1234 1234") }},
		{"MaskIDNumber", func() { sinkString = rules.MaskIDNumber("440703199001011234") }},
		{"RegionCovers", func() { sinkBool = rules.RegionCovers("4407", "440703") }},
		{"RegionChildren", func() { sinkRegions = rules.RegionChildren("44") }},
		{"IsWorkday", func() { sinkBool = calendar.IsWorkday(workday) }},
		{"DueBy", func() { sinkTime = calendar.DueBy(submitted) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				bc.run()
			}
		})
	}
}
