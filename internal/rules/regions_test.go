package rules_test

import (
	"slices"
	"strings"
	"testing"

	"recoverydesk/internal/rules"
)

func TestCitiesAreThe21(t *testing.T) {
	want := []string{
		"4401 广州市", "4402 韶关市", "4403 深圳市", "4404 珠海市", "4405 汕头市", "4406 佛山市", "4407 江门市",
		"4408 湛江市", "4409 茂名市", "4412 肇庆市", "4413 惠州市", "4414 梅州市", "4415 汕尾市", "4416 河源市",
		"4417 阳江市", "4418 清远市", "4419 东莞市", "4420 中山市", "4451 潮州市", "4452 揭阳市", "4453 云浮市",
	}
	var got []string
	for _, c := range rules.Cities() {
		if c.Level != rules.LevelCity {
			t.Errorf("%s has level %d", c.Code, c.Level)
		}
		got = append(got, c.Code+" "+c.Name)
	}
	if !slices.Equal(got, want) {
		t.Errorf("Cities() =\n%v\nwant\n%v", got, want)
	}
}

func TestCountyCounts(t *testing.T) {
	// Per city, from the 民政部 list; 122 in all (65 districts, 20 county-level
	// cities, 34 counties, 3 autonomous counties).
	want := map[string]int{
		"4401": 11, "4402": 10, "4403": 9, "4404": 3, "4405": 7, "4406": 5, "4407": 7, "4408": 9,
		"4409": 5, "4412": 8, "4413": 5, "4414": 8, "4415": 4, "4416": 6, "4417": 4, "4418": 8,
		"4419": 0, "4420": 0, "4451": 3, "4452": 5, "4453": 5,
	}
	total := 0
	kinds := map[string]int{}
	for _, city := range rules.Cities() {
		kids := rules.RegionChildren(city.Code)
		if kids == nil || len(kids) != want[city.Code] {
			t.Errorf("%s %s: %d children, want %d", city.Code, city.Name, len(kids), want[city.Code])
		}
		for _, k := range kids {
			if k.Level != rules.LevelCounty || !strings.HasPrefix(k.Code, city.Code) || len(k.Code) != 6 {
				t.Errorf("bad county %+v under %s", k, city.Code)
			}
			total++
			switch {
			case strings.HasSuffix(k.Name, "自治县"):
				kinds["autonomous"]++
			case strings.HasSuffix(k.Name, "区"):
				kinds["district"]++
			case strings.HasSuffix(k.Name, "市"):
				kinds["city"]++
			case strings.HasSuffix(k.Name, "县"):
				kinds["county"]++
			}
		}
	}
	if total != 122 {
		t.Errorf("%d county-level divisions, want 122", total)
	}
	if kinds["district"] != 65 || kinds["city"] != 20 || kinds["county"] != 34 || kinds["autonomous"] != 3 {
		t.Errorf("kinds = %v, want 65 districts, 20 cities, 34 counties, 3 autonomous counties", kinds)
	}
}

func TestRegionChildrenSpotChecks(t *testing.T) {
	tests := []struct {
		parent string
		want   string
	}{
		{"4401", "440103 荔湾区,440104 越秀区,440105 海珠区,440106 天河区,440111 白云区,440112 黄埔区,440113 番禺区,440114 花都区,440115 南沙区,440117 从化区,440118 增城区"},
		{"440700", "440703 蓬江区,440704 江海区,440705 新会区,440781 台山市,440783 开平市,440784 鹤山市,440785 恩平市"},
		{"4403", "440303 罗湖区,440304 福田区,440305 南山区,440306 宝安区,440307 龙岗区,440308 盐田区,440309 龙华区,440310 坪山区,440311 光明区"},
		{"4415", "441502 城区,441521 海丰县,441523 陆河县,441581 陆丰市"},
		{"4418", "441802 清城区,441803 清新区,441821 佛冈县,441823 阳山县,441825 连山壮族瑶族自治县,441826 连南瑶族自治县,441881 英德市,441882 连州市"},
		{"4453", "445302 云城区,445303 云安区,445321 新兴县,445322 郁南县,445381 罗定市"},
	}
	for _, tt := range tests {
		var got []string
		for _, r := range rules.RegionChildren(tt.parent) {
			got = append(got, r.Code+" "+r.Name)
		}
		if s := strings.Join(got, ","); s != tt.want {
			t.Errorf("RegionChildren(%s) = %s\nwant %s", tt.parent, s, tt.want)
		}
	}
}

func TestRegionChildrenEdges(t *testing.T) {
	if got := rules.RegionChildren(""); len(got) != 1 || got[0] != (rules.Region{Code: "44", Name: "广东省", Level: 1}) {
		t.Errorf(`RegionChildren("") = %v, want [广东省]`, got)
	}
	for _, code := range []string{"44", "440000", " 44 ", "4400"} {
		if got := rules.RegionChildren(code); len(got) != 21 {
			t.Errorf("RegionChildren(%q) has %d cities, want 21", code, len(got))
		}
	}
	for _, code := range []string{"4419", "442000", "440703"} {
		if got := rules.RegionChildren(code); got == nil || len(got) != 0 {
			t.Errorf("RegionChildren(%q) = %#v, want an empty non-nil slice", code, got)
		}
	}
	for _, code := range []string{"45", "4410", "440799", "abc", "4", "44070", "4407031", "11"} {
		if got := rules.RegionChildren(code); got != nil {
			t.Errorf("RegionChildren(%q) = %v, want nil", code, got)
		}
	}
	// The result is a copy: changing it does not change the table.
	kids := rules.RegionChildren("4407")
	kids[0].Name = "改过"
	if r, _ := rules.LookupRegion("440703"); r.Name != "蓬江区" {
		t.Errorf("table changed through a returned slice: %v", r)
	}
}

func TestLookupRegion(t *testing.T) {
	tests := []struct {
		in   string
		want rules.Region
		ok   bool
	}{
		{"44", rules.Region{Code: "44", Name: "广东省", Level: 1}, true},
		{"440000", rules.Region{Code: "44", Name: "广东省", Level: 1}, true},
		{"4407", rules.Region{Code: "4407", Name: "江门市", Level: 2}, true},
		{"440700", rules.Region{Code: "4407", Name: "江门市", Level: 2}, true},
		{"440703", rules.Region{Code: "440703", Name: "蓬江区", Level: 3}, true},
		{"441900", rules.Region{Code: "4419", Name: "东莞市", Level: 2}, true},
		{"445381", rules.Region{Code: "445381", Name: "罗定市", Level: 3}, true},
		{"440102", rules.Region{}, false}, // 东山区, merged into 越秀区 in 2005
		{"440116", rules.Region{}, false}, // 萝岗区, merged into 黄埔区 in 2014
		{"4410", rules.Region{}, false},
		{"45", rules.Region{}, false},
		{"", rules.Region{}, false},
		{"44a7", rules.Region{}, false},
		{"４４", rules.Region{}, false},
	}
	for _, tt := range tests {
		got, ok := rules.LookupRegion(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("LookupRegion(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestRegionFullName(t *testing.T) {
	tests := map[string]string{
		"440703": "广东省 / 江门市 / 蓬江区",
		"4407":   "广东省 / 江门市",
		"440700": "广东省 / 江门市",
		"44":     "广东省",
		"440106": "广东省 / 广州市 / 天河区",
		"441502": "广东省 / 汕尾市 / 城区",
		"4420":   "广东省 / 中山市",
		"440799": "",
		"":       "",
	}
	for in, want := range tests {
		if got := rules.RegionFullName(in); got != want {
			t.Errorf("RegionFullName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRegionCovers(t *testing.T) {
	tests := []struct {
		scope, code string
		want        bool
	}{
		{"44", "44", true},
		{"44", "4407", true},
		{"44", "440703", true},
		{"440000", "440703", true},
		{"4407", "440703", true},
		{"440700", "440703", true},
		{"4407", "440700", true},
		{"4407", "4407", true},
		{"440703", "440703", true},
		{"4407", "440803", false},
		{"4407", "4408", false},
		{"4407", "44", false},
		{"440703", "4407", false},
		{"440703", "440704", false},
		{"4401", "440118", true},
		{"4401", "4418", false},
		{"44", "45", false},
		{"", "440703", false},
		{"4", "440703", false},
		{"4410", "441001", false}, // no such city: a bad scope covers nothing
		{"44", "", false},
		{"44", "x", false},
	}
	for _, tt := range tests {
		if got := rules.RegionCovers(tt.scope, tt.code); got != tt.want {
			t.Errorf("RegionCovers(%q, %q) = %v, want %v", tt.scope, tt.code, got, tt.want)
		}
	}
}

func TestNormalizeRegionCode(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"440000", "44", true}, {"440700", "4407", true}, {"440703", "440703", true},
		{"4400", "44", true}, {"44", "44", true}, {" 4407 ", "4407", true},
		{"000000", "00", true}, {"44070", "", false}, {"4407a3", "", false}, {"", "", false},
	}
	for _, tt := range tests {
		got, ok := rules.NormalizeRegionCode(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("NormalizeRegionCode(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
