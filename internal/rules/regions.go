package rules

import (
	"sort"
	"strings"
)

// Region levels (Region.Level).
const (
	LevelProvince = 1 // 广东省, code "44"
	LevelCity     = 2 // prefecture-level city, code "4407"
	LevelCounty   = 3 // county-level division, code "440703"
)

// Region is one Guangdong administrative division of GB/T 2260. Code is in
// the short form Casbin region domains and stored records use: 2 digits for
// the province, 4 for a city, 6 for a county-level division. The JSON form is
// what the cascading picker (GET /api/v1/regions?parent=CODE) serves.
type Region struct {
	Code  string `json:"code"`
	Name  string `json:"name"`
	Level int    `json:"level"`
}

// ProvinceCode is Guangdong's region code, the scope that covers everything.
const ProvinceCode = "44"

// NormalizeRegionCode turns the forms a region code arrives in into the
// short form: surrounding spaces are dropped and trailing "00" pairs of the
// 6-digit GB/T 2260 form are cut ("440000" → "44", "440700" → "4407",
// "4400" → "44"). ok is false unless the result is 2, 4 or 6 digits; the code
// need not be a known region (see LookupRegion).
func NormalizeRegionCode(code string) (norm string, ok bool) {
	code = strings.TrimSpace(code)
	if (len(code) != 2 && len(code) != 4 && len(code) != 6) || !allDigits(code) {
		return "", false
	}
	for len(code) > 2 && strings.HasSuffix(code, "00") {
		code = code[:len(code)-2]
	}
	return code, true
}

// regionIndex finds a normalised code in the table.
func regionIndex(code string) (int, bool) {
	i := sort.Search(len(guangdong), func(i int) bool { return guangdong[i].Code >= code })
	return i, i < len(guangdong) && guangdong[i].Code == code
}

// LookupRegion finds a Guangdong region by code, in short or 6-digit form
// ("4407" or "440700"), so a stored or submitted code can be checked and
// named. ok is false for anything that is not a current division.
func LookupRegion(code string) (Region, bool) {
	code, ok := NormalizeRegionCode(code)
	if !ok {
		return Region{}, false
	}
	i, ok := regionIndex(code)
	if !ok {
		return Region{}, false
	}
	return guangdong[i], true
}

// RegionChildren returns the divisions directly under code, in code order,
// for the cascading picker: "" gives [广东省], "44" the 21 cities, "4407"
// the counties of 江门市. A known region without children (a county, or
// 东莞市 and 中山市, whose towns are not listed) gives an empty, non-nil
// slice; an unknown code gives nil, so a handler can answer 404. The slice is
// a fresh copy the caller may keep.
func RegionChildren(code string) []Region {
	if strings.TrimSpace(code) == "" {
		return []Region{guangdong[0]}
	}
	parent, ok := LookupRegion(code)
	if !ok {
		return nil
	}
	// The table is in code order, so parent's subtree directly follows it.
	i, _ := regionIndex(parent.Code)
	end := i + 1
	n := 0
	for ; end < len(guangdong) && strings.HasPrefix(guangdong[end].Code, parent.Code); end++ {
		if guangdong[end].Level == parent.Level+1 {
			n++
		}
	}
	out := make([]Region, 0, n)
	for _, r := range guangdong[i+1 : end] {
		if r.Level == parent.Level+1 {
			out = append(out, r)
		}
	}
	return out
}

// Cities returns Guangdong's 21 prefecture-level cities in code order (a
// fresh slice), e.g. for a staff member's region select.
func Cities() []Region {
	return RegionChildren(ProvinceCode)
}

// RegionFullName is the path a form shows for a region, from the province
// down: "广东省 / 江门市 / 蓬江区" for "440703", "广东省 / 江门市" for "4407".
// It is empty for an unknown code.
func RegionFullName(code string) string {
	r, ok := LookupRegion(code)
	if !ok {
		return ""
	}
	var b strings.Builder
	for l := 2; l <= len(r.Code); l += 2 {
		i, _ := regionIndex(r.Code[:l])
		if b.Len() > 0 {
			b.WriteString(" / ")
		}
		b.WriteString(guangdong[i].Name)
	}
	return b.String()
}

// RegionCovers is the prefix test of Casbin region domains: a staff member
// whose scope is "44" sees every Guangdong case, "4407" sees 江门市 and its
// counties ("440703"), but not "4408". Both codes may be given in short or
// 6-digit form; scope must be a known region and code a well-formed one
// (a case keeps its code even if the division is later renamed). Anything
// else covers nothing, so a mistyped scope never widens access.
func RegionCovers(scope, code string) bool {
	s, ok := LookupRegion(scope)
	if !ok {
		return false
	}
	c, ok := NormalizeRegionCode(code)
	if !ok {
		return false
	}
	return strings.HasPrefix(c, s.Code)
}
