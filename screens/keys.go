package screens

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"
)

// Keyboard use: Tab moves through the widgets in reading order (Fyne's
// focus order is the order of the layout), Enter presses the screen's
// primary button, Escape closes a dialog.

// keyButton is a button that Enter and Return press as well as Space, so a
// person tabbing through a screen presses the focused button with Enter.
type keyButton struct {
	widget.Button
}

func newKeyButton(label string, icon fyne.Resource, tapped func()) *keyButton {
	b := &keyButton{}
	b.Text, b.Icon, b.OnTapped = label, icon, tapped
	b.ExtendBaseWidget(b)
	return b
}

// TypedKey presses the button on Enter, Return and Space.
func (b *keyButton) TypedKey(ev *fyne.KeyEvent) {
	switch ev.Name {
	case fyne.KeyReturn, fyne.KeyEnter:
		if !b.Disabled() && b.OnTapped != nil {
			b.OnTapped()
		}
	default:
		b.Button.TypedKey(ev)
	}
}

// escEntry is an entry that reports Escape, which a focused entry would
// otherwise swallow, so the dialog around it can close.
type escEntry struct {
	widget.Entry
	onEscape func()
}

func newEscEntry(password bool) *escEntry {
	e := &escEntry{}
	e.Password = password
	e.ExtendBaseWidget(e)
	return e
}

// TypedKey closes the dialog on Escape.
func (e *escEntry) TypedKey(ev *fyne.KeyEvent) {
	if ev.Name == fyne.KeyEscape && e.onEscape != nil {
		e.onEscape()
		return
	}
	e.Entry.TypedKey(ev)
}

// onKeys routes the keys nothing focused handled on c to f while c shows
// owner, and to the handler before it otherwise (the window's content may
// change while f is installed).
func onKeys(c fyne.Canvas, owner fyne.CanvasObject, f func(*fyne.KeyEvent) bool) {
	prev := c.OnTypedKey()
	c.SetOnTypedKey(func(ev *fyne.KeyEvent) {
		if shows(c, owner) && f(ev) {
			return
		}
		if prev != nil {
			prev(ev)
		}
	})
}

// shows reports whether o is visible on c: in its content or its top
// overlay.
func shows(c fyne.Canvas, o fyne.CanvasObject) bool {
	if top := c.Overlays().Top(); top != nil {
		return visible(top, o)
	}
	return c.Content() != nil && visible(c.Content(), o)
}

// visible reports whether o and all its ancestors under root are shown.
func visible(root, o fyne.CanvasObject) bool {
	found := false
	var walk func(c fyne.CanvasObject, shown bool) bool
	walk = func(c fyne.CanvasObject, shown bool) bool {
		shown = shown && c.Visible()
		if c == o {
			found = shown
			return true
		}
		var children []fyne.CanvasObject
		switch w := c.(type) {
		case *fyne.Container:
			children = w.Objects
		case *wizardView:
			children = []fyne.CanvasObject{w.content}
		}
		for _, ch := range children {
			if walk(ch, shown) {
				return true
			}
		}
		return false
	}
	walk(root, true)
	return found
}

// dialogShower is a Fyne dialog.
type dialogShower interface {
	Show()
	Hide()
	SetOnClosed(func())
}

// showEsc shows d over win with Escape closing it; entries inside must be
// escEntry to pass Escape on.
func showEsc(win fyne.Window, d dialogShower, entries ...*escEntry) {
	for _, e := range entries {
		e.onEscape = d.Hide
	}
	open := true
	d.SetOnClosed(func() { open = false })
	c := win.Canvas()
	prev := c.OnTypedKey()
	c.SetOnTypedKey(func(ev *fyne.KeyEvent) {
		if open && ev.Name == fyne.KeyEscape {
			d.Hide()
			return
		}
		if !open {
			c.SetOnTypedKey(prev) // closed: hand the keys back
		}
		if prev != nil {
			prev(ev)
		}
	})
	d.Show()
}
