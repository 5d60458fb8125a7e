package preview

import (
	"math"
	"slices"
	"time"
)

// Point is one sample of a series.
type Point struct {
	T time.Time
	V float64
}

// Series is one line of a panel: its legend name and its samples in time
// order. An instant query gives series of one point.
type Series struct {
	Name   string
	Points []Point
}

// Table is tabular data as text: column names and rows of cells.
type Table struct {
	Columns []string
	Rows    [][]string
}

// PanelData is what the queries of one panel returned.
type PanelData struct {
	Series []Series
	Tables []Table
	// Errors are query failures, shown in place of the panel's content.
	Errors []string
}

// Empty reports whether the panel got no samples and no rows.
func (d *PanelData) Empty() bool {
	if d == nil {
		return true
	}
	for _, s := range d.Series {
		if len(s.Points) > 0 {
			return false
		}
	}
	for _, t := range d.Tables {
		if len(t.Rows) > 0 {
			return false
		}
	}
	return true
}

// Results holds the data of a dashboard's panels by grafanaq.Panel.Key.
type Results map[string]*PanelData

// Reduce turns a series into one number the way a stat panel's
// calculation does: lastNotNull (the default), last, first, firstNotNull,
// mean, max, min, sum, count, range, delta or diff. NaN samples are
// skipped except by last and first. ok is false when nothing is left.
func Reduce(s Series, calc string) (v float64, ok bool) {
	var vals []float64
	for _, p := range s.Points {
		vals = append(vals, p.V)
	}
	valid := slices.DeleteFunc(slices.Clone(vals), math.IsNaN)
	switch calc {
	case "last":
		if len(vals) == 0 {
			return 0, false
		}
		return vals[len(vals)-1], true
	case "first":
		if len(vals) == 0 {
			return 0, false
		}
		return vals[0], true
	case "count":
		return float64(len(vals)), true
	}
	if len(valid) == 0 {
		return 0, false
	}
	switch calc {
	case "firstNotNull":
		return valid[0], true
	case "mean":
		sum := 0.0
		for _, x := range valid {
			sum += x
		}
		return sum / float64(len(valid)), true
	case "sum":
		sum := 0.0
		for _, x := range valid {
			sum += x
		}
		return sum, true
	case "max":
		return slices.Max(valid), true
	case "min":
		return slices.Min(valid), true
	case "range":
		return slices.Max(valid) - slices.Min(valid), true
	case "delta", "diff":
		return valid[len(valid)-1] - valid[0], true
	}
	return valid[len(valid)-1], true
}
