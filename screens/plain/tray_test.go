package plain

import (
	"testing"
	"time"

	"licensedesk/licensecore"
	"licensedesk/screens/internal/fixture"
)

func TestTrayStatus(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		name  string
		st    licensecore.Status
		now   time.Time
		line  string
		state TrayState
	}{
		{"unlicensed", licensecore.Evaluate(nil, fixture.T0, licensecore.DefaultPolicy()), fixture.T0, "Not licensed", TrayUnlicensed},
		{"licensed", fixture.StatusAt(nil, false), fixture.T0, "Licensed — token expires in 2 days", TrayOK},
		// Times are measured from now, not from when the status was made.
		{"licensed, later", fixture.StatusAt(nil, false), fixture.T0.Add(20 * time.Hour), "Licensed — token expires in 28 hours", TrayOK},
		{"token soon", fixture.StatusAt(func(l *licensecore.License) {
			l.TokenIssuedAt, l.TokenExpiry = fixture.T0.Add(-62*time.Hour), fixture.T0.Add(10*time.Hour)
		}, false), fixture.T0, "Token expires in 10 hours — connect to the internet", TrayWarning},
		// The worst condition leads: the token's last minute beats the
		// renewal's days.
		{"token's last minute while renewal due", fixture.StatusAt(func(l *licensecore.License) {
			l.RenewalDate = fixture.T0.Add(18 * day)
			l.TokenExpiry = fixture.T0.Add(40 * time.Second)
		}, false), fixture.T0, "Token expires in less than a minute — connect to the internet", TrayWarning},
		// The status was evaluated before the token expired; the tray
		// reads it after.
		{"token expired since the status", fixture.StatusAt(func(l *licensecore.License) {
			l.RenewalDate = fixture.T0.Add(18 * day)
			l.TokenExpiry = fixture.T0.Add(40 * time.Second)
		}, false), fixture.T0.Add(time.Minute), "Token expired — registers cannot authenticate", TrayExpired},
		{"requires renewal", fixture.StatusAt(func(l *licensecore.License) { l.RenewalDate = fixture.T0.Add(12 * day) }, false), fixture.T0,
			"Requires Renewal — renew within 12 days", TrayWarning},
		{"token expired", fixture.StatusAt(func(l *licensecore.License) { l.TokenExpiry = fixture.T0.Add(-time.Hour) }, false), fixture.T0,
			"Token expired — registers cannot authenticate", TrayExpired},
		{"renewal passed", fixture.StatusAt(func(l *licensecore.License) { l.RenewalDate = fixture.T0.Add(-day) }, false), fixture.T0,
			"License expired — renew it, then remove & re-acquire", TrayExpired},
		{"clock error", fixture.StatusAt(nil, true), fixture.T0, "Clock error — correct this PC's date and time", TrayWarning},
		{"clock error, offset known", fixture.Skewed(fixture.StatusAt(nil, true), 3*time.Hour+12*time.Minute), fixture.T0,
			"This PC's clock is 3 h 12 min behind the Authorization server", TrayWarning},
		{"clock ahead", fixture.Skewed(fixture.StatusAt(nil, false), -20*time.Hour), fixture.T0, "This PC's clock is 20 h ahead of the Authorization server", TrayOK},
		{"clock within a minute", fixture.Skewed(fixture.StatusAt(nil, false), 45*time.Second), fixture.T0, "Licensed — token expires in 2 days", TrayOK},
		{"no token expiry", fixture.StatusAt(func(l *licensecore.License) { l.TokenExpiry = time.Time{} }, false), fixture.T0, "Licensed", TrayOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			line, state := TrayStatus(tt.st, tt.now)
			if line != tt.line || state != tt.state {
				t.Errorf("got %q %v, want %q %v", line, state, tt.line, tt.state)
			}
		})
	}
}

func TestTrayIcons(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range []TrayState{TrayOK, TrayWarning, TrayExpired, TrayUnlicensed} {
		png := s.IconPNG()
		if len(png) < 8 || string(png[1:4]) != "PNG" {
			t.Errorf("%v icon is not a PNG image (%d bytes)", s, len(png))
		}
		if seen[string(png)] {
			t.Errorf("%v icon is not distinct", s)
		}
		seen[string(png)] = true
	}
}

func TestTrayMenu(t *testing.T) {
	m := TrayMenu(fixture.StatusAt(nil, false), fixture.T0)
	want := []TrayItem{
		{Label: "Licensed — token expires in 2 days", Disabled: true}, {},
		{Label: "Open License Desk", Action: TrayOpen}, {Label: "Refresh tokens now", Action: TrayRefresh}, {},
		{Label: "Quit", Action: TrayQuit},
	}
	if len(m) != len(want) {
		t.Fatalf("menu %+v, want %+v", m, want)
	}
	for i := range m {
		if m[i] != want[i] {
			t.Errorf("item %d = %+v, want %+v", i, m[i], want[i])
		}
	}
}

func TestTrayTooltipAndRefreshItem(t *testing.T) {
	if got := TrayTooltip(fixture.StatusAt(nil, false), fixture.T0); got != "License Desk: Licensed — token expires in 2 days" {
		t.Errorf("tooltip %q", got)
	}
	unlicensed := licensecore.Evaluate(nil, fixture.T0, licensecore.DefaultPolicy())
	if got := TrayTooltip(unlicensed, fixture.T0); got != "License Desk: Not licensed" {
		t.Errorf("tooltip %q", got)
	}
	for _, tc := range []struct {
		st       licensecore.Status
		disabled bool
	}{{fixture.StatusAt(nil, false), false}, {unlicensed, true}} {
		for _, it := range TrayMenu(tc.st, fixture.T0) {
			if it.Label == "Refresh tokens now" && it.Disabled != tc.disabled {
				t.Errorf("%s: Refresh tokens now disabled %v, want %v", tc.st.State, it.Disabled, tc.disabled)
			}
		}
	}
}
