package screens

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/data/binding"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"licensedesk/licensecore"
	"licensedesk/licensecore/wire"
	"licensedesk/screens/internal/fixture"
	"licensedesk/screens/plain"
)

type detailsFixture struct {
	d      *details
	svc    *fakeService
	tr     *tracker
	status binding.Item[licensecore.Status]
	win    fyne.Window
	opener *fakeOpener
}

func newDetailsFixture(t *testing.T, st licensecore.Status) *detailsFixture {
	test.NewTempApp(t)
	f := &detailsFixture{svc: newFakeService(), tr: newTracker(t), status: NewStatusBinding(st), opener: &fakeOpener{}}
	f.d = newDetails(t.Context(), f.svc, f.status, f.opener, time.UTC)
	f.d.async = f.tr.run
	f.win = goldenWindow(t, f.d.buildUI())
	return f
}

// banners maps each banner to a short name, for comparing the visible set.
func (f *detailsFixture) banners() []string {
	var on []string
	for _, b := range []struct {
		name string
		b    *banner
	}{
		{"renewal", f.d.renewalBanner}, {"renewal-gone", f.d.renewalGoneBanner},
		{"token-soon", f.d.tokenSoonBanner}, {"token-expired", f.d.tokenExpiredBanner},
		{"clock", f.d.clockBanner},
	} {
		if b.b.box.Visible() {
			on = append(on, b.name)
		}
	}
	return on
}

// TestDetailsStates: the status line leads with the worst condition (an
// expired token or a clock error is never a green "Licensed"), names the
// licensee, and offers the one next action, all above the fold of the
// 780×600 window; every other condition keeps its banner.
func TestDetailsStates(t *testing.T) {
	renewalSoon := func(l *licensecore.License) { l.RenewalDate = t0.Add(12 * 24 * time.Hour) }
	tests := []struct {
		name        string
		st          licensecore.Status
		headline    string
		importance  widget.Importance
		action      string
		renewal     string // "" means the row is hidden
		tokenExpiry string
		banners     []string
		sentence    string // part of the status line's explanation or a banner
	}{
		{"licensed", fixture.StatusAt(nil, false), "Licensed", widget.SuccessImportance, "Refresh tokens now",
			"26 Sep 2026 (in 200 days)", "12 Mar 2026 09:30 (in 2 days)", nil, "Everything is in order."},
		{"requires_renewal", fixture.StatusAt(renewalSoon, false),
			"Requires Renewal — renew within 12 days", widget.WarningImportance, "Renew…",
			"22 Mar 2026 (in 12 days)", "12 Mar 2026 09:30 (in 2 days)", nil, "renew it with your provider before 22 Mar 2026 (in 12 days)"},
		{"expired", fixture.StatusAt(func(l *licensecore.License) { l.RenewalDate = t0.Add(-24 * time.Hour) }, false),
			"License expired — renew it, then remove & re-acquire", widget.DangerImportance, "Open Authorization server",
			"9 Mar 2026 (24 hours ago)", "12 Mar 2026 09:30 (in 2 days)", nil, "remove & re-acquire"},
		{"token_soon", fixture.StatusAt(func(l *licensecore.License) {
			l.TokenIssuedAt, l.TokenExpiry = t0.Add(-62*time.Hour), t0.Add(10*time.Hour)
		}, false), "Token expires in 10 hours — connect to the internet", widget.WarningImportance, "Refresh tokens now",
			"26 Sep 2026 (in 200 days)", "10 Mar 2026 19:30 (in 10 hours)", nil,
			"The license token expires in 10 hours. Connect this server to the internet to get fresh tokens."},
		{"token_expired", fixture.StatusAt(func(l *licensecore.License) { l.TokenExpiry = t0.Add(-3 * time.Hour) }, false),
			"Token expired — registers cannot authenticate", widget.DangerImportance, "Refresh tokens now",
			"26 Sep 2026 (in 200 days)", "10 Mar 2026 06:30 (3 hours ago)", nil, msgTokenExpired},
		{"token_expired_renewal_due", fixture.StatusAt(func(l *licensecore.License) {
			renewalSoon(l)
			l.TokenExpiry = t0.Add(-3 * time.Hour)
		}, false), "Token expired — registers cannot authenticate", widget.DangerImportance, "Refresh tokens now",
			"22 Mar 2026 (in 12 days)", "10 Mar 2026 06:30 (3 hours ago)", []string{"renewal"}, "renew it with your provider"},
		{"clock_error", fixture.StatusAt(nil, true), "Clock error — correct this PC's date and time", widget.WarningImportance,
			"Correct the clock…", "26 Sep 2026 (in 200 days)", "12 Mar 2026 09:30 (in 2 days)", nil, "clock is behind"},
		{"no_renewal_date", fixture.StatusAt(func(l *licensecore.License) { l.RenewalDate = time.Time{}; l.Type = wire.Perpetual }, false),
			"Licensed", widget.SuccessImportance, "Refresh tokens now", "", "12 Mar 2026 09:30 (in 2 days)", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newDetailsFixture(t, tt.st)
			d := f.d
			if h := d.line.headline; h.Text != tt.headline || h.Importance != tt.importance {
				t.Errorf("headline %q importance %v, want %q %v", h.Text, h.Importance, tt.headline, tt.importance)
			}
			if got := d.line.licensee.Text; got != "Corner Shop Ltd · Back office PC (SRV-0042)" {
				t.Errorf("licensee %q", got)
			}
			if d.line.action.Text != tt.action || !visible(f.win.Content(), d.line.action) {
				t.Errorf("action %q (shown %v), want %q", d.line.action.Text, visible(f.win.Content(), d.line.action), tt.action)
			}
			// Above the fold: the tabs take about 50 px of the 600.
			pos := fyne.CurrentApp().Driver().AbsolutePositionForObject(d.line.action)
			if bottom := pos.Y + d.line.action.Size().Height; bottom > 500 || d.line.action.Size().Height == 0 {
				t.Errorf("the action button ends at y=%v, below the fold", bottom)
			}
			if got := d.renewal.value.Text; got != tt.renewal || d.renewal.key.Visible() != (tt.renewal != "") {
				t.Errorf("renewal %q shown=%v, want %q", got, d.renewal.key.Visible(), tt.renewal)
			}
			if got := d.tokenExpiry.value.Text; got != tt.tokenExpiry {
				t.Errorf("token expiry %q, want %q", got, tt.tokenExpiry)
			}
			for fld, want := range map[*field]string{d.serverID: "SRV-0042", d.features: "xms", d.device: "Back office PC",
				d.customer: "Corner Shop Ltd", d.hubName: "Hub Central", d.hubURL: "https://hub.example.com"} {
				if fld.value.Text != want || !fld.value.Visible() {
					t.Errorf("%s = %q, want %q", fld.key.Text, fld.value.Text, want)
				}
			}
			if got := f.banners(); !slices.Equal(got, tt.banners) {
				t.Errorf("banners %v, want %v", got, tt.banners)
			}
			if tt.sentence != "" && !slices.ContainsFunc(texts(f.win.Content()), func(s string) bool {
				return strings.Contains(s, tt.sentence)
			}) {
				t.Errorf("nothing says %q", tt.sentence)
			}
			assertGolden(t, "details_"+tt.name+".xml", f.win)
		})
	}
}

// TestDetailsActions: each status line button does what it says.
func TestDetailsActions(t *testing.T) {
	t.Run("clock guidance", func(t *testing.T) {
		f := newDetailsFixture(t, fixture.StatusAt(nil, true))
		if f.d.clockHelp.Visible() {
			t.Fatal("clock guidance shown before it was asked for")
		}
		tap(t, f.d.line.action)
		if !f.d.clockHelp.Visible() || !strings.Contains(f.d.clockHelp.Text, "date and time settings") {
			t.Errorf("clock guidance shown %v: %q", f.d.clockHelp.Visible(), f.d.clockHelp.Text)
		}
		if f.d.line.second.Text != "Open Authorization server" {
			t.Errorf("second button %q", f.d.line.second.Text)
		}
	})
	t.Run("renew opens the authority", func(t *testing.T) {
		f := newDetailsFixture(t, fixture.StatusAt(func(l *licensecore.License) { l.RenewalDate = t0.Add(5 * 24 * time.Hour) }, false))
		tap(t, f.d.line.action)
		if !slices.Equal(f.opener.opened, []string{"https://auth.example.com"}) {
			t.Errorf("opened %v", f.opener.opened)
		}
		if f.d.line.second.Text != "Refresh tokens now" {
			t.Errorf("second button %q", f.d.line.second.Text)
		}
	})
	t.Run("refresh from the red line", func(t *testing.T) {
		f := newDetailsFixture(t, fixture.StatusAt(func(l *licensecore.License) { l.TokenExpiry = t0.Add(-time.Hour) }, false))
		f.svc.refresh = result{st: fixture.StatusAt(nil, false)}
		if f.d.line.action.Importance != widget.DangerImportance {
			t.Errorf("action importance %v", f.d.line.action.Importance)
		}
		tap(t, f.d.line.action)
		f.tr.finished(1)
		if f.d.line.headline.Text != "Licensed" || f.d.msg.Text == "" {
			t.Errorf("after refresh: headline %q, message %q", f.d.line.headline.Text, f.d.msg.Text)
		}
	})
}

func TestDetailsFeaturesAndVerification(t *testing.T) {
	f := newDetailsFixture(t, fixture.StatusAt(func(l *licensecore.License) {
		l.Features = []string{"xms", "loyalty", "kds"}
		l.LastVerifyTime, l.LastVerifyResult = t0.Add(-time.Hour), licensecore.VerifyRevoked
	}, false))
	if got := f.d.features.value.Text; got != "xms, loyalty, kds" {
		t.Errorf("features = %q", got)
	}
	if got := f.d.lastVerify.value.Text; got != "10 Mar 2026 08:30 — revoked" {
		t.Errorf("last verified = %q", got)
	}
}

func TestDetailsUnlicensed(t *testing.T) {
	f := newDetailsFixture(t, licensecore.Evaluate(nil, t0, licensecore.DefaultPolicy()))
	if h := f.d.line.headline; h.Text != "Not licensed" || h.Importance != widget.DangerImportance {
		t.Errorf("status %q %v", h.Text, h.Importance)
	}
	if f.d.serverID.key.Visible() || f.d.tokenExpiry.key.Visible() {
		t.Error("license rows shown without a license")
	}
}

func TestDetailsLiveUpdate(t *testing.T) {
	f := newDetailsFixture(t, fixture.StatusAt(nil, false))
	if len(f.banners()) != 0 {
		t.Fatalf("banners at start: %v", f.banners())
	}
	// The app's background refresher sets the binding from its goroutine.
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.status.Set(fixture.StatusAt(func(l *licensecore.License) {
			l.TokenExpiry = t0.Add(-time.Minute)
			l.ServerID = "SRV-0043"
		}, false))
	}()
	<-done
	if got := f.d.line.headline.Text; got != "Token expired — registers cannot authenticate" {
		t.Errorf("headline after Set: %q", got)
	}
	if f.d.serverID.value.Text != "SRV-0043" || f.d.tokenExpiry.value.Text != "10 Mar 2026 09:29 (1 minute ago)" {
		t.Errorf("fields not updated: %q %q", f.d.serverID.value.Text, f.d.tokenExpiry.value.Text)
	}
}

func TestDetailsRefresh(t *testing.T) {
	fresh := fixture.StatusAt(func(l *licensecore.License) {
		l.TokenIssuedAt, l.TokenExpiry = t0, t0.Add(72*time.Hour)
	}, false)
	tests := []struct {
		name       string
		res        result
		msg        string
		importance widget.Importance
		updated    bool
	}{
		{"ok", result{st: fresh}, "Tokens refreshed. The new token expires 13 Mar 2026 09:30 (in 3 days).", widget.SuccessImportance, true},
		{"offline", result{err: fmt.Errorf("%w: dial tcp: i/o timeout", licensecore.ErrAuthorityDown)}, msgRefreshOff, widget.MediumImportance, false},
		{"rejected", result{err: &licensecore.AuthorityError{Code: "invalid_grant", Kind: licensecore.ErrRefreshRejected}},
			plain.Explain(licensecore.ErrRefreshRejected), widget.DangerImportance, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newDetailsFixture(t, fixture.StatusAt(nil, false))
			f.svc.refresh = tt.res
			gate := make(chan struct{})
			f.d.async = func(fn func()) { f.tr.run(func() { <-gate; fn() }) }
			refresh := f.d.line.button(actRefresh)
			tap(t, refresh)
			if !refresh.Disabled() || !f.d.busy.running() {
				t.Error("no progress while refreshing")
			}
			close(gate)
			f.tr.finished(1)
			if refresh.Disabled() || f.d.busy.running() {
				t.Error("still busy after the refresh")
			}
			if f.d.msg.Text != tt.msg || f.d.msg.Importance != tt.importance || !f.d.msg.Visible() {
				t.Errorf("message %q (%v), want %q (%v)", f.d.msg.Text, f.d.msg.Importance, tt.msg, tt.importance)
			}
			if top := f.win.Canvas().Overlays().Top(); top != nil {
				t.Errorf("a dialog opened: %T", top)
			}
			got, _ := f.status.Get()
			if updated := got.License.TokenExpiry.Equal(fresh.License.TokenExpiry); updated != tt.updated {
				t.Errorf("binding updated = %v, want %v", updated, tt.updated)
			}
		})
	}
}

func TestDetailsOpenAuthority(t *testing.T) {
	f := newDetailsFixture(t, fixture.StatusAt(nil, false))
	tap(t, findButton(t, f.win.Content(), "Open Authorization server"))
	if !slices.Equal(f.opener.opened, []string{"https://auth.example.com"}) {
		t.Errorf("opened %v", f.opener.opened)
	}
	f.opener.fail = errors.New("no browser")
	tap(t, findButton(t, f.win.Content(), "Open Authorization server"))
	if !strings.Contains(f.d.msg.Text, "Open https://auth.example.com by hand") {
		t.Errorf("message %q", f.d.msg.Text)
	}
}

// TestLockoutDetailsClockWords: the details screen says how far this PC's
// clock is from the authority's, and the trusted time in a clock error.
func TestLockoutDetailsClockWords(t *testing.T) {
	for _, tc := range []struct {
		name    string
		st      licensecore.Status
		banners []string
		want    []string
	}{
		{"clock error", fixture.Skewed(fixture.StatusAt(nil, true), 3*time.Hour+12*time.Minute), nil,
			[]string{"Trusted time: 10 Mar 2026 09:30.", "This PC's clock is 3 h 12 min behind the Authorization server."}},
		{"large offset", fixture.Skewed(fixture.StatusAt(nil, false), -20*time.Hour), []string{"clock"},
			[]string{"This PC's clock is 20 h ahead of the Authorization server."}},
		{"small offset", fixture.Skewed(fixture.StatusAt(nil, false), 30*time.Second), nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newDetailsFixture(t, tc.st)
			if got := f.banners(); !slices.Equal(got, tc.banners) {
				t.Fatalf("banners %v, want %v", got, tc.banners)
			}
			all := strings.Join(texts(f.win.Content()), " ")
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("the screen does not say %q:\n%s", w, all)
				}
			}
		})
	}
}
