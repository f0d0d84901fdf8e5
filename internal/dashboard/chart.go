package dashboard

import (
	"fmt"
	"math"
)

// The charts are laid out here, in Go, and drawn by the page as an inline
// <svg> from these numbers alone: no script, no style attribute (colours come
// from CSS classes), so the strict CSP holds. Each chart is a picture of a
// table printed beside it; the table is the record.

// BarChart is a horizontal bar chart, one row per item, each bar stacked
// from segments. Coordinates are in the SVG's viewBox units.
type BarChart struct {
	Width, Height int
	PlotX, PlotW  int // where the bars start, and the width of the full scale
	LabelX        int // where row labels end (they are right-aligned)
	Ticks         []Tick
	Rows          []BarRow
}

// BarRow is one item: its label (left of the plot), its segments and the
// total written after the bar.
type BarRow struct {
	Label, Value string
	Y, H, TextY  int
	ValueX       int
	Segments     []Segment
}

// Segment is one part of a stacked bar.
type Segment struct {
	X, W  int
	Class string // a CSS class giving its colour
	Title string // shown as a tooltip
}

// Tick is a grid line of the value axis, from (X1, Y1) to (X2, Y2), with
// its label at (TextX, TextY).
type Tick struct {
	X1, Y1, X2, Y2 int
	TextX, TextY   int
	Label          string
}

// BarInput is one row to draw: a label and the stacked values, in the order
// of the classes given to Bars.
type BarInput struct {
	Label  string
	Values []int
	Titles []string // one per value, for tooltips
}

// Bar chart geometry.
const (
	barLabelW = 96
	barPlotW  = 380
	barValueW = 48
	barRowH   = 24
	barH      = 15
	barTop    = 22
)

// Bars lays out a horizontal stacked bar chart; classes names each value's
// segment class, in the order of BarInput.Values.
func Bars(rows []BarInput, classes []string) BarChart {
	max := 0
	for _, r := range rows {
		sum := 0
		for _, v := range r.Values {
			sum += v
		}
		if sum > max {
			max = sum
		}
	}
	top := niceCeil(max)
	c := BarChart{Width: barLabelW + barPlotW + barValueW, Height: barTop + len(rows)*barRowH + 6, PlotX: barLabelW, PlotW: barPlotW,
		LabelX: barLabelW - 6}
	for _, v := range tickValues(top) {
		x := barLabelW + scale(v, top, barPlotW)
		c.Ticks = append(c.Ticks, Tick{X1: x, X2: x, Y1: barTop - 8, Y2: c.Height, TextX: x, TextY: barTop - 11, Label: fmt.Sprint(v)})
	}
	for i, r := range rows {
		y := barTop + i*barRowH
		row := BarRow{Label: r.Label, Y: y + (barRowH-barH)/2, H: barH, TextY: y + barRowH/2 + 4}
		x, sum := barLabelW, 0
		for j, v := range r.Values {
			sum += v
			end := barLabelW + scale(sum, top, barPlotW)
			if v > 0 {
				s := Segment{X: x, W: max1(end - x), Class: classes[j]}
				if j < len(r.Titles) {
					s.Title = r.Titles[j]
				}
				row.Segments = append(row.Segments, s)
			}
			x = end
		}
		row.Value, row.ValueX = fmt.Sprint(sum), x+4
		c.Rows = append(c.Rows, row)
	}
	return c
}

// ColumnChart is a vertical column chart of percentages (0–100 %).
type ColumnChart struct {
	Width, Height int
	PlotX, PlotW  int
	BaseY         int // the 0 % line
	Ticks         []Tick
	Columns       []Column
}

// Column is one column: its bar (absent without data), its label below and
// its value above.
type Column struct {
	Label, Value  string
	HasBar        bool
	X, W, Y, H    int
	LabelX, TextY int
	ValueY        int
}

// ColumnInput is one column to draw: a label, and the share (nil when there
// is nothing to measure).
type ColumnInput struct {
	Label string
	Ratio Ratio
}

// Column chart geometry.
const (
	colAxisW  = 44
	colPlotH  = 180
	colTop    = 22
	colLabelH = 26
	colMinW   = 46
)

// Columns lays out a column chart of shares on a fixed 0–100 % scale, so
// that weeks compare at a glance.
func Columns(cols []ColumnInput) ColumnChart {
	slot := colMinW
	if n := len(cols); n > 0 && 560/n > slot {
		slot = 560 / n
	}
	c := ColumnChart{Width: colAxisW + slot*len(cols) + 8, Height: colTop + colPlotH + colLabelH, PlotX: colAxisW,
		PlotW: slot * len(cols), BaseY: colTop + colPlotH}
	for _, p := range []int{0, 25, 50, 75, 100} {
		y := c.BaseY - p*colPlotH/100
		c.Ticks = append(c.Ticks, Tick{X1: colAxisW, X2: c.Width, Y1: y, Y2: y, TextX: colAxisW - 6, TextY: y + 4, Label: fmt.Sprintf("%d%%", p)})
	}
	for i, in := range cols {
		x := colAxisW + i*slot
		col := Column{Label: in.Label, Value: in.Ratio.String(), X: x + slot/5, W: slot - 2*(slot/5),
			LabelX: x + slot/2, TextY: c.BaseY + 17}
		col.ValueY = c.BaseY - 6
		if in.Ratio.Den > 0 {
			h := int(math.Round(in.Ratio.Percent() * colPlotH / 100))
			col.HasBar, col.Y, col.H = h > 0, c.BaseY-h, h
			col.ValueY = c.BaseY - h - 6
		}
		c.Columns = append(c.Columns, col)
	}
	return c
}

// scale maps v of top onto width units.
func scale(v, top, width int) int {
	if top == 0 {
		return 0
	}
	return int(math.Round(float64(v) * float64(width) / float64(top)))
}

func max1(v int) int {
	if v < 1 {
		return 1
	}
	return v
}

// niceCeil is the smallest of 1, 2, 5 × 10^k (at least 1) not below v, so
// that the scale ends on a round number.
func niceCeil(v int) int {
	for p := 1; ; p *= 10 {
		for _, m := range []int{1, 2, 5} {
			if m*p >= v {
				return m * p
			}
		}
	}
}

// tickValues are the grid lines of a scale ending at top: 0, top/5 … top
// (top/2 steps for top 1 or 2).
func tickValues(top int) []int {
	steps := 5
	if top <= 2 {
		steps = top
	}
	out := make([]int, 0, steps+1)
	for i := 0; i <= steps; i++ {
		out = append(out, top*i/steps)
	}
	return out
}
