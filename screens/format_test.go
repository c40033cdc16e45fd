package screens

import (
	"testing"
	"time"
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
		{47*time.Hour + 59*time.Minute, "in 47 hours"},
		{48 * time.Hour, "in 2 days"},
		{24 * time.Hour, "in 24 hours"},
		{30 * 24 * time.Hour, "in 30 days"},
		{-3 * time.Hour, "3 hours ago"},
		{-time.Minute, "1 minute ago"},
		{-72 * time.Hour, "3 days ago"},
	}
	for _, tt := range tests {
		if got := relative(tt.d); got != tt.want {
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
		if got := countdown(tt.d); got != tt.want {
			t.Errorf("countdown(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestDates(t *testing.T) {
	tz := time.FixedZone("UTC+2", 2*3600)
	at := time.Date(2026, 3, 10, 23, 30, 0, 0, time.UTC)
	if got := formatDate(at, tz); got != "11 Mar 2026" {
		t.Errorf("formatDate = %q: dates are shown in the PC's zone", got)
	}
	if got := formatDateTime(at, time.UTC); got != "10 Mar 2026 23:30" {
		t.Errorf("formatDateTime = %q", got)
	}
}
