package screens

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"licensedesk/licensecore"
	"licensedesk/screens/plain"
)

type wizardFixture struct {
	t        *testing.T
	w        *wizard
	svc      *fakeService
	tr       *tracker
	ui       fyne.CanvasObject
	win      fyne.Window
	app      fyne.App
	opener   *fakeOpener
	now      time.Time
	licensed []licensecore.Status
	done     []licensecore.Status
}

func newWizardFixture(t *testing.T) *wizardFixture {
	f := &wizardFixture{t: t, app: test.NewTempApp(t), svc: newFakeService(), opener: &fakeOpener{}, now: t0}
	f.tr = newTracker(t)
	f.w = newWizard(t.Context(), f.svc, f.opener, WizardEvents{
		Licensed: func(st licensecore.Status) { f.licensed = append(f.licensed, st) },
		Done:     func(st licensecore.Status) { f.done = append(f.done, st) },
	}, func() time.Time { return f.now })
	f.w.async = f.tr.run
	f.w.do = f.tr.do
	f.w.tickEvery = time.Hour // the test drives the countdown itself
	f.ui = f.w.buildUI()
	f.win = test.NewWindow(f.ui)
	f.win.Resize(fyne.NewSize(700, 600))
	return f
}

func (f *wizardFixture) wantStep(step int) {
	f.t.Helper()
	if f.w.step != step {
		f.t.Fatalf("on step %d (%s), want %d (%s)", f.w.step+1, stepTitles[f.w.step], step+1, stepTitles[step])
	}
	for i, p := range f.w.pages {
		if p.Visible() != (i == step) {
			f.t.Fatalf("page %d visible=%v while on step %d", i+1, p.Visible(), step+1)
		}
	}
}

func (f *wizardFixture) shows(text string) bool {
	return slices.ContainsFunc(texts(f.ui), func(s string) bool { return strings.Contains(s, text) })
}

// toCode walks from the start to the User Code step; the poll and the
// countdown ticker are then running.
func (f *wizardFixture) toCode() {
	f.t.Helper()
	tap(f.t, f.w.next)
	tap(f.t, f.w.next)
	f.tr.finished(1) // StartDeviceAuth
	f.wantStep(stepCode)
}

// toComplete goes on to the waiting step; the code and its countdown stay
// on screen, so the ticker keeps running.
func (f *wizardFixture) toComplete() {
	f.t.Helper()
	f.toCode()
	tap(f.t, f.w.next)
	f.wantStep(stepComplete)
}

func TestWizardBackAndNext(t *testing.T) {
	f := newWizardFixture(t)
	f.wantStep(stepInstructions)
	if !f.w.back.Disabled() {
		t.Error("Back is enabled on the first step")
	}
	if got := f.w.stepLabel.Text; got != "Step 1 of 4: Open the Authorization server" {
		t.Errorf("step label = %q", got)
	}
	tap(t, findButton(t, f.ui, "Open Authorization server"))
	// The Authorize Device page, told this PC's install code so it can
	// list this PC first.
	if !slices.Equal(f.opener.opened, []string{"https://auth.example.com/device?install_code=7Q4K-92XM-LP3D"}) {
		t.Errorf("opened %v, want the authority's device page", f.opener.opened)
	}

	tap(t, f.w.next)
	f.wantStep(stepDevice)
	for _, want := range []string{"POS-SERVER-01", "7Q4K-92XM-LP3D"} {
		if !f.shows(want) {
			t.Errorf("device step does not show %q", want)
		}
	}
	tap(t, f.w.back)
	f.wantStep(stepInstructions)

	f.toCode()
	pollCtx := f.svc.polled(t)
	tap(t, f.w.next)
	f.wantStep(stepComplete)
	if f.w.code4.Text != "WDJB-MJHT" || !visible(f.ui, f.w.code4) || f.w.countdown4.Text != "expires in 15:00" {
		t.Errorf("waiting step shows code %q (visible %v), countdown %q", f.w.code4.Text, visible(f.ui, f.w.code4), f.w.countdown4.Text)
	}
	if f.w.next.Visible() {
		t.Error("Next is shown on the last step")
	}
	tap(t, f.w.back)
	f.wantStep(stepCode)
	if f.w.code.Text != "WDJB-MJHT" {
		t.Errorf("code after Back = %q", f.w.code.Text)
	}

	// Back from the code abandons it: the poll is cancelled and its late
	// answer changes nothing.
	tap(t, f.w.back)
	f.tr.finished(2) // poll and ticker
	f.wantStep(stepDevice)
	if err := pollCtx.Err(); err == nil {
		t.Error("poll still running after Back")
	}
	if len(f.licensed) != 0 || f.w.startErr.box.Visible() {
		t.Errorf("abandoned poll had an effect: licensed=%v error shown=%v", f.licensed, f.w.startErr.box.Visible())
	}
	if starts, polls := f.svc.counts(); starts != 1 || polls != 1 {
		t.Errorf("starts=%d polls=%d, want 1 and 1", starts, polls)
	}
}

func TestWizardStartError(t *testing.T) {
	f := newWizardFixture(t)
	f.svc.startDA = nil
	f.svc.startErr = fmt.Errorf("%w: dial tcp 10.0.0.1:443: connect: connection refused", licensecore.ErrAuthorityDown)
	gate := make(chan struct{}) // holds StartDeviceAuth so the busy state can be seen
	f.w.async = func(fn func()) { f.tr.run(func() { <-gate; fn() }) }

	tap(t, f.w.next)
	tap(t, f.w.next)
	if !f.w.next.Disabled() || !f.w.back.Disabled() || !f.w.startBusy.running() {
		t.Errorf("while requesting: next disabled=%v back disabled=%v busy=%v, want all true",
			f.w.next.Disabled(), f.w.back.Disabled(), f.w.startBusy.running())
	}
	close(gate)
	f.tr.finished(1)
	f.wantStep(stepDevice)
	if f.w.startBusy.running() || f.w.next.Disabled() {
		t.Error("still busy after the error")
	}
	for _, want := range []string{"https://auth.example.com cannot be reached", "Settings", "Offline activation…"} {
		if got := f.w.startErr.text.Text; !strings.Contains(got, want) || !f.w.startErr.box.Visible() {
			t.Errorf("error shown %q (visible %v), want it to say %q", got, f.w.startErr.box.Visible(), want)
		}
	}
	if !f.w.retry.Visible() {
		t.Fatal("no Retry button")
	}
	// A Retry that fails the same way says it ran.
	first := f.w.startErr.text.Text
	f.w.async = f.tr.run
	tap(t, f.w.retry)
	f.tr.finished(1)
	if got := f.w.startErr.text.Text; got == first || !strings.Contains(got, "Tried again at") || !strings.Contains(got, "attempt 2") {
		t.Errorf("after Retry the error reads %q, as before: %q", got, first)
	}

	f.svc.mu.Lock()
	f.svc.startDA, f.svc.startErr = newFakeService().startDA, nil
	f.svc.mu.Unlock()
	tap(t, f.w.retry)
	f.tr.finished(1)
	f.wantStep(stepCode)
	if f.w.startErr.box.Visible() || f.w.retry.Visible() {
		t.Error("error still shown after a successful retry")
	}
}

func TestWizardCodeCopyAndQR(t *testing.T) {
	f := newWizardFixture(t)
	f.toCode()
	if f.w.code.Text != "WDJB-MJHT" || !f.w.code.Selectable {
		t.Errorf("code label %q selectable=%v", f.w.code.Text, f.w.code.Selectable)
	}
	tap(t, findButton(t, f.ui, "Copy"))
	if got := f.app.Clipboard().Content(); got != "WDJB-MJHT" {
		t.Errorf("clipboard = %q", got)
	}
	if got := f.w.uri.Text; got != "https://auth.example.com/device?user_code=WDJB-MJHT" {
		t.Errorf("page shown = %q", got)
	}
	if f.w.qrImage == nil || f.w.qrImage.Image == nil || !visible(f.ui, f.w.qrImage) {
		t.Fatal("no QR code")
	}
	// A QR code is square, at least 21 modules plus a 4-module quiet zone
	// on each side; the finder pattern starts with a black module at (4,4)
	// and the quiet zone is white.
	img := f.w.qrImage.Image
	b := img.Bounds()
	if b.Dx() != b.Dy() || b.Dx() < 21+8 {
		t.Errorf("QR image bounds %v", b)
	}
	if r, _, _, _ := img.At(4, 4).RGBA(); r != 0 {
		t.Error("no finder pattern at the corner")
	}
	if r, _, _, _ := img.At(3, 3).RGBA(); r != 0xffff {
		t.Error("no white quiet zone")
	}
	// The poll runs until the code expires.
	if dl, ok := f.svc.polled(t).Deadline(); !ok || time.Until(dl) > 15*time.Minute || time.Until(dl) < 14*time.Minute {
		t.Errorf("poll deadline in %v (set: %v), want the code expiry, 15 minutes away", time.Until(dl), ok)
	}
}

func TestWizardCountdown(t *testing.T) {
	f := newWizardFixture(t)
	f.toCode()
	if got := f.w.countdown.Text; got != "This code expires in 15:00." {
		t.Errorf("countdown = %q", got)
	}
	f.now = t0.Add(14*time.Minute + 30*time.Second + 500*time.Millisecond)
	f.w.updateCountdown()
	if got := f.w.countdown.Text; got != "This code expires in 0:30." {
		t.Errorf("countdown = %q", got)
	}
	f.now = t0.Add(15 * time.Minute)
	f.w.updateCountdown()
	f.tr.finished(2) // poll cancelled, ticker stopped
	f.wantStep(stepDevice)
	if got := f.w.startErr.text.Text; got != plain.MsgExpired {
		t.Errorf("reason = %q, want %q", got, plain.MsgExpired)
	}
}

func TestWizardTickerUpdatesCountdown(t *testing.T) {
	f := newWizardFixture(t)
	f.w.tickEvery = 5 * time.Millisecond
	ticks := make(chan time.Time, 10)
	f.w.now = func() time.Time {
		now := t0.Add(time.Minute)
		select {
		case ticks <- now:
		default:
		}
		return now
	}
	f.toCode()
	<-ticks // the first update, on entering the step
	select {
	case <-ticks: // the ticker called updateCountdown again
	case <-time.After(5 * time.Second):
		t.Fatal("the countdown ticker never fired")
	}
	// Leaving the code behind (Back) stops the ticker and the poll; tap
	// under the UI lock, as the ticker may be updating the countdown at
	// that moment.
	f.tr.do(func() { tap(t, f.w.back) })
	f.tr.finished(2)
	if f.w.stopTick != nil {
		t.Error("ticker still registered after leaving the step")
	}
}

func TestWizardPollOutcome(t *testing.T) {
	granted := licensecore.Status{State: licensecore.Licensed, At: t0, License: &licensecore.License{ServerID: "SRV-1"}}
	tests := []struct {
		name     string
		err      error
		wantStep int
		wantMsg  string // shown on the step it lands on
	}{
		{"granted", nil, stepDone, ""},
		{"denied", &licensecore.AuthorityError{Code: "access_denied", Description: "denied by admin@example.com", Kind: licensecore.ErrAccessDenied},
			stepDevice, plain.MsgDenied + " The authorization server said: \u201cdenied by admin@example.com\u201d"},
		{"expired", &licensecore.AuthorityError{Code: "expired_token", Kind: licensecore.ErrDeviceCodeExpired}, stepDevice, plain.MsgExpired},
		{"untrusted token", &licensecore.RejectedError{Kind: licensecore.ErrBadSignature}, stepDevice, "cannot trust"},
		{"offline", fmt.Errorf("%w: no route to host", licensecore.ErrAuthorityDown), stepComplete, "https://auth.example.com cannot be reached"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newWizardFixture(t)
			f.toComplete()
			tap(t, f.w.complete)
			if !f.w.complete.Disabled() || !f.w.finishBusy.running() {
				t.Error("no progress shown after Complete Authorization")
			}
			f.svc.complete <- result{granted, tt.err}
			if tt.wantStep == stepComplete {
				f.tr.finished(1) // the poll; the code stays on screen
			} else {
				f.tr.finished(2) // the poll, and the ticker its end stops
			}
			f.wantStep(tt.wantStep)
			if f.w.finishBusy.running() {
				t.Error("progress still shown")
			}
			if tt.err == nil {
				if len(f.licensed) != 1 || f.licensed[0].License.ServerID != "SRV-1" || len(f.done) != 0 {
					t.Errorf("Licensed got %v, Done %v", f.licensed, f.done)
				}
				return
			}
			if len(f.licensed) != 0 {
				t.Errorf("onLicensed called on %v", tt.err)
			}
			if !f.shows(tt.wantMsg) {
				t.Errorf("%q not shown; screen shows %q", tt.wantMsg, texts(f.ui))
			}
		})
	}
}

func TestWizardRetryAfterOffline(t *testing.T) {
	f := newWizardFixture(t)
	f.toComplete()
	f.svc.complete <- result{err: licensecore.ErrAuthorityDown} // the automatic poll gives up
	f.tr.finished(1)
	f.wantStep(stepComplete)
	tap(t, f.w.complete) // starts a new poll
	f.svc.polled(t)
	f.svc.polled(t)
	f.svc.complete <- result{st: licensecore.Status{State: licensecore.Licensed}}
	f.tr.finished(2) // the poll, and the ticker the success stops
	if len(f.licensed) != 1 {
		t.Errorf("onLicensed called %d times", len(f.licensed))
	}
}

// TestWizardGrantedWhileCodeShown: approving on the web before clicking
// anything here still shows the "Licensed" confirmation, with the
// licensee; the app hears Licensed at once and Done only when the person
// moves on.
func TestWizardGrantedWhileCodeShown(t *testing.T) {
	f := newWizardFixture(t)
	f.toCode()
	granted := licensecore.Status{State: licensecore.Licensed, At: t0, License: &licensecore.License{
		ServerID: "POS-0009", DeviceName: "Back office PC", Customer: "Main Street Store"}}
	f.svc.complete <- result{st: granted}
	f.tr.finished(2) // poll, and the ticker the success stops
	if len(f.licensed) != 1 || len(f.done) != 0 {
		t.Fatalf("Licensed called %d times, Done %d times", len(f.licensed), len(f.done))
	}
	if f.w.stopTick != nil || f.w.da != nil {
		t.Error("session not ended after success")
	}
	f.wantStep(stepDone)
	for _, want := range []string{"This server is licensed", "License for Main Street Store · Back office PC (POS-0009)."} {
		if !f.shows(want) {
			t.Errorf("confirmation does not say %q: %q", want, texts(f.ui))
		}
	}
	if f.w.back.Visible() || f.w.next.Visible() {
		t.Error("Back or Next shown on the confirmation")
	}
	tap(t, f.w.doneBtn)
	if len(f.done) != 1 || f.done[0].License.ServerID != "POS-0009" {
		t.Errorf("Done got %v", f.done)
	}
}

// TestWizardBrowserMissing: when no browser opens, the wizard says so and
// offers to copy the address.
func TestWizardBrowserMissing(t *testing.T) {
	f := newWizardFixture(t)
	f.opener.fail = fmt.Errorf("no browser")
	tap(t, findButton(t, f.ui, "Open Authorization server"))
	if !visible(f.ui, f.w.copyAddr) || !strings.Contains(f.w.openErr.Text, "The browser could not be opened") {
		t.Fatalf("no Copy address (shown %v), message %q", visible(f.ui, f.w.copyAddr), f.w.openErr.Text)
	}
	tap(t, f.w.copyAddr)
	if got := f.app.Clipboard().Content(); got != "https://auth.example.com/device?install_code=7Q4K-92XM-LP3D" {
		t.Errorf("clipboard %q", got)
	}
}

// TestWizardKeyboardOnly drives the wizard with the keyboard alone: Enter
// presses the primary button of each step, Tab reaches the buttons in
// reading order, and Enter on a focused button presses it.
func TestWizardKeyboardOnly(t *testing.T) {
	f := newWizardFixture(t)
	c := f.win.Canvas()
	enter := func() { c.OnTypedKey()(&fyne.KeyEvent{Name: fyne.KeyReturn}) }
	if c.OnTypedKey() == nil {
		t.Fatal("the wizard handles no keys")
	}
	enter() // Next
	f.wantStep(stepDevice)
	enter() // Next: asks for a code
	f.tr.finished(1)
	f.wantStep(stepCode)
	enter() // Next before typing the code on the web
	f.wantStep(stepComplete)
	if f.w.code4.Text != "WDJB-MJHT" || f.w.countdown4.Text == "" {
		t.Errorf("waiting without the code: %q %q", f.w.code4.Text, f.w.countdown4.Text)
	}
	// Tab order follows reading order: the code (selectable, to copy it),
	// the page's button, then Back.
	c.FocusNext()
	if c.Focused() == nil || !slices.Contains(test.WidgetRenderer(f.w.code4).Objects(), c.Focused().(fyne.CanvasObject)) {
		t.Fatalf("first Tab focuses %T, want the code", c.Focused())
	}
	c.FocusNext()
	if c.Focused() != f.w.complete {
		t.Fatalf("first Tab focuses %T, want Complete Authorization", c.Focused())
	}
	c.FocusNext()
	if c.Focused() != f.w.back {
		t.Fatalf("second Tab focuses %T, want Back", c.Focused())
	}
	c.FocusPrevious()
	c.Focused().TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn}) // Complete Authorization
	if !f.w.complete.Disabled() || !f.w.finishBusy.running() {
		t.Error("Enter on the focused button did not press it")
	}
	f.svc.complete <- result{st: licensecore.Status{State: licensecore.Licensed, License: &licensecore.License{ServerID: "SRV-1"}}}
	f.tr.finished(2)
	f.wantStep(stepDone)
	enter() // Show license details
	if len(f.done) != 1 {
		t.Errorf("Enter on the confirmation: Done called %d times", len(f.done))
	}
}

func TestWizardClosedContextStopsWork(t *testing.T) {
	f := newWizardFixture(t)
	f.toCode()
	pollCtx := f.svc.polled(t)
	// The fixture's context ends when the test does; the tracker's cleanup
	// then waits for the poll and the ticker, which hangs if they ignore it.
	t.Cleanup(func() {
		if pollCtx.Err() == nil {
			t.Error("poll context not cancelled with the wizard's")
		}
	})
}
