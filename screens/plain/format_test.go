package plain

import (
	"testing"
	"time"

	"licensedesk/licensecore"
	"licensedesk/screens/internal/fixture"
)

func TestRelative(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "in less than a minute"},
		{59 * time.Second, "in less than a minute"},
		{time.Minute, "in 1 minute"},
		{90 * time.Minute, "in 90 minutes"},
		{2 * time.Hour, "in 2 hours"},
		{47*time.Hour + 29*time.Minute, "in 47 hours"},
		{47*time.Hour + 59*time.Minute, "in 48 hours"},
		// A fresh 3-day token, a few seconds after it was issued.
		{72*time.Hour - 5*time.Second, "in 3 days"},
		{60 * time.Hour, "in 2 days"},
		{60*time.Hour + time.Second, "in 3 days"},
		{48 * time.Hour, "in 2 days"},
		{24 * time.Hour, "in 24 hours"},
		{30 * 24 * time.Hour, "in 30 days"},
		{-3 * time.Hour, "3 hours ago"},
		{-time.Minute, "1 minute ago"},
		{-72 * time.Hour, "3 days ago"},
	}
	for _, tt := range tests {
		if got := Relative(tt.d); got != tt.want {
			t.Errorf("relative(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestCountdown(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{15 * time.Minute, "15:00"},
		{14*time.Minute + 59*time.Second + time.Millisecond, "15:00"}, // rounded up
		{61 * time.Second, "1:01"},
		{500 * time.Millisecond, "0:01"},
		{0, "0:00"},
		{-time.Second, "0:00"},
	}
	for _, tt := range tests {
		if got := Countdown(tt.d); got != tt.want {
			t.Errorf("countdown(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestDates(t *testing.T) {
	tz := time.FixedZone("UTC+2", 2*3600)
	at := time.Date(2026, 3, 10, 23, 30, 0, 0, time.UTC)
	if got := Date(at, tz); got != "11 Mar 2026" {
		t.Errorf("formatDate = %q: dates are shown in the PC's zone", got)
	}
	if got := DateTime(at, time.UTC); got != "10 Mar 2026 23:30" {
		t.Errorf("formatDateTime = %q", got)
	}
}

// TestWordsChange: the wait wordsChange gives is exactly when relative()
// first reads differently.
func TestWordsChange(t *testing.T) {
	for _, d := range []time.Duration{72*time.Hour - 5*time.Second, 60 * time.Hour, 48 * time.Hour, 47*time.Hour + 31*time.Minute,
		2 * time.Hour, 119 * time.Minute, 90*time.Minute + 30*time.Second, 30 * time.Second, 0, -time.Second,
		-59 * time.Minute, -2 * time.Hour, -47*time.Hour - 40*time.Minute, -10 * 24 * time.Hour} {
		w := wordsChange(d)
		if w <= 0 {
			t.Errorf("wordsChange(%v) = %v, want > 0", d, w)
			continue
		}
		if Relative(d-w) == Relative(d) {
			t.Errorf("wordsChange(%v) = %v: still %q then", d, w, Relative(d))
		}
		if Relative(d-w+1) != Relative(d) {
			t.Errorf("wordsChange(%v) = %v: already %q a nanosecond earlier, not %q", d, w, Relative(d-w+1), Relative(d))
		}
	}
}

// TestNextUpdate: the screens are evaluated again exactly when something
// they show changes: a state boundary or a "in 2 days" word.
func TestNextUpdate(t *testing.T) {
	p := licensecore.DefaultPolicy()
	l := fixture.License()
	shown := func(at time.Time) string {
		st := licensecore.Evaluate(l, at, p)
		return Headline(st) + "|" + Relative(st.TokenLeft) + "|" + Relative(st.RenewalLeft)
	}
	at, changes := fixture.T0, 0
	for at.Before(l.TokenExpiry.Add(time.Hour)) {
		next := NextUpdate(licensecore.Evaluate(l, at, p), p)
		if !next.After(at) {
			t.Fatalf("NextUpdate %v not after %v", next, at)
		}
		if shown(next.Add(-time.Nanosecond)) != shown(at) {
			t.Fatalf("the screen changed before %v: %q → %q", next, shown(at), shown(next.Add(-time.Nanosecond)))
		}
		if shown(next) == shown(at) {
			t.Fatalf("nothing changed at %v: %q", next, shown(at))
		}
		at, changes = next, changes+1
	}
	// From 48 h left: hours from 47 down, minutes, the warning, the expiry.
	if changes < 50 {
		t.Errorf("only %d updates over the token's last two days", changes)
	}
}
