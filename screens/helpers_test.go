package screens

import (
	"context"
	"net/url"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"licensedesk/licensecore"
	"licensedesk/screens/internal/fixture"
)

// t0 is the fixed "now" of every screen test.
var t0 = fixture.T0

type result struct {
	st  licensecore.Status
	err error
}

// fakeService is a LicenseService whose answers the test controls.
// CompleteDeviceAuth blocks until the test sends on complete, as the real
// one blocks while it polls.
type fakeService struct {
	mu        sync.Mutex
	startDA   *licensecore.DeviceAuthorization
	startErr  error
	starts    int
	polls     int
	refreshes int
	refresh   result

	complete chan result
	entered  chan context.Context // each poll's context, as it starts
}

func newFakeService() *fakeService {
	return &fakeService{
		startDA: &licensecore.DeviceAuthorization{
			UserCode:                "WDJB-MJHT",
			VerificationURI:         "https://auth.example.com/device",
			VerificationURIComplete: "https://auth.example.com/device?user_code=WDJB-MJHT",
			Expiry:                  t0.Add(15 * time.Minute),
			Interval:                5 * time.Second,
		},
		complete: make(chan result),
		entered:  make(chan context.Context, 10),
	}
}

func (f *fakeService) StartDeviceAuth(context.Context) (*licensecore.DeviceAuthorization, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.starts++
	return f.startDA, f.startErr
}

func (f *fakeService) CompleteDeviceAuth(ctx context.Context, _ *licensecore.DeviceAuthorization) (licensecore.Status, error) {
	f.mu.Lock()
	f.polls++
	f.mu.Unlock()
	f.entered <- ctx
	select {
	case r := <-f.complete:
		return r.st, r.err
	case <-ctx.Done():
		return licensecore.Status{}, ctx.Err()
	}
}

func (f *fakeService) RefreshNow(context.Context) (licensecore.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refreshes++
	return f.refresh.st, f.refresh.err
}

func (f *fakeService) Status() licensecore.Status { return licensecore.Status{} }

func (f *fakeService) DeviceIdentity() (string, string) { return "POS-SERVER-01", "7Q4K-92XM-LP3D" }

func (f *fakeService) AuthorityURL() string { return "https://auth.example.com" }

// polled waits for the next poll to start and returns its context.
func (f *fakeService) polled(t *testing.T) context.Context {
	t.Helper()
	select {
	case ctx := <-f.entered:
		return ctx
	case <-time.After(5 * time.Second):
		t.Fatal("CompleteDeviceAuth was not called")
		return nil
	}
}

func (f *fakeService) counts() (starts, polls int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.starts, f.polls
}

var _ LicenseService = (*fakeService)(nil)

// fakeOpener records the pages opened, or fails like a PC with no browser.
type fakeOpener struct {
	opened []string
	fail   error
}

func (o *fakeOpener) OpenURL(u *url.URL) error {
	if o.fail != nil {
		return o.fail
	}
	o.opened = append(o.opened, u.String())
	return nil
}

// tracker replaces a screen's goAsync: it runs the work in a goroutine, as
// production does, and lets the test wait until a number of them have
// finished. Waiting gives the race detector the happens-before edge between
// the goroutine's fyne.Do updates and the test's reads.
type tracker struct {
	t    *testing.T
	wg   sync.WaitGroup
	done chan struct{}
	ui   sync.Mutex
}

// do stands in for fyne.Do: the test driver runs the update on the calling
// goroutine, so two background goroutines would otherwise update widgets at
// the same time, which the real driver's single UI thread never does.
func (tr *tracker) do(f func()) {
	tr.ui.Lock()
	defer tr.ui.Unlock()
	f()
}

func newTracker(t *testing.T) *tracker {
	tr := &tracker{t: t, done: make(chan struct{}, 100)}
	t.Cleanup(tr.wg.Wait)
	return tr
}

func (tr *tracker) run(f func()) {
	tr.wg.Add(1)
	go func() {
		defer tr.wg.Done()
		f()
		tr.done <- struct{}{}
	}()
}

// finished waits for n more background goroutines to finish.
func (tr *tracker) finished(n int) {
	tr.t.Helper()
	for range n {
		select {
		case <-tr.done:
		case <-time.After(5 * time.Second):
			tr.t.Fatal("background work did not finish")
		}
	}
}

// button is what tap presses: a widget.Button or a keyButton.
type button interface {
	fyne.Tappable
	Disabled() bool
}

func buttonText(b button) string {
	switch b := b.(type) {
	case *widget.Button:
		return b.Text
	case *keyButton:
		return b.Text
	}
	return "?"
}

func tap(t *testing.T, b button) {
	t.Helper()
	if b.Disabled() {
		t.Fatalf("button %q is disabled", buttonText(b))
	}
	test.Tap(b)
}

// findButton finds a rendered button by its text, inside widgets too.
func findButton(t *testing.T, root fyne.CanvasObject, text string) button {
	t.Helper()
	for _, o := range test.LaidOutObjects(root) {
		if b, ok := o.(button); ok && buttonText(b) == text {
			return b
		}
	}
	t.Fatalf("no button %q", text)
	return nil
}

// texts lists the text of every visible label and rich text under root.
func texts(root fyne.CanvasObject) []string {
	var out []string
	for _, o := range test.LaidOutObjects(root) {
		if !visible(root, o) {
			continue
		}
		switch w := o.(type) {
		case *widget.Label:
			out = append(out, w.Text)
		case *widget.RichText:
			out = append(out, w.String())
		}
	}
	return out
}
