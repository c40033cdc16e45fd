package screens

import (
	"slices"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"licensedesk/licensecore"
	"licensedesk/licensecore/wire"
)

// The cloud license screen's layout: headings over their columns, whole
// descriptions, one scroll (the tab's), and confirmations Escape closes.

// Pool licenses as the demo authority seeds them.
var (
	poolCap8 = wire.PoolLicense{ID: "POOL-CAP-8", Kind: wire.PoolCapacity, Devices: 8, TransferDate: t0.AddDate(0, 0, -20)}
	poolCap1 = wire.PoolLicense{ID: "POOL-CAP-1", Kind: wire.PoolCapacity, Devices: 1, TransferDate: t0.AddDate(0, 0, -5)}
	poolMnt  = wire.PoolLicense{ID: "POOL-MNT-1", Kind: wire.PoolMaintenance,
		MaintenanceUntil: time.Date(2027, 12, 31, 0, 0, 0, 0, time.UTC), TransferDate: t0.AddDate(0, -2, 0)}
	poolMine = licensecore.ActivatedLicense{PoolLicense: wire.PoolLicense{ID: "POOL-CAP-4", Kind: wire.PoolCapacity, Devices: 4,
		TransferDate: t0.AddDate(0, -3, 0)}, State: licensecore.ActivationActive, ActivatedAt: t0.AddDate(0, 0, -30)}
)

// loadedPool has three licenses in the cloud pool and one on this server.
func loadedPool() *fakePool {
	return &fakePool{available: []wire.PoolLicense{poolCap8, poolCap1, poolMnt}, mine: []licensecore.ActivatedLicense{poolMine}}
}

// poolFixture is the cloud license screen in a window, inside a vertical
// scroll as the app's tabs show every screen.
type poolFixture struct {
	p  *pool
	ui fyne.CanvasObject // the screen, without the tab's scroll
	w  fyne.Window
}

// newPoolFixture shows the screen in a window of size and downloads the
// pool's list.
func newPoolFixture(t *testing.T, svc PoolService, size fyne.Size) *poolFixture {
	t.Helper()
	test.NewTempApp(t)
	w := test.NewTempWindow(t, nil)
	p := newPool(t.Context(), svc, &fakeGate{}, w, syncAsync)
	p.loc = time.UTC
	f := &poolFixture{p: p, ui: p.buildUI(), w: w}
	w.SetContent(container.NewVScroll(f.ui))
	w.Resize(size)
	tap(t, p.downloadBtn)
	return f
}

// shows reports whether a visible label on the screen says text.
func (f *poolFixture) shows(text string) bool {
	return slices.Contains(texts(f.ui), text)
}

// narrowSize is the narrow window of the goldens.
var narrowSize = fyne.NewSize(500, 700)

// labels are the shown labels under root saying text, in reading order,
// inside widgets (a list's rows) too.
func labels(root fyne.CanvasObject, text string) []*widget.Label {
	var out []*widget.Label
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		if !o.Visible() {
			return
		}
		switch o := o.(type) {
		case *widget.Label:
			if o.Text == text {
				out = append(out, o)
			}
		case *fyne.Container:
			for _, c := range o.Objects {
				walk(c)
			}
		case fyne.Widget:
			for _, c := range test.WidgetRenderer(o).Objects() {
				walk(c)
			}
		}
	}
	walk(root)
	return out
}

// at is where o is on its window's canvas.
func at(o fyne.CanvasObject) fyne.Position {
	return fyne.CurrentApp().Driver().AbsolutePositionForObject(o)
}

// TestPoolHeadingsOverColumns: each heading starts where the cells of its
// column start, in both tables, and the two tables' columns line up.
func TestPoolHeadingsOverColumns(t *testing.T) {
	for _, size := range []fyne.Size{goldenSize, narrowSize} {
		f := newPoolFixture(t, loadedPool(), size)
		settle(f.w)
		// The first of each heading is the cloud pool's table, the second
		// this server's.
		for _, col := range []struct {
			heading string
			nth     int
			cell    string
		}{
			{"License ID", 0, "POOL-CAP-8"}, {"Transfer Date", 0, "18 Feb 2026"}, {"Description", 0, "8 devices"},
			{"License ID", 1, "POOL-CAP-4"}, {"Activated", 0, "8 Feb 2026"}, {"Description", 1, "4 devices"},
		} {
			hs, cs := labels(f.ui, col.heading), labels(f.ui, col.cell)
			if len(hs) <= col.nth || len(cs) != 1 {
				t.Fatalf("%v: %d headings %q, %d cells %q", size, len(hs), col.heading, len(cs), col.cell)
			}
			h, c := at(hs[col.nth]), at(cs[0])
			if h.X != c.X || h.Y >= c.Y {
				t.Errorf("%v: heading %q at %v, its column's cell %q at %v", size, col.heading, h, col.cell, c)
			}
		}
		ids, descs := labels(f.ui, "License ID"), labels(f.ui, "Description")
		if len(ids) != 2 || len(descs) != 2 || at(ids[0]).X != at(ids[1]).X || at(descs[0]).X != at(descs[1]).X {
			t.Errorf("%v: the two tables' columns do not line up", size)
		}
	}
}

// TestPoolDescriptionWhole: "Maintenance until 31 Dec 2027" fits its cell
// and the window, at the default and the narrow width, and wraps in the
// narrowest window the screen allows.
func TestPoolDescriptionWhole(t *testing.T) {
	for _, size := range []fyne.Size{goldenSize, narrowSize, {Width: 0, Height: 700}} {
		f := newPoolFixture(t, loadedPool(), size)
		if size.Width == 0 {
			// As narrow as the window can be made: the screen's minimum
			// and the window's padding.
			settle(f.w)
			size.Width = f.w.Content().MinSize().Width + 2*theme.Padding()
			f.w.Resize(size)
		}
		settle(f.w)
		ls := labels(f.ui, "Maintenance until 31 Dec 2027")
		if len(ls) != 1 {
			t.Fatalf("%v: %d maintenance descriptions; screen shows %q", size, len(ls), texts(f.ui))
		}
		l := ls[0]
		min, got := l.MinSize(), l.Size()
		if min.Width > got.Width || min.Height > got.Height {
			t.Errorf("%v: the description needs %v, its cell is %v", size, min, got)
		}
		if right := at(l).X + got.Width; right > f.w.Canvas().Size().Width {
			t.Errorf("%v: the description ends at x=%v, past the window", size, right)
		}
		oneLine := labels(f.ui, "8 devices")[0].Size().Height
		if wraps := got.Height > oneLine; wraps != (size.Width < narrowSize.Width) {
			t.Errorf("%v: the description is %v high, one line %v", size, got.Height, oneLine)
		}
	}
}

// TestPoolSingleScroll: nothing in the screen scrolls by itself, so inside
// the tab's scroll there is one scroll bar and the wheel moves the page.
func TestPoolSingleScroll(t *testing.T) {
	f := newPoolFixture(t, loadedPool(), goldenSize)
	settle(f.w)
	for _, o := range test.LaidOutObjects(f.ui) {
		switch o.(type) {
		case *container.Scroll, *widget.List, *widget.Table, *widget.Tree, *widget.GridWrap:
			t.Errorf("the screen holds a %T: a scroll inside the tab's", o)
		}
	}
}

// escape presses Escape in w as the keyboard does when no entry has focus.
func escape(t *testing.T, w fyne.Window) {
	t.Helper()
	on := w.Canvas().OnTypedKey()
	if on == nil {
		t.Fatal("nothing handles keys in the window")
	}
	on(&fyne.KeyEvent{Name: fyne.KeyEscape})
}

// manageDialog shows the manage screen of a licensed server and presses
// the button that opens a dialog; the dialog is top.
func manageDialog(t *testing.T, button func(*manage) *widget.Button) (gate *fakeGate, w fyne.Window, top fyne.CanvasObject) {
	t.Helper()
	test.NewTempApp(t)
	gate = &fakeGate{}
	w = goldenWindow(t, nil)
	svc := &fakeLifecycle{st: licensedStatus()}
	m := newManage(t.Context(), svc, gate, w, NewStatusBinding(svc.st), &fakeOpener{}, func(licensecore.Status) {}, syncAsync)
	showIn(w, m.buildUI())
	tap(t, button(m))
	if top = w.Canvas().Overlays().Top(); top == nil {
		t.Fatal("no dialog")
	}
	return gate, w, top
}

// TestEscapeClosesConfirmations: Escape closes the Switch license model and
// Transfer to cloud confirmations without doing anything.
func TestEscapeClosesConfirmations(t *testing.T) {
	t.Run("switch", func(t *testing.T) {
		gate, w, top := manageDialog(t, func(m *manage) *widget.Button { return m.switchBtn })
		findButton(t, top, "Request the switch")
		findButton(t, top, "Cancel")
		assertGolden(t, "dialog_switch.xml", w)
		escape(t, w)
		if w.Canvas().Overlays().Top() != nil || len(gate.actions) != 0 {
			t.Errorf("Escape: dialog still shown %v, gate asked %v", w.Canvas().Overlays().Top() != nil, gate.actions)
		}
	})
	t.Run("transfer", func(t *testing.T) {
		fake := loadedPool()
		f := newPoolFixture(t, fake, goldenSize)
		tap(t, f.p.all)
		if f.w.Canvas().Overlays().Top() == nil {
			t.Fatal("Transfer all asked nothing")
		}
		escape(t, f.w)
		if f.w.Canvas().Overlays().Top() != nil || fake.returned != nil || len(fake.mine) != 1 {
			t.Errorf("Escape: dialog still shown %v, returned %v", f.w.Canvas().Overlays().Top() != nil, fake.returned)
		}
	})
}
