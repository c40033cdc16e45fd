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
}

func newWizardFixture(t *testing.T) *wizardFixture {
	f := &wizardFixture{t: t, app: test.NewTempApp(t), svc: newFakeService(), opener: &fakeOpener{}, now: t0}
	f.tr = newTracker(t)
	f.w = newWizard(t.Context(), f.svc, f.opener,
		func(st licensecore.Status) { f.licensed = append(f.licensed, st) },
		func() time.Time { return f.now })
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

// toComplete goes on to the last step, which stops the ticker.
func (f *wizardFixture) toComplete() {
	f.t.Helper()
	f.toCode()
	tap(f.t, f.w.next)
	f.tr.finished(1) // ticker
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
	if !slices.Equal(f.opener.opened, []string{"https://auth.example.com"}) {
		t.Errorf("opened %v, want the authority", f.opener.opened)
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
	f.tr.finished(1) // the ticker stops when the code step is left
	f.wantStep(stepComplete)
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
	if got := f.w.startErr.text.Text; got != msgOffline || !f.w.startErr.box.Visible() {
		t.Errorf("error shown %q (visible %v), want %q", got, f.w.startErr.box.Visible(), msgOffline)
	}
	if !f.w.retry.Visible() {
		t.Fatal("no Retry button")
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
	if got := f.w.startErr.text.Text; got != msgExpired {
		t.Errorf("reason = %q, want %q", got, msgExpired)
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
	// Leaving the step stops the ticker; tap under the UI lock, as the
	// ticker may be updating the countdown at that moment.
	f.tr.do(func() { tap(t, f.w.next) })
	f.tr.finished(1)
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
		{"granted", nil, stepComplete, ""},
		{"denied", &licensecore.AuthorityError{Code: "access_denied", Description: "denied by admin@example.com", Kind: licensecore.ErrAccessDenied},
			stepDevice, msgDenied + " The authorization server said: \u201cdenied by admin@example.com\u201d"},
		{"expired", &licensecore.AuthorityError{Code: "expired_token", Kind: licensecore.ErrDeviceCodeExpired}, stepDevice, msgExpired},
		{"untrusted token", &licensecore.RejectedError{Kind: licensecore.ErrBadSignature}, stepDevice, "cannot trust"},
		{"offline", fmt.Errorf("%w: no route to host", licensecore.ErrAuthorityDown), stepComplete, msgOffline},
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
			f.tr.finished(1)
			f.wantStep(tt.wantStep)
			if f.w.finishBusy.running() {
				t.Error("progress still shown")
			}
			if tt.err == nil {
				if len(f.licensed) != 1 || f.licensed[0].License.ServerID != "SRV-1" {
					t.Errorf("onLicensed got %v", f.licensed)
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
	f.tr.finished(1)
	if len(f.licensed) != 1 {
		t.Errorf("onLicensed called %d times", len(f.licensed))
	}
}

func TestWizardGrantedWhileCodeShown(t *testing.T) {
	f := newWizardFixture(t)
	f.toCode()
	f.svc.complete <- result{st: licensecore.Status{State: licensecore.Licensed}}
	f.tr.finished(2) // poll, and the ticker the success stops
	if len(f.licensed) != 1 {
		t.Fatalf("onLicensed called %d times", len(f.licensed))
	}
	if f.w.stopTick != nil || f.w.da != nil {
		t.Error("session not ended after success")
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
