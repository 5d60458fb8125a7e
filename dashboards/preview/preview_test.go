package preview

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/steward-project/steward/dashboards/preview/grafanaq"
)

func loadSample(t *testing.T, name string) *grafanaq.Dashboard {
	t.Helper()
	d, err := grafanaq.Load(filepath.Join("testdata", "grafana", name))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// sampleResults makes plausible data for every panel with targets: a
// few series for time series, one value for stats, rows for tables;
// one panel gets an error and one nothing.
func sampleResults(d *grafanaq.Dashboard, from, to time.Time) Results {
	res := Results{}
	for i, p := range d.AllPanels() {
		if len(p.Targets) == 0 {
			continue
		}
		pd := &PanelData{}
		switch p.Type {
		case "table":
			pd.Tables = []Table{{Columns: []string{"policy", "severity", "failing_hosts"}}}
			for r := 0; r < 30; r++ {
				pd.Tables[0].Rows = append(pd.Tables[0].Rows, []string{fmt.Sprintf("policy-%02d", r), "high", fmt.Sprint(30 - r)})
			}
		default:
			for s := 0; s < 3; s++ {
				series := Series{Name: fmt.Sprintf("series %d", s)}
				for tm := from; !tm.After(to); tm = tm.Add(5 * time.Second) {
					series.Points = append(series.Points, Point{T: tm, V: float64(s+1) * (1 + math.Sin(float64(tm.Unix())/20))})
				}
				pd.Series = append(pd.Series, series)
			}
		}
		if i == 2 {
			pd = &PanelData{Errors: []string{`bad_data: parse error: unexpected "}"`}}
		}
		res[p.Key()] = pd
	}
	return res
}

// darkPixels counts pixels in r much darker than the page, the panels
// and their borders: text and data.
func darkPixels(img image.Image, r image.Rectangle) int {
	n := 0
	r = r.Intersect(img.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			if (cr+cg+cb)/3 < 0x9000 {
				n++
			}
		}
	}
	return n
}

func TestRenderSampleDashboards(t *testing.T) {
	from := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	to := from.Add(90 * time.Second)
	for _, name := range []string{"fleet.json", "ops.json"} {
		t.Run(name, func(t *testing.T) {
			d := loadSample(t, name)
			var buf bytes.Buffer
			if err := WritePNG(&buf, d, sampleResults(d, from, to), Options{From: from, To: to}); err != nil {
				t.Fatal(err)
			}
			if dir := os.Getenv("STEWARD_PREVIEW_TEST_OUT"); dir != "" {
				// Look at the images: STEWARD_PREVIEW_TEST_OUT=/tmp/x.
				if err := os.WriteFile(filepath.Join(dir, d.UID+".png"), buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			img, err := png.Decode(&buf)
			if err != nil {
				t.Fatalf("the PNG does not decode: %v", err)
			}
			boxes, size := Place(d, 0)
			if img.Bounds().Size() != size || size.X != DefaultWidth || size.Y < 400 {
				t.Fatalf("image is %v, want %v (%d wide)", img.Bounds().Size(), size, DefaultWidth)
			}
			// Not blank: the page, the panels and the data differ.
			colours := map[[3]uint32]bool{}
			for y := 0; y < size.Y; y += 7 {
				for x := 0; x < size.X; x += 7 {
					r, g, b, _ := img.At(x, y).RGBA()
					colours[[3]uint32{r >> 8, g >> 8, b >> 8}] = true
				}
			}
			if len(colours) < 20 {
				t.Errorf("only %d colours sampled: the image is (nearly) blank", len(colours))
			}
			// The dashboard title and the label are written in the header.
			if n := darkPixels(img, image.Rect(margin, 8, margin+300, 34)); n < 100 {
				t.Errorf("title region has %d dark pixels: no title", n)
			}
			if n := darkPixels(img, image.Rect(margin, 36, margin+500, 56)); n < 100 {
				t.Errorf("label region has %d dark pixels: no label", n)
			}
			// Every panel's title is written at its top left.
			for _, b := range boxes {
				if b.Panel.Title == "" {
					continue
				}
				title := image.Rect(b.Rect.Min.X+6, b.Rect.Min.Y+4, min(b.Rect.Max.X, b.Rect.Min.X+120), b.Rect.Min.Y+24)
				if n := darkPixels(img, title); n < 30 {
					t.Errorf("panel %q: title region %v has %d dark pixels", b.Panel.Title, title, n)
				}
			}
		})
	}
}

// TestPlaceCollapsedRow: a collapsed row's panels are placed under it
// and push the panels below the row down by their height.
func TestPlaceCollapsedRow(t *testing.T) {
	d := loadSample(t, "fleet.json")
	boxes, _ := Place(d, 1600)
	at := map[string]image.Rectangle{}
	for _, b := range boxes {
		at[b.Panel.Title] = b.Rect
	}
	row, open, recent, after := at["Alerts"], at["Open alerts"], at["Recent alerts"], at["Notifications by state"]
	if open.Min.Y <= row.Min.Y || recent.Min.Y != open.Min.Y {
		t.Errorf("collapsed row's panels not under the row: row %v, open %v, recent %v", row, open, recent)
	}
	if after.Min.Y < recent.Max.Y {
		t.Errorf("panel after the collapsed row (%v) overlaps its panels (%v)", after, recent)
	}
	if w := at["Messages received"].Dx(); w < 600 || w > 680 {
		t.Errorf("a 10-column panel is %d px wide on 1600 px", w)
	}
}

func TestFormatValue(t *testing.T) {
	two := 2
	for _, c := range []struct {
		v    float64
		unit string
		dec  *int
		want string
	}{
		{0.8734, "percentunit", nil, "87.3%"},
		{0.0123, "s", nil, "12.3 ms"},
		{95, "s", nil, "1.58 min"},
		{1536, "bytes", nil, "1.5 KiB"},
		{25300, "", nil, "25.3 K"},
		{3, "", nil, "3"},
		{3.14159, "", &two, "3.14"},
		{1714564800, "dateTimeAsIso", nil, "2024-05-01 12:00:00"},
	} {
		if got := FormatValue(c.v, c.unit, c.dec); got != c.want {
			t.Errorf("FormatValue(%v, %q) = %q, want %q", c.v, c.unit, got, c.want)
		}
	}
}

func TestReduce(t *testing.T) {
	s := Series{Points: []Point{{V: 1}, {V: 4}, {V: math.NaN()}}}
	for calc, want := range map[string]float64{"lastNotNull": 4, "": 4, "max": 4, "min": 1, "mean": 2.5, "sum": 5, "count": 3, "delta": 3} {
		if got, ok := Reduce(s, calc); !ok || got != want {
			t.Errorf("Reduce(%q) = %v, %v; want %v", calc, got, ok, want)
		}
	}
	if got, ok := Reduce(s, "last"); !ok || !math.IsNaN(got) {
		t.Errorf("Reduce(last) = %v, want NaN", got)
	}
	if _, ok := Reduce(Series{}, "lastNotNull"); ok {
		t.Error("Reduce of an empty series is ok")
	}
}
