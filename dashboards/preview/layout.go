package preview

import (
	"image"
	"sort"

	"github.com/steward-project/steward/dashboards/preview/grafanaq"
)

// Geometry of the image, in pixels. Grafana's grid has 24 columns; a
// height unit is 30 pixels plus an 8-pixel gap there, a little more here
// so that small panels keep room for their title.
const (
	DefaultWidth = 1600
	margin       = 16
	headerHeight = 64
	unitHeight   = 36
	gap          = 8
	gridColumns  = 24
)

// Box is where a panel is drawn: its rectangle in image pixels (origin
// top left), and whether it is a row header.
type Box struct {
	Panel *grafanaq.Panel
	Rect  image.Rectangle
	Row   bool
}

// Place lays out a dashboard's panels on an image of the given width and
// returns each panel's box and the size of the image. Panels of a
// collapsed row are laid out as if the row were expanded, pushing the
// panels below it down, as expanding it in Grafana would.
func Place(d *grafanaq.Dashboard, width int) ([]Box, image.Point) {
	if width <= 0 {
		width = DefaultWidth
	}
	top := append([]*grafanaq.Panel(nil), d.Panels...)
	sort.SliceStable(top, func(i, j int) bool {
		a, b := top[i].GridPos, top[j].GridPos
		if a.Y != b.Y {
			return a.Y < b.Y
		}
		return a.X < b.X
	})
	colW := float64(width-2*margin+gap) / gridColumns
	rect := func(g grafanaq.GridPos) image.Rectangle {
		w, h := g.W, g.H
		if w <= 0 {
			w = 12
		}
		if h <= 0 {
			h = 8
		}
		x0 := margin + int(float64(g.X)*colW)
		x1 := margin + int(float64(min(g.X+w, gridColumns))*colW) - gap
		y0 := headerHeight + g.Y*unitHeight
		return image.Rect(x0, y0, x1, y0+h*unitHeight-gap)
	}
	var boxes []Box
	offset, bottom := 0, 0
	for _, p := range top {
		g := p.GridPos
		g.Y += offset
		if p.Type == "row" {
			g.X, g.W, g.H = 0, gridColumns, 1
		}
		boxes = append(boxes, Box{Panel: p, Rect: rect(g), Row: p.Type == "row"})
		bottom = max(bottom, g.Y+max(g.H, 1))
		if p.Type != "row" || len(p.Panels) == 0 {
			continue
		}
		// A collapsed row keeps its panels with the positions they had
		// when it was expanded; place them right under the row.
		minY, maxY := p.Panels[0].GridPos.Y, 0
		for _, c := range p.Panels {
			minY = min(minY, c.GridPos.Y)
		}
		for _, c := range p.Panels {
			cg := c.GridPos
			if cg.H <= 0 {
				cg.H = 8
			}
			cg.Y = cg.Y - minY + g.Y + 1
			boxes = append(boxes, Box{Panel: c, Rect: rect(cg)})
			maxY = max(maxY, cg.Y+cg.H)
			bottom = max(bottom, maxY)
		}
		offset += maxY - (g.Y + 1)
	}
	return boxes, image.Pt(width, headerHeight+bottom*unitHeight+margin)
}
