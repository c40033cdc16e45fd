package screens

import (
	"context"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"licensedesk/licensecore"
	"licensedesk/licensecore/wire"
	"licensedesk/screens/internal/fixture"
	"licensedesk/screens/plain"
)

// Golden markup for each state of the wizard and the management screens,
// so a layout change shows up in review as a diff of testdata/*.xml. To
// accept a change, look at testdata/failed/NAME.xml and copy it over the
// master.

// goldenSize is the app's main window.
var goldenSize = fyne.NewSize(780, 600)

// goldenWindow shows content in a window of goldenSize, closed when the
// test ends. Screens that open dialogs get the window before their content
// is built, so pass nil and SetContent later through showIn.
func goldenWindow(t *testing.T, content fyne.CanvasObject) fyne.Window {
	t.Helper()
	w := test.NewTempWindow(t, content)
	w.Resize(goldenSize)
	return w
}

// showIn sets content and lays it out again at goldenSize.
func showIn(w fyne.Window, content fyne.CanvasObject) {
	w.SetContent(content)
	w.Resize(goldenSize)
}

// assertGolden lays the window out as the desktop driver does before it
// draws (settle), then compares its markup with testdata/name.
func assertGolden(t *testing.T, name string, w fyne.Window) {
	t.Helper()
	settle(w)
	test.AssertRendersToMarkup(t, name, w.Canvas())
	saveShot(t, name, w)
}

// saveShot writes a PNG of the window to $LICENSEDESK_SHOTS/NAME.png when
// that variable names a directory, so the goldens can be looked at (and CI
// can keep them as artifacts).
func saveShot(t *testing.T, name string, w fyne.Window) {
	t.Helper()
	dir := os.Getenv("LICENSEDESK_SHOTS")
	if dir == "" {
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, strings.TrimSuffix(name, ".xml")+".png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, w.Canvas().Capture()); err != nil {
		t.Fatal(err)
	}
}

// settle lays the window out as the desktop driver does before it draws.
//
// Before every frame the desktop driver lays out again each parent whose
// children's minimum size changed, so the layout settles within a few
// frames. Fyne's test canvas lays out only on Resize and Refresh, so
// without these passes a message shown after the screen was built stays at
// 0x0 and a wrapped label keeps the height of its first, narrower layout.
func settle(w fyne.Window) {
	for range 5 {
		before := test.RenderToMarkup(w.Canvas())
		layoutPass(w.Content())
		if test.RenderToMarkup(w.Canvas()) == before {
			break
		}
	}
}

// layoutPass lays out every visible container and widget under o, parents
// first.
func layoutPass(o fyne.CanvasObject) {
	if !o.Visible() {
		return
	}
	var children []fyne.CanvasObject
	switch c := o.(type) {
	case *fyne.Container:
		if c.Layout != nil {
			c.Layout.Layout(c.Objects, c.Size())
		}
		children = c.Objects
	case fyne.Widget:
		r := test.WidgetRenderer(c)
		r.Layout(c.Size())
		children = r.Objects()
	}
	for _, ch := range children {
		layoutPass(ch)
	}
}

func TestGoldenWizard(t *testing.T) {
	// toWaiting taps Complete Authorization: the poll started with the code
	// keeps running, so the progress stays on screen.
	toWaiting := func(f *wizardFixture) {
		f.toComplete()
		tap(f.t, f.w.complete)
	}
	// refused ends the poll with err after Complete Authorization.
	refused := func(err error) func(*wizardFixture) {
		return func(f *wizardFixture) {
			toWaiting(f)
			f.svc.complete <- result{err: err}
			f.tr.finished(2) // the poll, and the ticker its end stops
		}
	}
	tests := []struct {
		name  string
		drive func(*wizardFixture)
		step  int
		shows string // a sentence of the step
		check func(*testing.T, *wizardFixture)
	}{
		{"step1_instructions", func(*wizardFixture) {}, stepInstructions, "Choose Offline activation…",
			func(t *testing.T, f *wizardFixture) {
				if !f.w.back.Disabled() {
					t.Error("Back enabled on the first step")
				}
			}},
		{"step2_device", func(f *wizardFixture) { tap(f.t, f.w.next) }, stepDevice, "7Q4K-92XM-LP3D",
			func(t *testing.T, f *wizardFixture) {
				if !f.shows("POS-SERVER-01") || f.w.startErr.box.Visible() || f.w.retry.Visible() {
					t.Errorf("device step: name shown %v, error shown %v, retry shown %v",
						f.shows("POS-SERVER-01"), f.w.startErr.box.Visible(), f.w.retry.Visible())
				}
			}},
		{"step3_code", (*wizardFixture).toCode, stepCode, "This code expires in 15:00.",
			func(t *testing.T, f *wizardFixture) {
				if f.w.code.Text != "WDJB-MJHT" || f.w.qrImage == nil || !visible(f.ui, f.w.qrImage) {
					t.Errorf("code %q, QR shown %v", f.w.code.Text, f.w.qrImage != nil && visible(f.ui, f.w.qrImage))
				}
			}},
		{"step4_waiting", toWaiting, stepComplete, "Waiting for the Authorization server…",
			func(t *testing.T, f *wizardFixture) {
				if !f.w.complete.Disabled() || !f.w.finishBusy.running() || f.w.next.Visible() {
					t.Errorf("complete disabled %v, busy %v, Next shown %v",
						f.w.complete.Disabled(), f.w.finishBusy.running(), f.w.next.Visible())
				}
			}},
		{"step5_licensed", func(f *wizardFixture) {
			f.toCode()
			f.svc.complete <- result{st: licensecore.Status{State: licensecore.Licensed, At: t0, License: &licensecore.License{
				ServerID: "POS-0009", DeviceName: "Back office PC", Customer: "Main Street Store"}}}
			f.tr.finished(2)
		}, stepDone, "License for Main Street Store · Back office PC (POS-0009).",
			func(t *testing.T, f *wizardFixture) {
				if len(f.licensed) != 1 || len(f.done) != 0 {
					t.Errorf("Licensed %d, Done %d", len(f.licensed), len(f.done))
				}
			}},
		{"no_browser", func(f *wizardFixture) {
			f.opener.fail = fmt.Errorf("no browser")
			tap(f.t, findButton(f.t, f.ui, "Open Authorization server"))
		}, stepInstructions, "The browser could not be opened.",
			func(t *testing.T, f *wizardFixture) {
				if !visible(f.ui, f.w.copyAddr) {
					t.Error("no Copy address")
				}
			}},
		{"start_offline", func(f *wizardFixture) {
			f.svc.startDA, f.svc.startErr = nil, licensecore.ErrAuthorityDown
			tap(f.t, f.w.next)
			tap(f.t, f.w.next)
			f.tr.finished(1)
		}, stepDevice, "https://auth.example.com cannot be reached",
			func(t *testing.T, f *wizardFixture) {
				if !visible(f.ui, f.w.retry) {
					t.Error("no Retry")
				}
			}},
		{"denied", refused(&licensecore.AuthorityError{Code: "access_denied", Description: "denied by admin@example.com",
			Kind: licensecore.ErrAccessDenied}), stepDevice,
			plain.MsgDenied + " The authorization server said: \u201cdenied by admin@example.com\u201d",
			func(t *testing.T, f *wizardFixture) {
				if !f.w.startErr.box.Visible() || f.w.finishBusy.running() {
					t.Errorf("reason shown %v, still busy %v", f.w.startErr.box.Visible(), f.w.finishBusy.running())
				}
			}},
		{"expired", refused(&licensecore.AuthorityError{Code: "expired_token", Kind: licensecore.ErrDeviceCodeExpired}),
			stepDevice, plain.MsgExpired,
			func(t *testing.T, f *wizardFixture) {
				if got := f.w.startErr.text.Text; got != plain.MsgExpired || !f.w.startErr.box.Visible() {
					t.Errorf("reason %q (shown %v), want %q", got, f.w.startErr.box.Visible(), plain.MsgExpired)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newWizardFixture(t)
			f.win.Resize(goldenSize)
			tt.drive(f)
			f.wantStep(tt.step)
			label := fmt.Sprintf("Step %d of 4: %s", tt.step+1, stepTitles[tt.step])
			if tt.step == stepDone {
				label = "Licensed"
			}
			if got := f.w.stepLabel.Text; got != label {
				t.Errorf("step label %q, want %q", got, label)
			}
			if !f.shows(tt.shows) {
				t.Errorf("%q not shown; screen shows %q", tt.shows, texts(f.ui))
			}
			tt.check(t, f)
			assertGolden(t, "wizard_"+tt.name+".xml", f.win)
		})
	}
}

func TestGoldenManage(t *testing.T) {
	tests := []struct {
		name    string
		pending *licensecore.SwitchRequest
		drive   func(*testing.T, *manage)
		pendMsg string // "" means no pending request is shown
		msg     string // the runner's sentence, "" when hidden
	}{
		{"licensed", nil, func(*testing.T, *manage) {}, "", ""},
		{"verified", nil, func(t *testing.T, m *manage) { tap(t, m.verifyBtn) }, "", "Verified: the license is valid."},
		{"switch_pending", &licensecore.SwitchRequest{ID: "sw1", From: wire.Subscription, To: wire.Perpetual,
			Status: wire.SwitchPending, ApproveURI: "https://auth.example.com/switch/sw1", RequestedAt: t0.Add(-2 * time.Hour)},
			func(*testing.T, *manage) {},
			"Switch from subscription to perpetual requested 10 Mar 2026 07:30; waiting for approval on the Authorization server.", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			test.NewTempApp(t)
			svc := &fakeLifecycle{st: licensedStatus(), pending: tt.pending}
			w := goldenWindow(t, nil)
			m := newManage(t.Context(), svc, &fakeGate{}, w, NewStatusBinding(svc.st), &fakeOpener{}, func(licensecore.Status) {}, syncAsync)
			m.loc = time.UTC
			showIn(w, m.buildUI())
			tt.drive(t, m)
			if m.switchBtn.Text != "Switch to perpetual…" {
				t.Errorf("switch button %q", m.switchBtn.Text)
			}
			if m.pendingBox.Visible() != (tt.pendMsg != "") || (tt.pendMsg != "" && m.pending.Text != tt.pendMsg) {
				t.Errorf("pending shown %v %q, want %q", m.pendingBox.Visible(), m.pending.Text, tt.pendMsg)
			}
			if m.run.msg.Visible() != (tt.msg != "") || (tt.msg != "" && m.run.msg.Text != tt.msg) {
				t.Errorf("message shown %v %q, want %q", m.run.msg.Visible(), m.run.msg.Text, tt.msg)
			}
			assertGolden(t, "manage_"+tt.name+".xml", w)
		})
	}
}

func TestGoldenOffline(t *testing.T) {
	typo := &wire.CodeError{Code: "response", Group: 2, Reason: "the check character does not match"}
	tests := []struct {
		name  string
		drive func(*testing.T, *offline, *fakeLifecycle)
		msg   string // the runner's sentence, "" when hidden
		imp   widget.Importance
	}{
		{"challenge", func(*testing.T, *offline, *fakeLifecycle) {}, "", widget.MediumImportance},
		{"response_refused", func(t *testing.T, o *offline, svc *fakeLifecycle) {
			svc.err = typo
			test.Type(o.response, "BCDFG-HJKLX")
			tap(t, o.upgradeBtn)
			if svc.applied != "BCDFG-HJKLX" {
				t.Errorf("applied %q", svc.applied)
			}
		}, "The response code has a typing mistake in group 2: the check character does not match.", widget.DangerImportance},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			test.NewTempApp(t)
			svc := &fakeLifecycle{st: licensedStatus()}
			w := goldenWindow(t, nil)
			published := 0
			o := newOffline(t.Context(), svc, &fakeGate{}, w, NewStatusBinding(svc.st), func(licensecore.Status) { published++ }, syncAsync)
			// No directory: the suggested request path is then the same on
			// every machine.
			showIn(w, o.buildUI(""))
			tap(t, o.getBtn)
			want, _ := (&fakeLifecycle{}).GetChallenge()
			if o.challenge.Text != want.String() || o.challenge.Text == "" {
				t.Errorf("challenge %q, want %q", o.challenge.Text, want.String())
			}
			tt.drive(t, o, svc)
			if o.challenge.Text != want.String() {
				t.Errorf("challenge after %s: %q", tt.name, o.challenge.Text)
			}
			if o.run.msg.Visible() != (tt.msg != "") || (tt.msg != "" && (o.run.msg.Text != tt.msg || o.run.msg.Importance != tt.imp)) {
				t.Errorf("message shown %v %q (%v), want %q (%v)", o.run.msg.Visible(), o.run.msg.Text, o.run.msg.Importance, tt.msg, tt.imp)
			}
			if published != 0 {
				t.Errorf("published %d statuses", published)
			}
			assertGolden(t, "offline_"+tt.name+".xml", w)
		})
	}
}

func TestGoldenAccount(t *testing.T) {
	base := licensecore.Account{InstallCode: "BCDF-GHJK-LMNP-QRST", ServerName: "Till server"}
	withID := base
	withID.CustomerID, withID.CustomerName = "3f2504e0-4f89-41d3-9a0c-0305e82c3301", "Acme Stores"
	tests := []struct {
		name     string
		acc      licensecore.Account
		customer string // the Customer row
	}{
		{"no_customer_id", base, "none"},
		{"customer_id", withID, "Acme Stores"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			test.NewTempApp(t)
			a := newAccount(t.Context(), &fakeAccount{acc: tt.acc}, &fakeGate{}, syncAsync)
			w := goldenWindow(t, a.buildUI())
			if a.install.Text != tt.acc.InstallCode || a.customerID.Text != tt.acc.CustomerID || a.customerName.Text != tt.customer {
				t.Errorf("install %q, ID %q, customer %q; want %q %q %q",
					a.install.Text, a.customerID.Text, a.customerName.Text, tt.acc.InstallCode, tt.acc.CustomerID, tt.customer)
			}
			if a.edits.Visible() || a.run.msg.Visible() {
				t.Errorf("Save/Discard shown %v, message shown %v before any edit", a.edits.Visible(), a.run.msg.Visible())
			}
			assertGolden(t, "account_"+tt.name+".xml", w)
		})
	}
}

// haltingPool reports the first license of a batch activated, then waits
// for release: the screen is caught with its progress half way.
type haltingPool struct {
	*fakePool
	halfway chan struct{}
	release chan struct{}
}

func (h *haltingPool) ActivatePool(ctx context.Context, sess *licensecore.AdminSession, ids []string, progress func(int, int)) ([]licensecore.ActivatedLicense, error) {
	progress(1, len(ids))
	h.halfway <- struct{}{}
	select {
	case <-h.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return h.fakePool.ActivatePool(ctx, sess, ids, func(int, int) {})
}

// rowCheck is the check box of license id in table.
func rowCheck(t *testing.T, table *fyne.Container, id string) *widget.Check {
	t.Helper()
	for i := 4; i+1 < len(table.Objects); i += 4 {
		if table.Objects[i+1].(*widget.Label).Text == id {
			return table.Objects[i].(*widget.Check)
		}
	}
	t.Fatalf("no license %s in the table", id)
	return nil
}

// pick clicks the check boxes of ids in table.
func pick(t *testing.T, table *fyne.Container, ids ...string) {
	t.Helper()
	for _, id := range ids {
		test.Tap(rowCheck(t, table, id))
	}
}

func TestGoldenPool(t *testing.T) {
	t.Run("empty", func(t *testing.T) {
		f := newPoolFixture(t, &fakePool{}, goldenSize)
		if !f.p.poolEmpty.Visible() || f.p.poolEmpty.Text != "The cloud pool has no license available for this customer." {
			t.Errorf("empty pool: shown %v %q", f.p.poolEmpty.Visible(), f.p.poolEmpty.Text)
		}
		if !f.p.activateBtn.Disabled() || !f.p.all.Disabled() {
			t.Error("actions enabled with nothing to act on")
		}
		if f.p.poolTable.Visible() || f.p.mineTable.Visible() {
			t.Errorf("empty tables shown: pool %v, this server %v", f.p.poolTable.Visible(), f.p.mineTable.Visible())
		}
		assertGolden(t, "pool_empty.xml", f.w)
	})

	loaded := func(t *testing.T, name string, size fyne.Size) {
		f := newPoolFixture(t, loadedPool(), size)
		pick(t, f.p.poolTable, "POOL-CAP-8")
		if got := picked(f.p.pickPool); len(f.p.available) != 3 || f.p.poolEmpty.Visible() || f.p.activateBtn.Disabled() ||
			len(got) != 1 || got[0] != "POOL-CAP-8" {
			t.Errorf("pool %d licenses, picked %v, empty line shown %v, Activate disabled %v",
				len(f.p.available), got, f.p.poolEmpty.Visible(), f.p.activateBtn.Disabled())
		}
		if got := f.p.totals.Text; got != "Capacity from cloud licenses: 4 devices" {
			t.Errorf("totals %q", got)
		}
		if !f.shows("Maintenance until 31 Dec 2027") {
			t.Errorf("maintenance license not shown; screen shows %q", texts(f.ui))
		}
		assertGolden(t, name, f.w)
		if min := f.ui.MinSize(); min.Width > size.Width {
			t.Errorf("the screen needs %v wide, the window is %v", min.Width, size.Width)
		}
	}
	t.Run("loaded", func(t *testing.T) { loaded(t, "pool_loaded.xml", goldenSize) })
	t.Run("narrow", func(t *testing.T) { loaded(t, "narrow_pool.xml", fyne.NewSize(500, 700)) })

	t.Run("activating", func(t *testing.T) {
		halt := &haltingPool{fakePool: loadedPool(), halfway: make(chan struct{}, 1), release: make(chan struct{})}
		f := newPoolFixture(t, halt, goldenSize)
		pick(t, f.p.poolTable, "POOL-CAP-8", "POOL-CAP-1")
		// Only the batch runs in the background, as in the app.
		tr := newTracker(t)
		f.p.async = tr.run
		tap(t, f.p.activateBtn)
		select {
		case <-halt.halfway:
		case <-time.After(5 * time.Second):
			t.Fatal("activation did not start")
		}
		if !f.p.progressBox.Visible() || f.p.progress.Value != 0.5 || f.p.cancelBtn.Disabled() {
			t.Errorf("progress shown %v at %v, Cancel disabled %v", f.p.progressBox.Visible(), f.p.progress.Value, f.p.cancelBtn.Disabled())
		}
		for _, b := range f.p.run.buttons {
			if !b.Disabled() {
				t.Errorf("%q enabled while activating", b.Text)
			}
		}
		assertGolden(t, "pool_activating.xml", f.w)

		close(halt.release)
		tr.finished(1)
		if f.p.progressBox.Visible() || f.p.run.msg.Text != "Activated 2 licenses on this server." {
			t.Errorf("after the batch: progress shown %v, message %q", f.p.progressBox.Visible(), f.p.run.msg.Text)
		}
		if len(f.p.activated) != 3 || len(f.p.mineTable.Objects) != 4*4 {
			t.Errorf("after the batch: %d activated, %d cells in the table", len(f.p.activated), len(f.p.mineTable.Objects))
		}
	})

	t.Run("transfer_dialog", func(t *testing.T) {
		f := newPoolFixture(t, loadedPool(), goldenSize)
		pick(t, f.p.mineTable, "POOL-CAP-4")
		tap(t, f.p.transferBtn)
		top := f.w.Canvas().Overlays().Top()
		if top == nil {
			t.Fatal("no dialog")
		}
		if b := findButton(t, top, "Transfer to cloud"); b.(*widget.Button).Importance != widget.DangerImportance {
			t.Errorf("Transfer to cloud importance %v", b.(*widget.Button).Importance)
		}
		findButton(t, top, "Keep")
		assertGolden(t, "dialog_transfer.xml", f.w)
	})
}

// TestGoldenSettingsAndNarrow: the settings form, and the details and
// settings in a narrow window, where every long sentence must wrap.
func TestGoldenSettingsAndNarrow(t *testing.T) {
	settings := func() fyne.CanvasObject {
		return newSettings(plain.Settings{AuthorityURL: "https://licensing.example.com", RenewalWindowDays: 30, TokenWarnHours: 48,
			TokenWarnPercent: 25, KeyStorage: "file"}, nil).buildUI()
	}
	for _, tc := range []struct {
		name  string
		size  fyne.Size
		build func(t *testing.T) fyne.CanvasObject
	}{
		{"settings", goldenSize, func(*testing.T) fyne.CanvasObject { return settings() }},
		{"narrow_settings", fyne.NewSize(500, 700), func(*testing.T) fyne.CanvasObject { return settings() }},
		{"narrow_details", fyne.NewSize(500, 700), func(t *testing.T) fyne.CanvasObject {
			st := fixture.StatusAt(func(l *licensecore.License) { l.TokenExpiry = t0.Add(-3 * time.Hour) }, false)
			d := newDetails(t.Context(), newFakeService(), NewStatusBinding(st), &fakeOpener{}, time.UTC)
			return d.buildUI()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			test.NewTempApp(t)
			w := test.NewTempWindow(t, tc.build(t))
			w.Resize(tc.size)
			assertGolden(t, tc.name+".xml", w)
			// Nothing wider than the window: long words wrap.
			if min := w.Content().MinSize(); min.Width > tc.size.Width {
				t.Errorf("content needs %v wide, the window is %v", min.Width, tc.size.Width)
			}
		})
	}
}
