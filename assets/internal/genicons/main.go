// Command genicons draws License Desk's icons: the app icon and one tray icon
// per license state. They are generated rather than drawn by hand so that
// they stay simple, distinct and reproducible; run `go generate ./assets`.
package main

import (
	"image"
	"image/color"
	"image/png"
	"log"
	"math"
	"os"
	"path/filepath"
)

// shape reports how much a point (in a 0..1 unit square) is inside a shape.
type shape func(x, y float64) bool

type layer struct {
	in  shape
	col color.NRGBA
}

func circle(cx, cy, r float64) shape {
	return func(x, y float64) bool { return math.Hypot(x-cx, y-cy) <= r }
}

func ring(cx, cy, r, w float64) shape {
	return func(x, y float64) bool { return math.Abs(math.Hypot(x-cx, y-cy)-r) <= w/2 }
}

// stroke is a segment with round caps.
func stroke(x1, y1, x2, y2, w float64) shape {
	return func(x, y float64) bool {
		dx, dy := x2-x1, y2-y1
		t := ((x-x1)*dx + (y-y1)*dy) / (dx*dx + dy*dy)
		t = math.Max(0, math.Min(1, t))
		return math.Hypot(x-(x1+t*dx), y-(y1+t*dy)) <= w/2
	}
}

func roundRect(x0, y0, x1, y1, r float64) shape {
	return func(x, y float64) bool {
		cx := math.Max(x0+r, math.Min(x, x1-r))
		cy := math.Max(y0+r, math.Min(y, y1-r))
		return math.Hypot(x-cx, y-cy) <= r
	}
}

func union(s ...shape) shape {
	return func(x, y float64) bool {
		for _, f := range s {
			if f(x, y) {
				return true
			}
		}
		return false
	}
}

// render rasterises the layers with 4×4 supersampling so edges are smooth.
func render(size int, layers []layer) *image.NRGBA {
	const ss = 4
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	for py := 0; py < size; py++ {
		for px := 0; px < size; px++ {
			var r, g, b, a float64
			for sy := 0; sy < ss; sy++ {
				for sx := 0; sx < ss; sx++ {
					x := (float64(px) + (float64(sx)+0.5)/ss) / float64(size)
					y := (float64(py) + (float64(sy)+0.5)/ss) / float64(size)
					var c color.NRGBA
					for _, l := range layers {
						if l.in(x, y) {
							c = l.col
						}
					}
					ca := float64(c.A) / 255
					r += float64(c.R) * ca
					g += float64(c.G) * ca
					b += float64(c.B) * ca
					a += ca
				}
			}
			if a == 0 {
				continue
			}
			img.SetNRGBA(px, py, color.NRGBA{
				R: uint8(r / a), G: uint8(g / a), B: uint8(b / a),
				A: uint8(math.Round(a / (ss * ss) * 255)),
			})
		}
	}
	return img
}

var (
	white = color.NRGBA{0xff, 0xff, 0xff, 0xff}
	green = color.NRGBA{0x2e, 0x9d, 0x4f, 0xff}
	amber = color.NRGBA{0xf0, 0xa2, 0x0b, 0xff}
	red   = color.NRGBA{0xd3, 0x2f, 0x2f, 0xff}
	grey  = color.NRGBA{0x80, 0x86, 0x8c, 0xff}
	navy  = color.NRGBA{0x1f, 0x4e, 0x8c, 0xff}
)

func icons() map[string][]layer {
	const w = 0.12 // glyph stroke width
	disc := circle(0.5, 0.5, 0.46)
	return map[string][]layer{
		// A key on a rounded square: the license.
		"icon.png": {
			{roundRect(0.04, 0.04, 0.96, 0.96, 0.18), navy},
			{union(
				ring(0.34, 0.5, 0.15, 0.09),
				stroke(0.49, 0.5, 0.8, 0.5, 0.09),
				stroke(0.7, 0.5, 0.7, 0.62, 0.07),
				stroke(0.79, 0.5, 0.79, 0.6, 0.07),
			), white},
		},
		"tray_ok.png": {
			{disc, green},
			{union(stroke(0.28, 0.52, 0.44, 0.68, w), stroke(0.44, 0.68, 0.73, 0.34, w)), white},
		},
		"tray_warning.png": {
			{disc, amber},
			{union(stroke(0.5, 0.24, 0.5, 0.58, w), circle(0.5, 0.76, w/2+0.01)), white},
		},
		"tray_expired.png": {
			{disc, red},
			{union(stroke(0.32, 0.32, 0.68, 0.68, w), stroke(0.68, 0.32, 0.32, 0.68, w)), white},
		},
		"tray_unlicensed.png": {
			{ring(0.5, 0.5, 0.4, 0.1), grey},
			{stroke(0.32, 0.5, 0.68, 0.5, w), grey},
		},
	}
}

func main() {
	sizes := map[string]int{"icon.png": 256}
	for name, layers := range icons() {
		size := sizes[name]
		if size == 0 {
			size = 64
		}
		f, err := os.Create(filepath.Join(".", name))
		if err != nil {
			log.Fatal(err)
		}
		if err := png.Encode(f, render(size, layers)); err != nil {
			log.Fatal(err)
		}
		if err := f.Close(); err != nil {
			log.Fatal(err)
		}
	}
}
