package screens

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"licensedesk/licensecore"
)

// banner is a tinted, framed message with an icon, hidden until set. It is
// shared by the screens for warnings that must not be missed but are not
// worth a dialog.
type banner struct {
	box  *fyne.Container
	text *widget.Label
}

// importanceLook is the frame color and icon of a message of importance
// imp: green, orange or red.
func importanceLook(imp widget.Importance) (fyne.ThemeColorName, fyne.Resource) {
	switch imp {
	case widget.DangerImportance:
		return theme.ColorNameError, theme.NewErrorThemedResource(theme.ErrorIcon())
	case widget.SuccessImportance:
		return theme.ColorNameSuccess, theme.NewSuccessThemedResource(theme.ConfirmIcon())
	}
	return theme.ColorNameWarning, theme.NewWarningThemedResource(theme.WarningIcon())
}

// tintFrame paints bg as a light tint of the color name with a frame of it.
func tintFrame(bg *canvas.Rectangle, name fyne.ThemeColorName) {
	c := theme.Color(name)
	cr, cg, cb, _ := c.RGBA()
	bg.FillColor = color.NRGBA{R: uint8(cr >> 8), G: uint8(cg >> 8), B: uint8(cb >> 8), A: 0x26}
	bg.StrokeColor = c
	bg.StrokeWidth = 1
	bg.CornerRadius = theme.InputRadiusSize()
}

func newBanner(imp widget.Importance) *banner {
	name, icon := importanceLook(imp)
	bg := canvas.NewRectangle(color.Transparent)
	tintFrame(bg, name)
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

// statusLine is the top of the details screen: an icon, the headline of
// the worst condition, who the license is for, the sentence that explains
// it, and the one next action (with the other common action beside it).
type statusLine struct {
	box                        *fyne.Container
	bg                         *canvas.Rectangle
	icon                       *widget.Icon
	headline, licensee, detail *widget.Label
	action, second             *widget.Button
	actKind, secondKind        nextAction
}

func newStatusLine(on func(nextAction)) *statusLine {
	l := &statusLine{bg: canvas.NewRectangle(color.Transparent), icon: widget.NewIcon(nil)}
	l.headline = widget.NewLabel("")
	l.headline.SizeName = theme.SizeNameSubHeadingText
	l.headline.TextStyle.Bold = true
	l.headline.Wrapping = fyne.TextWrapWord
	l.licensee = widget.NewLabel("")
	l.licensee.Wrapping = fyne.TextWrapWord
	l.licensee.Selectable = true
	l.detail = wrapped("")
	l.action = widget.NewButton("", func() { on(l.actKind) })
	l.second = widget.NewButton("", func() { on(l.secondKind) })
	l.second.Importance = widget.LowImportance
	buttons := container.NewVBox(l.action, l.second)
	text := container.New(layout.NewCustomPaddedVBoxLayout(0), l.headline, l.licensee, l.detail)
	l.box = container.NewStack(l.bg, container.NewPadded(
		container.NewBorder(nil, nil, container.NewCenter(l.icon), container.NewCenter(buttons), text)))
	return l
}

// set shows condition c: its headline, the licensee and the explanation.
func (l *statusLine) set(c licensecore.Condition, headline, licensee, detail string) {
	imp := severityImportance(c)
	name, icon := importanceLook(imp)
	tintFrame(l.bg, name)
	l.bg.Refresh()
	l.icon.SetResource(icon)
	l.headline.SetText(headline)
	l.headline.Importance = imp
	l.licensee.SetText(licensee)
	l.licensee.Hidden = licensee == ""
	l.detail.SetText(detail)
	l.actKind = conditionAction(c)
	l.secondKind = actOpenAuthority
	if l.actKind == actOpenAuthority || l.actKind == actRenew {
		l.secondKind = actRefresh
	}
	l.action.SetText(actionLabels[l.actKind])
	l.action.Importance = widget.HighImportance
	if imp == widget.DangerImportance {
		l.action.Importance = widget.DangerImportance
	} else if c == licensecore.CondOK {
		l.action.Importance = widget.MediumImportance
	}
	l.action.Hidden = l.actKind == actNone
	l.second.SetText(actionLabels[l.secondKind])
	l.second.Hidden = l.actKind == actNone
	l.action.Refresh()
	l.second.Refresh()
}

// enable turns both buttons on or off (off while a refresh runs).
func (l *statusLine) enable(on bool) {
	for _, b := range []*widget.Button{l.action, l.second} {
		if on {
			b.Enable()
		} else {
			b.Disable()
		}
	}
}

// button returns the status line's button for kind, or nil.
func (l *statusLine) button(kind nextAction) *widget.Button {
	switch kind {
	case l.actKind:
		return l.action
	case l.secondKind:
		return l.second
	}
	return nil
}
