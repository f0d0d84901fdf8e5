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

func BenchmarkCheckPassword(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sinkViolations = rules.CheckPassword("Qwer7#Tyu-Abcd1234", "zhangsan")
	}
}

func BenchmarkCheckPasswordAllViolations(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sinkViolations = rules.CheckPassword("qwerty中", "qwer")
	}
}

func BenchmarkCheckUsername(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sinkViolations = rules.CheckUsername("Zhang_San2024")
	}
}

func BenchmarkGeneratePassword(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sinkString, sinkErr = rules.GeneratePassword()
	}
}

func BenchmarkValidateUSCC(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sinkString, sinkErr = rules.ValidateUSCC("91440300708461136T")
	}
}

func BenchmarkValidateUSCCNormalising(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sinkString, sinkErr = rules.ValidateUSCC(" ９１４４０３００７０８４６１１３６ｔ ")
	}
}

func BenchmarkValidateOrgCode(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sinkString, sinkErr = rules.ValidateOrgCode("70846113-6")
	}
}

func BenchmarkValidateIDNumber(b *testing.B) {
	now := time.Date(2026, 3, 15, 12, 0, 0, 0, rules.Shanghai)
	b.ReportAllocs()
	for b.Loop() {
		sinkString, sinkErr = rules.ValidateIDNumber("11010519491231002X", now)
	}
}

func BenchmarkNormalizeMobile(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sinkString, sinkErr = rules.NormalizeMobile("+86 138 1234 1234")
	}
}

func BenchmarkMaskIDNumber(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sinkString = rules.MaskIDNumber("440703199001011234")
	}
}

func BenchmarkRegionCovers(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sinkBool = rules.RegionCovers("4407", "440703")
	}
}

func BenchmarkRegionChildren(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sinkRegions = rules.RegionChildren("44")
	}
}

func BenchmarkIsWorkday(b *testing.B) {
	c := rules.NewCalendar(rules.WithLogger(slog.New(slog.DiscardHandler)))
	day := time.Date(2025, 10, 9, 9, 0, 0, 0, rules.Shanghai)
	b.ReportAllocs()
	for b.Loop() {
		sinkBool = c.IsWorkday(day)
	}
}

func BenchmarkDueBy(b *testing.B) {
	c := rules.NewCalendar(rules.WithLogger(slog.New(slog.DiscardHandler)))
	submitted := time.Date(2025, 9, 30, 10, 0, 0, 0, rules.Shanghai)
	b.ReportAllocs()
	for b.Loop() {
		sinkTime = c.DueBy(submitted)
	}
}
