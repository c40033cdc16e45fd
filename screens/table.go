package screens

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
)

// columns lays out tables whose cells are in rows of n, the header being
// the first row, so every heading stands exactly over its column, and the
// columns of all the tables made from the same columns line up with each
// other. Each column is as wide as its widest cell; the last one takes the
// rest of the width and its cells wrap, so a long description never runs
// past the window.
//
// A table never scrolls: the screens sit in the tab's own scroll, and a
// second scroll inside it gives two scroll bars and a wheel that scrolls
// the wrong one.
type columns struct {
	n      int
	tables []*fyne.Container
}

// newTable is a table of cells, n a row, laid out with the other tables of
// c.
func (c *columns) newTable(cells ...fyne.CanvasObject) *fyne.Container {
	t := container.New(&tableLayout{c}, cells...)
	c.tables = append(c.tables, t)
	return t
}

// refresh lays out every table again after one of them changed, since a
// wider cell in one widens the column in all.
func (c *columns) refresh() {
	for _, t := range c.tables {
		t.Refresh()
	}
}

// widths of the columns in a table width wide: objects are the cells of
// the table being laid out, which counts even before it is shown.
func (c *columns) widths(objects []fyne.CanvasObject, width float32) []float32 {
	w := make([]float32, c.n)
	measure := func(cells []fyne.CanvasObject) {
		for i, o := range cells {
			if o.Visible() {
				w[i%c.n] = max(w[i%c.n], o.MinSize().Width)
			}
		}
	}
	measure(objects)
	for _, t := range c.tables {
		if t.Visible() {
			measure(t.Objects)
		}
	}
	pad := theme.Padding()
	rest := width - pad*float32(c.n-1)
	for _, x := range w[:c.n-1] {
		rest -= x
	}
	w[c.n-1] = max(w[c.n-1], rest)
	return w
}

type tableLayout struct {
	cols *columns
}

// rowHeight is the tallest cell of the row starting at objects[first], at
// the cells' current widths (a wrapped label is as tall as its lines).
func (t *tableLayout) rowHeight(objects []fyne.CanvasObject, first int) float32 {
	var h float32
	for _, o := range objects[first:min(first+t.cols.n, len(objects))] {
		if o.Visible() {
			h = max(h, o.MinSize().Height)
		}
	}
	return h
}

// Layout sizes the cells to their column first, so wrapped cells know
// their height, then places them row by row.
func (t *tableLayout) Layout(objects []fyne.CanvasObject, size fyne.Size) {
	w := t.cols.widths(objects, size.Width)
	pad := theme.Padding()
	var y float32
	for first := 0; first < len(objects); first += t.cols.n {
		row := objects[first:min(first+t.cols.n, len(objects))]
		for i, o := range row {
			o.Resize(fyne.NewSize(w[i], o.Size().Height))
		}
		var x float32
		for i, o := range row {
			// Each cell as tall as it needs, from the top of the row: a
			// check box stays beside the first line of a wrapped cell.
			o.Move(fyne.NewPos(x, y))
			o.Resize(fyne.NewSize(w[i], o.MinSize().Height))
			x += w[i] + pad
		}
		y += t.rowHeight(objects, first) + pad
	}
}

// MinSize is the narrowest table with every cell whole, as tall as its
// rows at their last layout.
func (t *tableLayout) MinSize(objects []fyne.CanvasObject) fyne.Size {
	var width, height float32
	for _, c := range t.cols.widths(objects, 0) {
		width += c
	}
	rows := 0
	for first := 0; first < len(objects); first += t.cols.n {
		height += t.rowHeight(objects, first)
		rows++
	}
	pad := theme.Padding()
	width += pad * float32(t.cols.n-1)
	if rows > 1 {
		height += pad * float32(rows-1)
	}
	return fyne.NewSize(width, height)
}
