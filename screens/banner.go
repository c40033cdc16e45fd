package screens

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// banner is a tinted, framed message with an icon, hidden until set. It is
// shared by the screens for warnings that must not be missed but are not
// worth a dialog.
type banner struct {
	box  *fyne.Container
	text *widget.Label
}

func newBanner(imp widget.Importance) *banner {
	name, icon := theme.ColorNameWarning, fyne.Resource(theme.NewWarningThemedResource(theme.WarningIcon()))
	if imp == widget.DangerImportance {
		name, icon = theme.ColorNameError, theme.NewErrorThemedResource(theme.ErrorIcon())
	}
	c := theme.Color(name)
	cr, cg, cb, _ := c.RGBA()
	bg := canvas.NewRectangle(color.NRGBA{R: uint8(cr >> 8), G: uint8(cg >> 8), B: uint8(cb >> 8), A: 0x26})
	bg.StrokeColor = c
	bg.StrokeWidth = 1
	bg.CornerRadius = theme.InputRadiusSize()
	text := widget.NewLabel("")
	text.Wrapping = fyne.TextWrapWord
	b := &banner{
		box:  container.NewStack(bg, container.NewBorder(nil, nil, container.NewCenter(widget.NewIcon(icon)), nil, text)),
		text: text,
	}
	b.box.Hide()
	return b
}

// set shows the banner with msg, or hides it when msg is empty.
func (b *banner) set(msg string) {
	b.text.SetText(msg)
	if msg == "" {
		b.box.Hide()
	} else {
		b.box.Show()
	}
}

// progress is a spinner with a line saying what is being waited for,
// hidden while idle.
type progress struct {
	box      *fyne.Container
	activity *widget.Activity
	text     *widget.Label
}

func newProgress(text string) *progress {
	p := &progress{activity: widget.NewActivity(), text: widget.NewLabel(text)}
	p.box = container.NewHBox(p.activity, p.text)
	p.box.Hide()
	return p
}

func (p *progress) start() {
	p.box.Show()
	p.activity.Start()
}

func (p *progress) stop() {
	p.activity.Stop()
	p.box.Hide()
}

func (p *progress) running() bool { return p.box.Visible() }

// screenTitle is the bold sub-heading at the top of each screen.
func screenTitle(text string) *widget.Label {
	l := widget.NewLabel(text)
	l.SizeName = theme.SizeNameSubHeadingText
	l.TextStyle.Bold = true
	return l
}
