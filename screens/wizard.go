package screens

import (
	"context"
	"errors"
	"image"
	"image/color"
	"strconv"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	"rsc.io/qr"

	"licensedesk/licensecore"
)

// Wizard steps, mirroring the seed's "Manage License" instructions.
const (
	stepInstructions = iota
	stepDevice
	stepCode
	stepComplete
	stepCount
)

var stepTitles = [stepCount]string{
	"Open the Authorization server",
	"Choose this device",
	"Enter the User Code",
	"Complete the authorization",
}

type wizard struct {
	ctx        context.Context
	svc        DeviceAuthorizer
	open       URLOpener
	onLicensed func(licensecore.Status)
	now        func() time.Time
	async      func(func())
	// do runs UI updates from background goroutines (fyne.Do). Tests
	// serialise it: Fyne's test driver runs them on the calling goroutine.
	do        func(func())
	tickEvery time.Duration

	step      int
	pages     [stepCount]fyne.CanvasObject
	stepLabel *widget.Label
	back      *widget.Button
	next      *widget.Button

	openErr    *widget.Label
	startBusy  *progress
	startErr   *banner
	retry      *widget.Button
	code       *widget.Label
	uri        *widget.Label
	qrBox      *fyne.Container // holds the current QR image, or nothing
	qrImage    *canvas.Image
	countdown  *widget.Label
	complete   *widget.Button
	finishBusy *progress
	finishErr  *banner

	// The current device authorization ("session"). gen tells results of an
	// abandoned session apart from the current one.
	da         *licensecore.DeviceAuthorization
	gen        int
	starting   bool
	polling    bool
	cancelPoll context.CancelFunc
	stopTick   func()
}

// NewWizard returns the license acquisition wizard. ctx ends every request
// and poll the wizard starts (cancel it when the window closes or the app
// moves on); onLicensed runs on the UI thread once the license is stored.
// A nil opener uses the current Fyne app to open the browser.
func NewWizard(ctx context.Context, svc DeviceAuthorizer, opener URLOpener, onLicensed func(licensecore.Status)) fyne.CanvasObject {
	return newWizard(ctx, svc, opener, onLicensed, time.Now).buildUI()
}

func newWizard(ctx context.Context, svc DeviceAuthorizer, opener URLOpener, onLicensed func(licensecore.Status), now func() time.Time) *wizard {
	return &wizard{
		ctx: ctx, svc: svc, open: openerOrApp(opener), onLicensed: onLicensed,
		now: now, async: goAsync, do: fyne.Do, tickEvery: time.Second,
	}
}

func (w *wizard) buildUI() fyne.CanvasObject {
	w.pages = [stepCount]fyne.CanvasObject{
		w.buildInstructions(), w.buildDevice(), w.buildCode(), w.buildComplete(),
	}
	w.stepLabel = widget.NewLabelWithStyle("", fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	w.back = widget.NewButtonWithIcon("Back", theme.NavigateBackIcon(), w.onBack)
	w.next = widget.NewButtonWithIcon("Next", theme.NavigateNextIcon(), w.onNext)
	w.next.IconPlacement = widget.ButtonIconTrailingText
	w.next.Importance = widget.HighImportance
	nav := container.NewBorder(nil, nil, w.back, w.next, w.stepLabel)
	w.showStep(stepInstructions)
	return container.NewBorder(nil, container.NewVBox(widget.NewSeparator(), nav), nil, nil,
		container.NewStack(w.pages[:]...))
}

func wrapped(text string) *widget.Label {
	l := widget.NewLabel(text)
	l.Wrapping = fyne.TextWrapWord
	return l
}

func (w *wizard) buildInstructions() fyne.CanvasObject {
	addr := widget.NewLabel(w.svc.AuthorityURL())
	addr.Selectable = true
	w.openErr = wrapped("")
	w.openErr.Importance = widget.DangerImportance
	w.openErr.Hide()
	return container.NewVBox(
		widget.NewRichTextFromMarkdown("This server has no license yet. To get one:\n\n"+
			"1. Open the **Authorization server** and log in.\n"+
			"2. Choose your organization.\n"+
			"3. Choose **Authorize Device**.\n\n"+
			"Then click **Next**."),
		container.NewHBox(widget.NewButtonWithIcon("Open Authorization server", theme.ComputerIcon(), w.onOpenAuthority), addr),
		w.openErr,
		widget.NewSeparator(),
		wrapped("No browser or no internet on this PC? Choose Offline activation… in the License menu: "+
			"a license request file gets a license to this server without a connection."),
	)
}

func (w *wizard) buildDevice() fyne.CanvasObject {
	name, install := w.svc.DeviceIdentity()
	nameL := widget.NewLabelWithStyle(name, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	nameL.Selectable = true
	installL := widget.NewLabelWithStyle(install, fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	installL.Selectable = true
	w.startBusy = newProgress("Asking the Authorization server for a User Code…")
	w.startErr = newBanner(widget.DangerImportance)
	w.retry = widget.NewButtonWithIcon("Retry", theme.ViewRefreshIcon(), w.onStart)
	w.retry.Hide()
	return container.NewVBox(
		wrapped("On the Authorize Device page, choose this device in the Device drop-down:"),
		container.New(layout.NewFormLayout(), widget.NewLabel("Device name"), nameL,
			widget.NewLabel("Install code"), installL),
		wrapped("Then click Next here to get a User Code."),
		w.startBusy.box,
		w.startErr.box,
		container.NewHBox(w.retry),
	)
}

func (w *wizard) buildCode() fyne.CanvasObject {
	w.code = widget.NewLabelWithStyle("", fyne.TextAlignCenter, fyne.TextStyle{Monospace: true})
	w.code.SizeName = theme.SizeNameHeadingText
	w.code.Selectable = true
	w.uri = widget.NewLabelWithStyle("", fyne.TextAlignCenter, fyne.TextStyle{})
	w.uri.Selectable = true
	w.uri.Wrapping = fyne.TextWrapBreak
	w.qrBox = container.NewCenter()
	w.countdown = widget.NewLabelWithStyle("", fyne.TextAlignCenter, fyne.TextStyle{})
	return container.NewVBox(
		wrapped("Enter this User Code on the Authorize Device page, then click Authorize there:"),
		w.code,
		container.NewCenter(widget.NewButtonWithIcon("Copy", theme.ContentCopyIcon(), w.onCopy)),
		w.countdown,
		wrapped("Or scan the QR code with a phone, or open this page:"),
		w.uri,
		w.qrBox,
	)
}

func (w *wizard) buildComplete() fyne.CanvasObject {
	w.complete = widget.NewButtonWithIcon("Complete Authorization", theme.ConfirmIcon(), w.onComplete)
	w.complete.Importance = widget.HighImportance
	w.finishBusy = newProgress("Waiting for the Authorization server…")
	w.finishErr = newBanner(widget.DangerImportance)
	return container.NewVBox(
		wrapped("After clicking Authorize on the Authorization server, click Complete Authorization. "+
			"License Desk also checks by itself, so the license may arrive before you click."),
		container.NewHBox(w.complete, w.finishBusy.box),
		w.finishErr.box,
	)
}

// showStep switches pages. The countdown ticker runs only while the code
// is on screen.
func (w *wizard) showStep(step int) {
	if w.step == stepCode && step != stepCode {
		w.stopTicker()
	}
	w.step = step
	for i, p := range w.pages {
		if i == step {
			p.Show()
		} else {
			p.Hide()
		}
	}
	w.stepLabel.SetText("Step " + strconv.Itoa(step+1) + " of " + strconv.Itoa(stepCount) + ": " + stepTitles[step])
	if step == stepCode && w.stopTick == nil {
		w.updateCountdown()
		if w.da != nil { // updateCountdown may have ended an expired session
			w.startTicker()
		}
	}
	w.updateNav()
	w.relayout()
}

// relayout lays the current page out again after texts or banners changed
// its size; a page filled while hidden keeps its old layout otherwise.
func (w *wizard) relayout() {
	w.pages[w.step].Refresh()
}

func (w *wizard) updateNav() {
	if w.step == stepInstructions || w.starting {
		w.back.Disable()
	} else {
		w.back.Enable()
	}
	if w.step == stepComplete {
		w.next.Hide()
	} else {
		w.next.Show()
	}
	if w.starting {
		w.next.Disable()
	} else {
		w.next.Enable()
	}
}

func (w *wizard) onNext() {
	switch w.step {
	case stepInstructions:
		w.showStep(stepDevice)
	case stepDevice:
		w.onStart()
	case stepCode:
		w.showStep(stepComplete)
	}
}

func (w *wizard) onBack() {
	switch w.step {
	case stepDevice:
		w.showStep(stepInstructions)
	case stepCode:
		// A new code is requested on the way forward again.
		w.endSession()
		w.showStep(stepDevice)
	case stepComplete:
		w.showStep(stepCode)
	}
}

func (w *wizard) onOpenAuthority() {
	msg := openAuthority(w.open, w.svc.AuthorityURL())
	w.openErr.SetText(msg)
	if msg == "" {
		w.openErr.Hide()
	} else {
		w.openErr.Show()
	}
}

// onStart requests a User Code in the background.
func (w *wizard) onStart() {
	if w.starting {
		return
	}
	w.starting = true
	w.startErr.set("")
	w.retry.Hide()
	w.startBusy.start()
	w.updateNav()
	w.relayout()
	w.async(func() {
		da, err := w.svc.StartDeviceAuth(w.ctx)
		w.do(func() { w.onStarted(da, err) })
	})
}

func (w *wizard) onStarted(da *licensecore.DeviceAuthorization, err error) {
	w.starting = false
	w.startBusy.stop()
	if err == nil && da == nil {
		err = licensecore.ErrAuthorityBroken
	}
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			w.startErr.set(Explain(err))
			w.retry.Show()
		}
		w.updateNav()
		w.relayout()
		return
	}
	w.beginSession(da)
}

func (w *wizard) beginSession(da *licensecore.DeviceAuthorization) {
	w.endSession()
	w.da = da
	w.code.SetText(da.UserCode)
	target := da.VerificationURIComplete
	if target == "" {
		target = da.VerificationURI
	}
	w.uri.SetText(target)
	w.setQR(target)
	w.startPoll()
	w.showStep(stepCode)
}

// setQR shows target as a QR code so a phone can open the page with the
// code already filled in. Each code gets a new image object, so no painter
// keeps showing a cached picture of the previous one.
func (w *wizard) setQR(target string) {
	w.qrImage = nil
	w.qrBox.RemoveAll()
	if target == "" {
		return
	}
	c, err := qr.Encode(target, qr.M)
	if err != nil {
		return // too long for a QR code: the link is shown as text anyway
	}
	w.qrImage = canvas.NewImageFromImage(qrImage(c))
	w.qrImage.FillMode = canvas.ImageFillContain
	w.qrImage.ScaleMode = canvas.ImageScalePixels // crisp modules, scanned from a screen
	w.qrImage.SetMinSize(fyne.NewSquareSize(180))
	w.qrBox.Add(w.qrImage)
}

// qrImage draws c at one pixel per module with the 4-module quiet zone
// scanners need. (qr.Code.Image ignores both Scale and the quiet zone.)
func qrImage(c *qr.Code) image.Image {
	const quiet = 4
	n := c.Size + 2*quiet
	img := image.NewGray(image.Rect(0, 0, n, n))
	for y := range n {
		for x := range n {
			if !c.Black(x-quiet, y-quiet) {
				img.SetGray(x, y, color.Gray{Y: 0xff})
			}
		}
	}
	return img
}

// endSession abandons the current device authorization, if any.
func (w *wizard) endSession() {
	w.gen++
	if w.cancelPoll != nil {
		w.cancelPoll()
		w.cancelPoll = nil
	}
	w.stopTicker()
	w.da = nil
	w.polling = false
	w.finishBusy.stop()
	w.finishErr.set("")
	w.complete.Enable()
}

// failSession returns to the device step with the reason in plain words.
func (w *wizard) failSession(reason string) {
	w.endSession()
	w.startErr.set(reason)
	w.showStep(stepDevice)
}

// startPoll waits for the authorization in the background. The poll's
// deadline is the code's expiry: after that no answer can be a grant.
func (w *wizard) startPoll() {
	ctx, cancel := context.WithCancel(w.ctx)
	if !w.da.Expiry.IsZero() {
		// Measured with the wizard's clock, like the countdown, so both end
		// together.
		ctx, cancel = context.WithTimeout(w.ctx, w.da.Expiry.Sub(w.now()))
	}
	w.cancelPoll = cancel
	w.polling = true
	gen, da := w.gen, w.da
	w.async(func() {
		st, err := w.svc.CompleteDeviceAuth(ctx, da)
		expired := errors.Is(ctx.Err(), context.DeadlineExceeded)
		cancel()
		w.do(func() { w.onPollResult(gen, st, err, expired) })
	})
}

func (w *wizard) onPollResult(gen int, st licensecore.Status, err error, expired bool) {
	if gen != w.gen {
		return // a result for a code the person has abandoned
	}
	w.polling = false
	switch {
	case err == nil:
		w.endSession()
		if w.onLicensed != nil {
			w.onLicensed(st)
		}
	case expired || errors.Is(err, licensecore.ErrDeviceCodeExpired):
		w.failSession(msgExpired)
	case errors.Is(err, context.Canceled):
		// The app is closing the wizard.
	case errors.Is(err, licensecore.ErrAuthorityDown):
		// Still offline after the client's retries: the code may still be
		// good, so let the person try again from this step.
		w.finishBusy.stop()
		w.complete.Enable()
		w.finishErr.set(Explain(err))
		w.relayout()
	default:
		// Denied, revoked, or an answer that cannot be trusted: this code is
		// spent, the person must start again with a new one.
		w.failSession(Explain(err))
	}
}

// onComplete shows progress until the poll (already running since the code
// appeared, or restarted after a network failure) returns.
func (w *wizard) onComplete() {
	if w.da == nil {
		w.failSession(msgExpired)
		return
	}
	w.complete.Disable()
	w.finishErr.set("")
	w.finishBusy.start()
	w.relayout()
	if !w.polling {
		w.startPoll()
	}
}

func (w *wizard) onCopy() {
	fyne.CurrentApp().Clipboard().SetContent(w.code.Text)
}

// updateCountdown shows the time left on the code and ends the session
// when it runs out.
func (w *wizard) updateCountdown() {
	if w.da == nil || w.da.Expiry.IsZero() {
		w.countdown.SetText("")
		return
	}
	left := w.da.Expiry.Sub(w.now())
	if left <= 0 {
		w.failSession(msgExpired)
		return
	}
	w.countdown.SetText("This code expires in " + countdown(left) + ".")
}

func (w *wizard) startTicker() {
	stop := make(chan struct{})
	w.stopTick = func() { close(stop) }
	ctx, every := w.ctx, w.tickEvery
	w.async(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				w.do(func() {
					select {
					case <-stop: // a tick queued before the step was left
					default:
						w.updateCountdown()
					}
				})
			}
		}
	})
}

func (w *wizard) stopTicker() {
	if w.stopTick != nil {
		w.stopTick()
		w.stopTick = nil
	}
}
