package preview

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	xfont "golang.org/x/image/font"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/steward-project/steward/dashboards/preview/grafanaq"
)

// Label is written under the dashboard's title on every image.
const Label = "Preview rendered from live query results - not a Grafana screenshot"

// Options control rendering.
type Options struct {
	// Width of the image in pixels; DefaultWidth when 0.
	Width int
	// From and To are the time range the results cover: the time axis
	// of every time series panel, and the range named in the header.
	From, To time.Time
	// Env, when set, interpolates variables in panel titles.
	Env *grafanaq.Env
}

// Colours: a light page, white panels, and Grafana's classic series
// palette.
var (
	pageColor   = color.RGBA{0xf4, 0xf5, 0xf5, 0xff}
	panelColor  = color.White
	borderColor = color.RGBA{0xc7, 0xd0, 0xd9, 0xff}
	textColor   = color.RGBA{0x24, 0x29, 0x2e, 0xff}
	mutedColor  = color.RGBA{0x6e, 0x75, 0x7c, 0xff}
	errorColor  = color.RGBA{0xc4, 0x16, 0x2a, 0xff}
	statColor   = color.RGBA{0x37, 0x87, 0x2d, 0xff}
	trackColor  = color.RGBA{0xe4, 0xe7, 0xea, 0xff}
	palette     = []color.RGBA{
		{0x73, 0xbf, 0x69, 0xff}, {0xf2, 0xcc, 0x0c, 0xff}, {0x56, 0x94, 0xf2, 0xff}, {0xff, 0x78, 0x0a, 0xff},
		{0xf2, 0x49, 0x5c, 0xff}, {0x5a, 0xce, 0xd6, 0xff}, {0xb8, 0x77, 0xd9, 0xff}, {0x96, 0xd9, 0x8d, 0xff},
		{0x8a, 0xb8, 0xff, 0xff}, {0xff, 0xb3, 0x57, 0xff}, {0x1f, 0x60, 0xc4, 0xff}, {0x9d, 0x6e, 0x37, 0xff},
	}
)

// WritePNG renders a dashboard and writes it as PNG.
func WritePNG(w io.Writer, d *grafanaq.Dashboard, res Results, opt Options) error {
	img, err := Render(d, res, opt)
	if err != nil {
		return err
	}
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	return enc.Encode(w, img)
}

// Render draws a dashboard: a header with its title and Label, then each
// panel at its grid position with its title and its data.
func Render(d *grafanaq.Dashboard, res Results, opt Options) (image.Image, error) {
	boxes, size := Place(d, opt.Width)
	c := vgimg.NewWith(vgimg.UseWH(vg.Length(size.X), vg.Length(size.Y)), vgimg.UseDPI(72),
		vgimg.UseBackgroundColor(pageColor))
	pt := &painter{c: c, h: float64(size.Y)}

	title := d.Title
	if title == "" {
		title = d.UID
	}
	pt.text(margin, 10, pt.fit(title, face(20, true), float64(size.X-2*margin)), face(20, true), textColor)
	pt.text(margin, 38, Label, face(12, false), mutedColor)
	if !opt.From.IsZero() && !opt.To.IsZero() {
		rng := fmt.Sprintf("%s to %s UTC", opt.From.UTC().Format("2006-01-02 15:04:05"), opt.To.UTC().Format("15:04:05"))
		f := face(12, false)
		pt.text(float64(size.X-margin)-pt.width(rng, f), 38, rng, f, mutedColor)
	}
	for _, b := range boxes {
		t := b.Panel.Title
		if opt.Env != nil {
			t = opt.Env.Interpolate(t, grafanaq.FlavorText)
		}
		if b.Row {
			pt.row(b.Rect, t)
			continue
		}
		pt.panel(b.Panel, t, b.Rect, res[b.Panel.Key()], opt)
	}
	return c.Image(), nil
}

// painter draws on the canvas in image coordinates (origin top left,
// y down); vg's origin is bottom left.
type painter struct {
	c *vgimg.Canvas
	h float64
}

// face is a Liberation Sans face of a size in pixels.
func face(size float64, bold bool) font.Face {
	f := font.Font{Typeface: "Liberation", Variant: "Sans"}
	if bold {
		f.Weight = xfont.WeightBold
	}
	return font.DefaultCache.Lookup(f, vg.Length(size))
}

func (pt *painter) vgRect(r image.Rectangle) vg.Rectangle {
	return vg.Rectangle{
		Min: vg.Point{X: vg.Length(r.Min.X), Y: vg.Length(pt.h - float64(r.Max.Y))},
		Max: vg.Point{X: vg.Length(r.Max.X), Y: vg.Length(pt.h - float64(r.Min.Y))},
	}
}

func (pt *painter) fill(r image.Rectangle, clr color.Color) {
	v := pt.vgRect(r)
	var p vg.Path
	p.Move(v.Min)
	p.Line(vg.Point{X: v.Max.X, Y: v.Min.Y})
	p.Line(v.Max)
	p.Line(vg.Point{X: v.Min.X, Y: v.Max.Y})
	p.Close()
	pt.c.SetColor(clr)
	pt.c.Fill(p)
}

func (pt *painter) stroke(r image.Rectangle, clr color.Color) {
	v := pt.vgRect(r)
	var p vg.Path
	p.Move(v.Min)
	p.Line(vg.Point{X: v.Max.X, Y: v.Min.Y})
	p.Line(v.Max)
	p.Line(vg.Point{X: v.Min.X, Y: v.Max.Y})
	p.Close()
	pt.c.SetColor(clr)
	pt.c.SetLineWidth(1)
	pt.c.Stroke(p)
}

// text draws s with its top at y.
func (pt *painter) text(x, y float64, s string, f font.Face, clr color.Color) {
	if s == "" {
		return
	}
	ext := f.Extents()
	pt.c.SetColor(clr)
	pt.c.FillString(f, vg.Point{X: vg.Length(x), Y: vg.Length(pt.h - y - float64(ext.Ascent))}, s)
}

func (pt *painter) width(s string, f font.Face) float64 { return float64(f.Width(s)) }

func lineHeight(f font.Face) float64 {
	e := f.Extents()
	return float64(e.Ascent + e.Descent)
}

// fit shortens s with "..." until it is at most w wide.
func (pt *painter) fit(s string, f font.Face, w float64) string {
	if pt.width(s, f) <= w {
		return s
	}
	r := []rune(s)
	for len(r) > 0 && pt.width(string(r)+"...", f) > w {
		r = r[:len(r)-1]
	}
	if len(r) == 0 {
		return ""
	}
	return string(r) + "..."
}

// wrap breaks s into lines at most w wide.
func (pt *painter) wrap(s string, f font.Face, w float64) []string {
	var lines []string
	for _, para := range strings.Split(s, "\n") {
		line := ""
		for _, word := range strings.Fields(para) {
			next := strings.TrimSpace(line + " " + word)
			if line != "" && pt.width(next, f) > w {
				lines = append(lines, line)
				next = word
			}
			line = next
		}
		lines = append(lines, pt.fit(line, f, w))
	}
	return lines
}

// row draws a row header: its title over a rule.
func (pt *painter) row(r image.Rectangle, title string) {
	f := face(15, true)
	pt.text(float64(r.Min.X), float64(r.Min.Y)+6, pt.fit(title, f, float64(r.Dx())), f, textColor)
	pt.fill(image.Rect(r.Min.X, r.Max.Y-2, r.Max.X, r.Max.Y-1), borderColor)
}

// panel draws a panel's frame and title, then its content by type.
func (pt *painter) panel(p *grafanaq.Panel, title string, r image.Rectangle, data *PanelData, opt Options) {
	pt.fill(r, panelColor)
	pt.stroke(r, borderColor)
	tf := face(13, true)
	pt.text(float64(r.Min.X+8), float64(r.Min.Y+6), pt.fit(title, tf, float64(r.Dx()-16)), tf, textColor)
	body := image.Rect(r.Min.X+8, r.Min.Y+26, r.Max.X-8, r.Max.Y-6)
	if body.Dx() <= 10 || body.Dy() <= 10 {
		return
	}
	if p.Type == "text" {
		pt.textPanel(body, p.Options.Content)
		return
	}
	if data != nil && len(data.Errors) > 0 {
		f := face(11, false)
		y := float64(body.Min.Y)
		for _, e := range data.Errors {
			for _, l := range pt.wrap("query error: "+e, f, float64(body.Dx())) {
				if y+lineHeight(f) > float64(body.Max.Y) {
					return
				}
				pt.text(float64(body.Min.X), y, l, f, errorColor)
				y += lineHeight(f) + 2
			}
		}
		return
	}
	if data.Empty() {
		f := face(14, false)
		s := "No data"
		pt.text(float64(body.Min.X+body.Max.X)/2-pt.width(s, f)/2, float64(body.Min.Y+body.Max.Y)/2-7, s, f, mutedColor)
		return
	}
	unit, decimals := p.FieldConfig.Defaults.Unit, p.FieldConfig.Defaults.Decimals
	switch p.Type {
	case "stat", "singlestat":
		pt.stat(body, numbers(data, calcOf(p)), unit, decimals)
	case "gauge":
		pt.gauge(body, numbers(data, calcOf(p)), unit, decimals, p.FieldConfig.Defaults.Min, p.FieldConfig.Defaults.Max)
	case "bargauge", "barchart", "piechart":
		pt.bars(body, numbers(data, calcOf(p)), unit, decimals)
	case "table", "table-old", "logs":
		pt.table(body, tableOf(data, unit, decimals))
	default:
		if hasSeries(data) {
			pt.timeSeries(body, data.Series, unit, opt)
		} else {
			pt.table(body, tableOf(data, unit, decimals))
		}
	}
}

func calcOf(p *grafanaq.Panel) string {
	if c := p.Options.ReduceOptions.Calcs; len(c) > 0 {
		return c[0]
	}
	return "lastNotNull"
}

func hasSeries(d *PanelData) bool {
	for _, s := range d.Series {
		if len(s.Points) > 0 {
			return true
		}
	}
	return false
}

// named is one number with what it stands for.
type named struct {
	name string
	v    float64
}

// numbers reduces a panel's data to numbers: one per series, or, from
// tables, one per numeric cell of each row, named by the row's first
// text cell (or the column when the table has a single row).
func numbers(d *PanelData, calc string) []named {
	var out []named
	for _, s := range d.Series {
		if v, ok := Reduce(s, calc); ok {
			out = append(out, named{s.Name, v})
		}
	}
	if len(out) > 0 {
		return out
	}
	for _, t := range d.Tables {
		for _, row := range t.Rows {
			label := ""
			for _, cell := range row {
				if _, err := strconv.ParseFloat(cell, 64); err != nil {
					label = cell
					break
				}
			}
			for i, cell := range row {
				v, err := strconv.ParseFloat(cell, 64)
				if err != nil || i >= len(t.Columns) || strings.EqualFold(t.Columns[i], "time") {
					continue
				}
				name := label
				if name == "" || len(t.Rows) == 1 {
					name = t.Columns[i]
				}
				out = append(out, named{name, v})
			}
		}
	}
	return out
}

// stat draws each number large, in a grid, with its name under it when
// there are several.
func (pt *painter) stat(r image.Rectangle, vals []named, unit string, decimals *int) {
	if len(vals) == 0 {
		return
	}
	vals = vals[:min(len(vals), 12)]
	cols := int(math.Ceil(math.Sqrt(float64(len(vals)) * float64(r.Dx()) / float64(max(r.Dy(), 1)) / 2)))
	cols = max(1, min(cols, len(vals)))
	rows := (len(vals) + cols - 1) / cols
	cw, ch := float64(r.Dx())/float64(cols), float64(r.Dy())/float64(rows)
	for i, nv := range vals {
		x0 := float64(r.Min.X) + float64(i%cols)*cw
		y0 := float64(r.Min.Y) + float64(i/cols)*ch
		s := FormatValue(nv.v, unit, decimals)
		nameH := 0.0
		if len(vals) > 1 {
			nameH = 14
		}
		size := math.Min((ch-nameH)*0.6, 48)
		f := face(size, true)
		for size > 8 && pt.width(s, f) > cw-6 {
			size--
			f = face(size, true)
		}
		y := y0 + (ch-nameH-lineHeight(f))/2
		pt.text(x0+(cw-pt.width(s, f))/2, y, s, f, statColor)
		if nameH > 0 {
			nf := face(11, false)
			n := pt.fit(nv.name, nf, cw-6)
			pt.text(x0+(cw-pt.width(n, nf))/2, y+lineHeight(f)+2, n, nf, mutedColor)
		}
	}
}

// gauge draws each number with a horizontal track filled in proportion
// between min and max (0 to 100, or to 1 for a percentunit).
func (pt *painter) gauge(r image.Rectangle, vals []named, unit string, decimals *int, lo, hi *float64) {
	mn, mx := 0.0, 100.0
	if unit == "percentunit" {
		mx = 1
	}
	if lo != nil {
		mn = *lo
	}
	if hi != nil {
		mx = *hi
	}
	vals = vals[:min(len(vals), 6)]
	ch := float64(r.Dy()) / float64(max(len(vals), 1))
	for i, nv := range vals {
		y0 := float64(r.Min.Y) + float64(i)*ch
		size := math.Min(ch*0.35, 36)
		f := face(size, true)
		s := FormatValue(nv.v, unit, decimals)
		pt.text(float64(r.Min.X+r.Max.X)/2-pt.width(s, f)/2, y0+2, s, f, statColor)
		bar := image.Rect(r.Min.X+4, int(y0+lineHeight(f)+6), r.Max.X-4, int(y0+lineHeight(f)+16))
		pt.fill(bar, trackColor)
		frac := 0.0
		if mx > mn {
			frac = math.Max(0, math.Min(1, (nv.v-mn)/(mx-mn)))
		}
		pt.fill(image.Rect(bar.Min.X, bar.Min.Y, bar.Min.X+int(frac*float64(bar.Dx())), bar.Max.Y), palette[0])
		if len(vals) > 1 {
			nf := face(10, false)
			pt.text(float64(bar.Min.X), float64(bar.Max.Y+2), pt.fit(nv.name, nf, float64(bar.Dx())), nf, mutedColor)
		}
	}
}

// bars draws one horizontal bar per number, longest for the largest
// magnitude, with its name on the left and its value on the bar's end.
func (pt *painter) bars(r image.Rectangle, vals []named, unit string, decimals *int) {
	if len(vals) == 0 {
		return
	}
	rowH := math.Min(24, float64(r.Dy())/float64(len(vals)))
	if rowH < 12 {
		rowH = 12
	}
	n := min(len(vals), int(float64(r.Dy())/rowH))
	top := 0.0
	for _, v := range vals {
		top = math.Max(top, math.Abs(v.v))
	}
	f := face(math.Min(11, rowH-2), false)
	labelW := float64(r.Dx()) * 0.3
	valueW := 70.0
	barW := float64(r.Dx()) - labelW - valueW - 8
	for i := 0; i < n; i++ {
		y := float64(r.Min.Y) + float64(i)*rowH
		pt.text(float64(r.Min.X), y+(rowH-lineHeight(f))/2, pt.fit(vals[i].name, f, labelW-6), f, textColor)
		w := 0.0
		if top > 0 {
			w = math.Abs(vals[i].v) / top * barW
		}
		x0 := float64(r.Min.X) + labelW
		pt.fill(image.Rect(int(x0), int(y+2), int(x0+math.Max(w, 1)), int(y+rowH-2)), palette[i%len(palette)])
		s := FormatValue(vals[i].v, unit, decimals)
		pt.text(x0+w+4, y+(rowH-lineHeight(f))/2, s, f, textColor)
	}
	if n < len(vals) {
		mf := face(10, false)
		pt.text(float64(r.Min.X), float64(r.Max.Y)-lineHeight(mf), fmt.Sprintf("... %d more", len(vals)-n), mf, mutedColor)
	}
}

// tableOf is the table a panel shows: the first table of its data, or
// the series reduced to their last value.
func tableOf(d *PanelData, unit string, decimals *int) Table {
	for _, t := range d.Tables {
		if len(t.Columns) > 0 {
			return t
		}
	}
	t := Table{Columns: []string{"Series", "Value"}}
	for _, s := range d.Series {
		if v, ok := Reduce(s, "lastNotNull"); ok {
			t.Rows = append(t.Rows, []string{s.Name, FormatValue(v, unit, decimals)})
		}
	}
	return t
}

// table draws a table's header and its first rows as text, columns as
// wide as their content (within limits).
func (pt *painter) table(r image.Rectangle, t Table) {
	if len(t.Columns) == 0 {
		return
	}
	hf, cf := face(11, true), face(11, false)
	rowH := lineHeight(cf) + 5
	weights := make([]float64, len(t.Columns))
	total := 0.0
	for i, c := range t.Columns {
		w := float64(len([]rune(c)))
		for _, row := range t.Rows[:min(len(t.Rows), 20)] {
			if i < len(row) {
				w = math.Max(w, float64(len([]rune(row[i]))))
			}
		}
		weights[i] = math.Min(math.Max(w, 4), 40)
		total += weights[i]
	}
	x := make([]float64, len(t.Columns)+1)
	x[0] = float64(r.Min.X)
	for i := range t.Columns {
		x[i+1] = x[i] + weights[i]/total*float64(r.Dx())
	}
	y := float64(r.Min.Y)
	for i, c := range t.Columns {
		pt.text(x[i]+2, y, pt.fit(c, hf, x[i+1]-x[i]-6), hf, textColor)
	}
	y += rowH
	pt.fill(image.Rect(r.Min.X, int(y-2), r.Max.X, int(y-1)), borderColor)
	shown := 0
	for _, row := range t.Rows {
		if y+2*rowH > float64(r.Max.Y) && shown < len(t.Rows)-1 {
			break
		}
		if y+rowH > float64(r.Max.Y) {
			break
		}
		for i := range t.Columns {
			if i < len(row) {
				pt.text(x[i]+2, y, pt.fit(row[i], cf, x[i+1]-x[i]-6), cf, textColor)
			}
		}
		y += rowH
		shown++
	}
	if shown < len(t.Rows) {
		pt.text(float64(r.Min.X+2), y, fmt.Sprintf("... %d more rows", len(t.Rows)-shown), face(10, false), mutedColor)
	}
}

var markdownRE = regexp.MustCompile("[#*_`>]+")

// textPanel draws a text panel's content with Markdown marks removed.
func (pt *painter) textPanel(r image.Rectangle, content string) {
	f := face(12, false)
	y := float64(r.Min.Y)
	for _, l := range pt.wrap(markdownRE.ReplaceAllString(content, ""), f, float64(r.Dx())) {
		if y+lineHeight(f) > float64(r.Max.Y) {
			return
		}
		pt.text(float64(r.Min.X), y, l, f, textColor)
		y += lineHeight(f) + 3
	}
}

// timeSeries plots the series with gonum/plot over the options' time
// range, with a legend under the plot.
func (pt *painter) timeSeries(r image.Rectangle, series []Series, unit string, opt Options) {
	series = series[:min(len(series), len(palette)*2)]
	lf := face(10, false)
	legend := pt.legendLines(series, lf, float64(r.Dx()))
	maxLines := max(1, int(float64(r.Dy())*0.25/(lineHeight(lf)+3)))
	if len(legend) > maxLines {
		legend = legend[:maxLines]
	}
	legendH := float64(len(legend)) * (lineHeight(lf) + 3)
	plotRect := image.Rect(r.Min.X, r.Min.Y, r.Max.X, r.Max.Y-int(legendH))

	p := plot.New()
	p.BackgroundColor = panelColor
	tick := font.From(font.Font{Typeface: "Liberation", Variant: "Sans"}, 9)
	p.X.Tick.Label.Font, p.Y.Tick.Label.Font = tick, tick
	p.X.Tick.Label.Color, p.Y.Tick.Label.Color = mutedColor, mutedColor
	p.X.Tick.Marker = plot.TimeTicks{Format: "15:04:05"}
	p.Y.Tick.Marker = unitTicks{unit: unit}
	if !opt.From.IsZero() && opt.To.After(opt.From) {
		p.X.Min, p.X.Max = unixSeconds(opt.From), unixSeconds(opt.To)
	}
	grid := plotter.NewGrid()
	grid.Vertical.Color, grid.Horizontal.Color = trackColor, trackColor
	p.Add(grid)
	for i, s := range series {
		var xys plotter.XYs
		for _, pnt := range s.Points {
			if math.IsNaN(pnt.V) || math.IsInf(pnt.V, 0) {
				continue
			}
			xys = append(xys, plotter.XY{X: unixSeconds(pnt.T), Y: pnt.V})
		}
		if len(xys) == 0 {
			continue
		}
		clr := palette[i%len(palette)]
		if len(xys) == 1 {
			sc, err := plotter.NewScatter(xys)
			if err == nil {
				sc.GlyphStyle.Color, sc.GlyphStyle.Radius, sc.GlyphStyle.Shape = clr, 3, draw.CircleGlyph{}
				p.Add(sc)
			}
			continue
		}
		line, err := plotter.NewLine(xys)
		if err != nil {
			continue
		}
		line.Color, line.Width = clr, 1.5
		p.Add(line)
	}
	p.Draw(draw.Canvas{Canvas: pt.c, Rectangle: pt.vgRect(plotRect)})

	y := float64(plotRect.Max.Y) + 2
	for _, entries := range legend {
		x := float64(r.Min.X)
		for _, e := range entries {
			sq := image.Rect(int(x), int(y+2), int(x)+8, int(y)+10)
			pt.fill(sq, palette[e.index%len(palette)])
			pt.text(x+12, y, e.text, lf, textColor)
			x += 12 + pt.width(e.text, lf) + 14
		}
		y += lineHeight(lf) + 3
	}
}

type legendEntry struct {
	index int
	text  string
}

// legendLines flows the series names into lines of a width.
func (pt *painter) legendLines(series []Series, f font.Face, w float64) [][]legendEntry {
	var lines [][]legendEntry
	var cur []legendEntry
	x := 0.0
	for i, s := range series {
		name := pt.fit(s.Name, f, w/2)
		ew := 12 + pt.width(name, f) + 14
		if len(cur) > 0 && x+ew > w {
			lines = append(lines, cur)
			cur, x = nil, 0
		}
		cur = append(cur, legendEntry{i, name})
		x += ew
	}
	if len(cur) > 0 {
		lines = append(lines, cur)
	}
	return lines
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// unitTicks labels the value axis in the panel's unit.
type unitTicks struct{ unit string }

func (u unitTicks) Ticks(lo, hi float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = FormatValue(ts[i].Value, u.unit, nil)
		}
	}
	return ts
}

// FormatValue writes a number in a Grafana unit: percentunit (a ratio
// shown as a percentage), percent, s and ms (durations), bytes and
// decbytes, reqps and ops (per second), dateTimeAsIso (Unix seconds or
// milliseconds); any other unit gets k, M, G, T suffixes for large
// numbers. decimals, when set, fixes the number of decimals.
func FormatValue(v float64, unit string, decimals *int) string {
	if math.IsNaN(v) {
		return "NaN"
	}
	num := func(x float64) string {
		if decimals != nil {
			return strconv.FormatFloat(x, 'f', *decimals, 64)
		}
		ax := math.Abs(x)
		switch {
		case ax == 0 || ax >= 100:
			return strconv.FormatFloat(x, 'f', 0, 64)
		case ax >= 10:
			return trimZeros(strconv.FormatFloat(x, 'f', 1, 64))
		case ax >= 0.01:
			return trimZeros(strconv.FormatFloat(x, 'f', 2, 64))
		}
		return strconv.FormatFloat(x, 'g', 2, 64)
	}
	scaled := func(x float64, base float64, units []string) string {
		i := 0
		for math.Abs(x) >= base && i < len(units)-1 {
			x /= base
			i++
		}
		return strings.TrimSpace(num(x) + " " + units[i])
	}
	switch unit {
	case "percentunit":
		return num(v*100) + "%"
	case "percent":
		return num(v) + "%"
	case "s":
		switch a := math.Abs(v); {
		case a == 0:
			return "0 s"
		case a < 1:
			return num(v*1000) + " ms"
		case a < 60:
			return num(v) + " s"
		case a < 3600:
			return num(v/60) + " min"
		case a < 86400:
			return num(v/3600) + " hour"
		}
		return num(v/86400) + " day"
	case "ms":
		if math.Abs(v) >= 1000 {
			return FormatValue(v/1000, "s", decimals)
		}
		return num(v) + " ms"
	case "bytes":
		return scaled(v, 1024, []string{"B", "KiB", "MiB", "GiB", "TiB"})
	case "decbytes":
		return scaled(v, 1000, []string{"B", "kB", "MB", "GB", "TB"})
	case "reqps":
		return scaled(v, 1000, []string{"req/s", "K req/s", "M req/s"})
	case "ops":
		return scaled(v, 1000, []string{"ops/s", "K ops/s", "M ops/s"})
	case "dateTimeAsIso", "dateTimeAsSystem", "dateTimeFromNow":
		t := time.Unix(int64(v), 0)
		if v > 1e11 {
			t = time.UnixMilli(int64(v))
		}
		return t.UTC().Format("2006-01-02 15:04:05")
	}
	return scaled(v, 1000, []string{"", "K", "M", "G", "T"})
}

func trimZeros(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}
