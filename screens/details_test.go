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
)

// testLicense is a healthy license at t0: a 3-day token with 2 days left
// and a renewal date 200 days away.
func testLicense() *licensecore.License {
	return &licensecore.License{
		ServerID:      "SRV-0042",
		LicenseID:     "LIC-1001",
		Type:          wire.Subscription,
		Customer:      "Corner Shop Ltd",
		Features:      []string{"xms"},
		HubServerName: "Hub Central",
		HubServerURL:  "https://hub.example.com",
		Capacity:      12,
		RenewalDate:   t0.Add(200 * 24 * time.Hour),
		TokenIssuedAt: t0.Add(-24 * time.Hour),
		TokenExpiry:   t0.Add(48 * time.Hour),
	}
}

// statusAt evaluates a license changed by edit at t0 with the default
// policy: the real domain rules, not hand-made statuses.
func statusAt(edit func(*licensecore.License), clockError bool) licensecore.Status {
	l := testLicense()
	if edit != nil {
		edit(l)
	}
	st := licensecore.Evaluate(l, t0, licensecore.DefaultPolicy())
	st.ClockError = clockError
	return st
}

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
	f.win = test.NewWindow(f.d.buildUI())
	f.win.Resize(fyne.NewSize(640, 720))
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

func TestDetailsStates(t *testing.T) {
	tests := []struct {
		name        string
		st          licensecore.Status
		state       string
		importance  widget.Importance
		renewal     string // "" means the row is hidden
		tokenExpiry string
		banners     []string
		bannerText  string // part of the first visible banner
	}{
		{"licensed", statusAt(nil, false), "Licensed", widget.SuccessImportance,
			"26 Sep 2026 (in 200 days)", "12 Mar 2026 09:30 (in 2 days)", nil, ""},
		{"requires_renewal", statusAt(func(l *licensecore.License) { l.RenewalDate = t0.Add(12 * 24 * time.Hour) }, false),
			"Requires Renewal", widget.WarningImportance,
			"22 Mar 2026 (in 12 days)", "12 Mar 2026 09:30 (in 2 days)", []string{"renewal"}, "renew it before 22 Mar 2026 (in 12 days)"},
		{"expired", statusAt(func(l *licensecore.License) { l.RenewalDate = t0.Add(-24 * time.Hour) }, false),
			"Expired – Requires Renewal", widget.DangerImportance,
			"9 Mar 2026 (24 hours ago)", "12 Mar 2026 09:30 (in 2 days)", []string{"renewal-gone"}, "remove & re-acquire"},
		{"token_expiring", statusAt(func(l *licensecore.License) {
			l.TokenIssuedAt, l.TokenExpiry = t0.Add(-62*time.Hour), t0.Add(10*time.Hour)
		}, false), "Licensed", widget.SuccessImportance,
			"26 Sep 2026 (in 200 days)", "10 Mar 2026 19:30 (in 10 hours)", []string{"token-soon"},
			"The license token expires in 10 hours. Connect this server to the internet to get fresh tokens."},
		{"token_expired", statusAt(func(l *licensecore.License) { l.TokenExpiry = t0.Add(-3 * time.Hour) }, false),
			"Licensed", widget.SuccessImportance,
			"26 Sep 2026 (in 200 days)", "10 Mar 2026 06:30 (3 hours ago)", []string{"token-expired"}, msgTokenExpired},
		{"clock_error", statusAt(nil, true), "Licensed", widget.SuccessImportance,
			"26 Sep 2026 (in 200 days)", "12 Mar 2026 09:30 (in 2 days)", []string{"clock"}, "clock is behind"},
		{"no_renewal_date", statusAt(func(l *licensecore.License) { l.RenewalDate = time.Time{}; l.Type = wire.Perpetual }, false),
			"Licensed", widget.SuccessImportance, "", "12 Mar 2026 09:30 (in 2 days)", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newDetailsFixture(t, tt.st)
			d := f.d
			if d.state.Text != tt.state || d.state.Importance != tt.importance {
				t.Errorf("status %q importance %v, want %q %v", d.state.Text, d.state.Importance, tt.state, tt.importance)
			}
			if got := d.renewal.value.Text; got != tt.renewal || d.renewal.key.Visible() != (tt.renewal != "") {
				t.Errorf("renewal %q shown=%v, want %q", got, d.renewal.key.Visible(), tt.renewal)
			}
			if got := d.tokenExpiry.value.Text; got != tt.tokenExpiry {
				t.Errorf("token expiry %q, want %q", got, tt.tokenExpiry)
			}
			for fld, want := range map[*field]string{d.serverID: "SRV-0042", d.features: "xms",
				d.hubName: "Hub Central", d.hubURL: "https://hub.example.com"} {
				if fld.value.Text != want || !fld.value.Visible() {
					t.Errorf("%s = %q, want %q", fld.key.Text, fld.value.Text, want)
				}
			}
			if got := f.banners(); !slices.Equal(got, tt.banners) {
				t.Errorf("banners %v, want %v", got, tt.banners)
			}
			if tt.bannerText != "" && !slices.ContainsFunc(texts(f.win.Content()), func(s string) bool {
				return strings.Contains(s, tt.bannerText)
			}) {
				t.Errorf("no banner says %q", tt.bannerText)
			}
			test.AssertRendersToMarkup(t, "details_"+tt.name+".xml", f.win.Canvas())
		})
	}
}

func TestDetailsFeaturesAndVerification(t *testing.T) {
	f := newDetailsFixture(t, statusAt(func(l *licensecore.License) {
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
	if f.d.state.Text != "Not licensed" || f.d.state.Importance != widget.DangerImportance {
		t.Errorf("status %q %v", f.d.state.Text, f.d.state.Importance)
	}
	if f.d.serverID.key.Visible() || f.d.tokenExpiry.key.Visible() {
		t.Error("license rows shown without a license")
	}
}

func TestDetailsLiveUpdate(t *testing.T) {
	f := newDetailsFixture(t, statusAt(nil, false))
	if len(f.banners()) != 0 {
		t.Fatalf("banners at start: %v", f.banners())
	}
	// The app's background refresher sets the binding from its goroutine.
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.status.Set(statusAt(func(l *licensecore.License) {
			l.TokenExpiry = t0.Add(-time.Minute)
			l.ServerID = "SRV-0043"
		}, false))
	}()
	<-done
	if got := f.banners(); !slices.Equal(got, []string{"token-expired"}) {
		t.Errorf("banners after Set: %v", got)
	}
	if f.d.serverID.value.Text != "SRV-0043" || f.d.tokenExpiry.value.Text != "10 Mar 2026 09:29 (1 minute ago)" {
		t.Errorf("fields not updated: %q %q", f.d.serverID.value.Text, f.d.tokenExpiry.value.Text)
	}
}

func TestDetailsRefresh(t *testing.T) {
	fresh := statusAt(func(l *licensecore.License) {
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
			Explain(licensecore.ErrRefreshRejected), widget.DangerImportance, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newDetailsFixture(t, statusAt(nil, false))
			f.svc.refresh = tt.res
			gate := make(chan struct{})
			f.d.async = func(fn func()) { f.tr.run(func() { <-gate; fn() }) }
			tap(t, f.d.refreshBtn)
			if !f.d.refreshBtn.Disabled() || !f.d.busy.running() {
				t.Error("no progress while refreshing")
			}
			close(gate)
			f.tr.finished(1)
			if f.d.refreshBtn.Disabled() || f.d.busy.running() {
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
	f := newDetailsFixture(t, statusAt(nil, false))
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
		{"clock error", skewed(statusAt(nil, true), 3*time.Hour+12*time.Minute), []string{"clock"},
			[]string{"Trusted time: 10 Mar 2026 09:30.", "This PC's clock is 3 h 12 min behind the Authorization server."}},
		{"large offset", skewed(statusAt(nil, false), -20*time.Hour), []string{"clock"},
			[]string{"This PC's clock is 20 h ahead of the Authorization server."}},
		{"small offset", skewed(statusAt(nil, false), 30*time.Second), nil, nil},
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
