package screens

import (
	"context"
	"errors"
	"image"
	"image/color"
	"net/url"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	"rsc.io/qr"

	"licensedesk/licensecore"
	"licensedesk/screens/plain"
)

// Wizard steps, mirroring the seed's "Manage License" instructions.
const (
	stepInstructions = iota
	stepDevice
	stepCode
	stepComplete
	stepDone
	stepCount
)

var stepTitles = [stepCount]string{
	"Open the Authorization server",
	"Choose this device",
	"Enter the User Code",
	"Complete the authorization",
	"Licensed",
}

// WizardEvents are the wizard's callbacks; both run on the UI thread.
type WizardEvents struct {
	// Licensed runs the moment the license is stored, however it arrived
	// (Complete Authorization, or the wizard's own polling after an
	// approval on the web): publish the status, send LicensedNotice.
	Licensed func(licensecore.Status)
	// Done runs when the person leaves the "Licensed" confirmation with
	// Show license details: switch to the details screen.
	Done func(licensecore.Status)
}

type wizard struct {
	ctx   context.Context
	svc   DeviceAuthorizer
	open  URLOpener
	ev    WizardEvents
	now   func() time.Time
	async func(func())
	// do runs UI updates from background goroutines (fyne.Do). Tests
	// serialise it: Fyne's test driver runs them on the calling goroutine.
	do        func(func())
	tickEvery time.Duration

	view      *wizardView
	keysBound bool
	step      int
	pages     [stepCount]fyne.CanvasObject
	stepLabel *widget.Label
	back      *keyButton
	next      *keyButton

	openErr    *widget.Label
	copyAddr   *widget.Button
	startBusy  *progress
	startErr   *banner
	retry      *keyButton
	attempts   int
	code       *widget.Label
	uri        *widget.Label
	qrBox      *fyne.Container // holds the current QR image, or nothing
	qrImage    *canvas.Image
	countdown  *widget.Label
	code4      *widget.Label // the code again while waiting, with its countdown
	countdown4 *widget.Label
	complete   *keyButton
	finishBusy *progress
	finishErr  *banner
	doneLine   *widget.Label
	licensee   *widget.Label
	doneBtn    *keyButton
	licensed   licensecore.Status

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
// moves on); onLicensed runs on the UI thread when the person leaves the
// "Licensed" confirmation (WizardEvents.Done). A nil opener uses the
// current Fyne app to open the browser.
func NewWizard(ctx context.Context, svc DeviceAuthorizer, opener URLOpener, onLicensed func(licensecore.Status)) fyne.CanvasObject {
	return NewWizardEvents(ctx, svc, opener, WizardEvents{Done: onLicensed})
}

// NewWizardEvents is NewWizard with both events: Licensed at once, Done
// after the confirmation. The app must then keep the wizard on screen
// while the new status is published, until Done.
func NewWizardEvents(ctx context.Context, svc DeviceAuthorizer, opener URLOpener, ev WizardEvents) fyne.CanvasObject {
	return newWizard(ctx, svc, opener, ev, time.Now).buildUI()
}

func newWizard(ctx context.Context, svc DeviceAuthorizer, opener URLOpener, ev WizardEvents, now func() time.Time) *wizard {
	return &wizard{
		ctx: ctx, svc: svc, open: openerOrApp(opener), ev: ev,
		now: now, async: goAsync, do: fyne.Do, tickEvery: time.Second,
	}
}

func (w *wizard) buildUI() fyne.CanvasObject {
	w.pages = [stepCount]fyne.CanvasObject{
		w.buildInstructions(), w.buildDevice(), w.buildCode(), w.buildComplete(), w.buildDone(),
	}
	w.stepLabel = widget.NewLabelWithStyle("", fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	w.back = newKeyButton("Back", theme.NavigateBackIcon(), w.onBack)
	w.next = newKeyButton("Next", theme.NavigateNextIcon(), w.onNext)
	w.next.IconPlacement = widget.ButtonIconTrailingText
	w.next.Importance = widget.HighImportance
	nav := container.NewBorder(nil, nil, w.back, w.next, w.stepLabel)
	w.showStep(stepInstructions)
	w.view = newWizardView(w, container.NewBorder(nil, container.NewVBox(widget.NewSeparator(), nav), nil, nil,
		container.NewStack(w.pages[:]...)))
	return w.view
}

// wizardView holds the wizard's content; once it is on a canvas it makes
// Enter press the current step's primary button.
type wizardView struct {
	widget.BaseWidget
	w       *wizard
	content fyne.CanvasObject
}

func newWizardView(w *wizard, content fyne.CanvasObject) *wizardView {
	v := &wizardView{w: w, content: content}
	v.ExtendBaseWidget(v)
	return v
}

func (v *wizardView) CreateRenderer() fyne.WidgetRenderer {
	return &wizardRenderer{WidgetRenderer: widget.NewSimpleRenderer(v.content), v: v}
}

type wizardRenderer struct {
	fyne.WidgetRenderer
	v *wizardView
}

func (r *wizardRenderer) Layout(size fyne.Size) {
	r.WidgetRenderer.Layout(size)
	r.v.w.bindKeys()
}

// bindKeys makes Enter press the primary button, once the wizard is on a
// canvas (a focused button handles Enter itself).
func (w *wizard) bindKeys() {
	if w.keysBound || fyne.CurrentApp() == nil {
		return
	}
	c := fyne.CurrentApp().Driver().CanvasForObject(w.view)
	if c == nil {
		return
	}
	w.keysBound = true
	onKeys(c, w.view, func(ev *fyne.KeyEvent) bool {
		if ev.Name != fyne.KeyReturn && ev.Name != fyne.KeyEnter {
			return false
		}
		if b := w.primary(); b.Visible() && !b.Disabled() {
			b.OnTapped()
		}
		return true
	})
}

// primary is the button Enter presses on the current step.
func (w *wizard) primary() *keyButton {
	switch w.step {
	case stepComplete:
		return w.complete
	case stepDone:
		return w.doneBtn
	}
	return w.next
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
	w.copyAddr = widget.NewButtonWithIcon("Copy address", theme.ContentCopyIcon(), func() {
		fyne.CurrentApp().Clipboard().SetContent(w.deviceURL())
	})
	w.copyAddr.Hide()
	return container.NewVBox(
		widget.NewRichTextFromMarkdown("This server has no license yet. To get one:\n\n"+
			"1. Open the **Authorization server** and log in.\n"+
			"2. Choose your organization.\n"+
			"3. Choose **Authorize Device**.\n\n"+
			"Then click **Next**."),
		container.NewHBox(newKeyButton("Open Authorization server", theme.ComputerIcon(), w.onOpenAuthority), addr),
		w.openErr, container.NewHBox(w.copyAddr),
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
	w.retry = newKeyButton("Retry", theme.ViewRefreshIcon(), w.onStart)
	w.retry.Hide()
	return container.NewVBox(
		wrapped("On the Authorize Device page, open the Device list. It names each device as the Authorization server "+
			"registered it, with its Server ID, for example \u201cBack office PC (POS-0009)\u201d. Choose the one marked "+
			"\u201c(this PC)\u201d: it is listed first when the page knows this PC's install code. No device marked? "+
			"Choose the device registered for this PC, or ask your provider which one it is."),
		container.New(layout.NewFormLayout(),
			widget.NewLabel("This PC's name"), nameL,
			widget.NewLabel("Install code"), installL),
		wrapped("The next page of the Authorization server shows \u201cRequesting PC\u201d and \u201cInstall code\u201d: "+
			"they must match the two lines above. Then click Next here to get a User Code."),
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
	w.complete = newKeyButton("Complete Authorization", theme.ConfirmIcon(), w.onComplete)
	w.complete.Importance = widget.HighImportance
	w.finishBusy = newProgress("Waiting for the Authorization server…")
	w.finishErr = newBanner(widget.DangerImportance)
	w.code4 = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	w.code4.SizeName = theme.SizeNameSubHeadingText
	w.code4.Selectable = true
	w.countdown4 = widget.NewLabel("")
	return container.NewVBox(
		wrapped("After clicking Authorize on the Authorization server, click Complete Authorization. "+
			"License Desk also checks by itself, so the license may arrive before you click."),
		container.NewHBox(widget.NewLabel("User Code"), w.code4, w.countdown4),
		container.NewHBox(w.complete, w.finishBusy.box),
		w.finishErr.box,
	)
}

func (w *wizard) buildDone() fyne.CanvasObject {
	w.doneLine = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	w.doneLine.SizeName = theme.SizeNameSubHeadingText
	w.doneLine.Importance = widget.SuccessImportance
	w.doneLine.Wrapping = fyne.TextWrapWord
	w.licensee = wrapped("")
	w.doneBtn = newKeyButton("Show license details", theme.NavigateNextIcon(), w.onDone)
	w.doneBtn.Importance = widget.HighImportance
	return container.NewVBox(
		container.NewBorder(nil, nil, widget.NewIcon(theme.NewSuccessThemedResource(theme.ConfirmIcon())), nil, w.doneLine),
		w.licensee,
		wrapped("License Desk keeps the license token fresh by itself while this server is online."),
		container.NewHBox(w.doneBtn),
	)
}

// showDone confirms the license, however it arrived.
func (w *wizard) showDone(st licensecore.Status) {
	w.licensed = st
	w.doneLine.SetText("This server is licensed")
	who := plain.Licensee(st.License)
	if who != "" {
		who = "License for " + who + "."
	}
	w.licensee.SetText(who)
	w.showStep(stepDone)
}

func (w *wizard) onDone() {
	if w.ev.Done != nil {
		w.ev.Done(w.licensed)
	}
}

// showStep switches pages. The countdown ticker runs only while the code
// is on screen.
func (w *wizard) showStep(step int) {
	if showsCode(w.step) && !showsCode(step) {
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
	label := "Step " + strconv.Itoa(step+1) + " of " + strconv.Itoa(stepDone) + ": " + stepTitles[step]
	if step == stepDone {
		label = stepTitles[step]
	}
	w.stepLabel.SetText(label)
	if showsCode(step) && w.stopTick == nil {
		w.updateCountdown()
		if w.da != nil { // updateCountdown may have ended an expired session
			w.startTicker()
		}
	}
	w.updateNav()
	w.relayout()
}

// showsCode: the code and its countdown are on screen on the code step and
// while waiting for the authorization.
func showsCode(step int) bool { return step == stepCode || step == stepComplete }

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
	if w.step == stepDone {
		w.back.Hide()
	} else {
		w.back.Show()
	}
	if w.step >= stepComplete {
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

// deviceURL is the Authorize Device page with this PC's install code, so
// the page can list this PC's device first and mark it.
func (w *wizard) deviceURL() string {
	_, install := w.svc.DeviceIdentity()
	u := strings.TrimRight(w.svc.AuthorityURL(), "/") + "/device"
	if install != "" {
		u += "?install_code=" + url.QueryEscape(install)
	}
	return u
}

// onOpenAuthority opens the Authorize Device page; when no browser opens,
// it says so and offers to copy the address.
func (w *wizard) onOpenAuthority() {
	msg := openAuthority(w.open, w.deviceURL())
	w.openErr.SetText(msg)
	if msg == "" {
		w.openErr.Hide()
		w.copyAddr.Hide()
	} else {
		w.openErr.Show()
		w.copyAddr.Show()
	}
	w.relayout()
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
			w.attempts++
			msg := w.explain(err)
			if w.attempts > 1 {
				// The same sentence again would look as if Retry did nothing.
				msg += " (Tried again at " + w.now().Local().Format("15:04:05") + ", attempt " + strconv.Itoa(w.attempts) + ".)"
			}
			w.startErr.set(msg)
			w.retry.Show()
		}
		w.updateNav()
		w.relayout()
		return
	}
	w.attempts = 0
	w.beginSession(da)
}

// explain words a failure of the wizard's requests; an unreachable server
// is named, with the two ways forward.
func (w *wizard) explain(err error) string {
	if errors.Is(err, licensecore.ErrAuthorityDown) || plain.IsNetworkError(err) || errors.Is(err, context.DeadlineExceeded) {
		return "The Authorization server at " + w.svc.AuthorityURL() + " cannot be reached. Check this PC's internet connection " +
			"and the server address in Settings (License Desk menu), or license this server without a connection: " +
			"Offline activation… in the License menu."
	}
	return plain.Explain(err)
}

func (w *wizard) beginSession(da *licensecore.DeviceAuthorization) {
	w.endSession()
	w.da = da
	w.code.SetText(da.UserCode)
	w.code4.SetText(da.UserCode)
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
		w.showDone(st)
		if w.ev.Licensed != nil {
			w.ev.Licensed(st)
		}
	case expired || errors.Is(err, licensecore.ErrDeviceCodeExpired):
		w.failSession(plain.MsgExpired)
	case errors.Is(err, context.Canceled):
		// The app is closing the wizard.
	case errors.Is(err, licensecore.ErrAuthorityDown):
		// Still offline after the client's retries: the code may still be
		// good, so let the person try again from this step.
		w.finishBusy.stop()
		w.complete.Enable()
		w.finishErr.set(w.explain(err))
		w.relayout()
	default:
		// Denied, revoked, or an answer that cannot be trusted: this code is
		// spent, the person must start again with a new one.
		w.failSession(plain.Explain(err))
	}
}

// onComplete shows progress until the poll (already running since the code
// appeared, or restarted after a network failure) returns.
func (w *wizard) onComplete() {
	if w.da == nil {
		w.failSession(plain.MsgExpired)
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
		w.countdown4.SetText("")
		return
	}
	left := w.da.Expiry.Sub(w.now())
	if left <= 0 {
		w.failSession(plain.MsgExpired)
		return
	}
	w.countdown.SetText("This code expires in " + plain.Countdown(left) + ".")
	w.countdown4.SetText("expires in " + plain.Countdown(left))
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
