package screens

import (
	"testing"
	"time"

	"licensedesk/assets"
	"licensedesk/licensecore"
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
		{"unlicensed", licensecore.Evaluate(nil, t0, licensecore.DefaultPolicy()), t0, "Not licensed", TrayUnlicensed},
		{"licensed", statusAt(nil, false), t0, "Licensed — token expires in 2 days", TrayOK},
		// Times are measured from now, not from when the status was made.
		{"licensed, later", statusAt(nil, false), t0.Add(20 * time.Hour), "Licensed — token expires in 28 hours", TrayOK},
		{"token soon", statusAt(func(l *licensecore.License) {
			l.TokenIssuedAt, l.TokenExpiry = t0.Add(-62*time.Hour), t0.Add(10*time.Hour)
		}, false), t0, "Token expires in 10 hours — connect to the internet", TrayWarning},
		// The worst condition leads: the token's last minute beats the
		// renewal's days.
		{"token's last minute while renewal due", statusAt(func(l *licensecore.License) {
			l.RenewalDate = t0.Add(18 * day)
			l.TokenExpiry = t0.Add(40 * time.Second)
		}, false), t0, "Token expires in less than a minute — connect to the internet", TrayWarning},
		// The status was evaluated before the token expired; the tray
		// reads it after.
		{"token expired since the status", statusAt(func(l *licensecore.License) {
			l.RenewalDate = t0.Add(18 * day)
			l.TokenExpiry = t0.Add(40 * time.Second)
		}, false), t0.Add(time.Minute), "Token expired — registers cannot authenticate", TrayExpired},
		{"requires renewal", statusAt(func(l *licensecore.License) { l.RenewalDate = t0.Add(12 * day) }, false), t0,
			"Requires Renewal — renew within 12 days", TrayWarning},
		{"token expired", statusAt(func(l *licensecore.License) { l.TokenExpiry = t0.Add(-time.Hour) }, false), t0,
			"Token expired — registers cannot authenticate", TrayExpired},
		{"renewal passed", statusAt(func(l *licensecore.License) { l.RenewalDate = t0.Add(-day) }, false), t0,
			"License expired — renew it, then remove & re-acquire", TrayExpired},
		{"clock error", statusAt(nil, true), t0, "Clock error — correct this PC's date and time", TrayWarning},
		{"clock error, offset known", skewed(statusAt(nil, true), 3*time.Hour+12*time.Minute), t0,
			"This PC's clock is 3 h 12 min behind the Authorization server", TrayWarning},
		{"clock ahead", skewed(statusAt(nil, false), -20*time.Hour), t0, "This PC's clock is 20 h ahead of the Authorization server", TrayOK},
		{"clock within a minute", skewed(statusAt(nil, false), 45*time.Second), t0, "Licensed — token expires in 2 days", TrayOK},
		{"no token expiry", statusAt(func(l *licensecore.License) { l.TokenExpiry = time.Time{} }, false), t0, "Licensed", TrayOK},
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
	want := map[TrayState]string{TrayOK: assets.TrayOK.Name(), TrayWarning: assets.TrayWarning.Name(),
		TrayExpired: assets.TrayExpired.Name(), TrayUnlicensed: assets.TrayUnlicensed.Name()}
	seen := map[string]bool{}
	for s, name := range want {
		r := s.Icon()
		if r.Name() != name || len(r.Content()) == 0 {
			t.Errorf("%v icon = %q (%d bytes), want %q", s, r.Name(), len(r.Content()), name)
		}
		if seen[string(r.Content())] {
			t.Errorf("%v icon is not distinct", s)
		}
		seen[string(r.Content())] = true
	}
}

func TestTrayMenu(t *testing.T) {
	var calls []string
	m := NewTrayMenu(statusAt(nil, false), t0, TrayActions{
		Open:    func() { calls = append(calls, "open") },
		Refresh: func() { calls = append(calls, "refresh") },
		Quit:    func() { calls = append(calls, "quit") },
	})
	var labels []string
	for _, it := range m.Items {
		if !it.IsSeparator {
			labels = append(labels, it.Label)
		}
	}
	wantLabels := []string{"Licensed — token expires in 2 days", "Open License Desk", "Refresh tokens now", "Quit"}
	if len(labels) != len(wantLabels) {
		t.Fatalf("items %q, want %q", labels, wantLabels)
	}
	for i := range labels {
		if labels[i] != wantLabels[i] {
			t.Errorf("item %d = %q, want %q", i, labels[i], wantLabels[i])
		}
	}
	if !m.Items[0].Disabled || m.Items[0].Action != nil {
		t.Error("the status line is clickable")
	}
	last := m.Items[len(m.Items)-1]
	if !last.IsQuit {
		t.Error("Quit is not marked IsQuit: Fyne would add a second one")
	}
	for _, it := range m.Items {
		if it.Action != nil {
			it.Action()
		}
	}
	if want := []string{"open", "refresh", "quit"}; len(calls) != 3 || calls[0] != want[0] || calls[1] != want[1] || calls[2] != want[2] {
		t.Errorf("actions ran %v, want %v", calls, want)
	}
}

func TestTrayTooltipAndRefreshItem(t *testing.T) {
	if got := TrayTooltip(statusAt(nil, false), t0); got != "License Desk: Licensed — token expires in 2 days" {
		t.Errorf("tooltip %q", got)
	}
	unlicensed := licensecore.Evaluate(nil, t0, licensecore.DefaultPolicy())
	if got := TrayTooltip(unlicensed, t0); got != "License Desk: Not licensed" {
		t.Errorf("tooltip %q", got)
	}
	for _, tc := range []struct {
		st       licensecore.Status
		disabled bool
	}{{statusAt(nil, false), false}, {unlicensed, true}} {
		m := NewTrayMenu(tc.st, t0, TrayActions{Open: func() {}, Refresh: func() {}, Quit: func() {}})
		for _, it := range m.Items {
			if it.Label == "Refresh tokens now" && it.Disabled != tc.disabled {
				t.Errorf("%s: Refresh tokens now disabled %v, want %v", tc.st.State, it.Disabled, tc.disabled)
			}
		}
	}
}
