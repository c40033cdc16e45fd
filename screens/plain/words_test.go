package plain

import (
	"strings"
	"testing"
	"time"

	"licensedesk/licensecore"
	"licensedesk/licensecore/wire"
	"licensedesk/screens/internal/fixture"
)

const day = 24 * time.Hour

func TestOfflineWarning(t *testing.T) {
	p := licensecore.DefaultPolicy()
	since := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	lic := &licensecore.License{ServerID: "S", LicenseID: "L", Offline: true, OfflineSince: since, TokenIssuedAt: since, TokenExpiry: since.Add(30 * day)}
	for _, tc := range []struct {
		name string
		at   time.Duration
		want string
	}{
		{"just contacted", 0, ""},
		{"22 days 23:59:59", 23*day - time.Second, ""},
		{"exactly 23 days", 23 * day, "The license will expire in 7 days because the licensing server has been unavailable for 23 days"},
		{"29 days 12 h rounds up to 1 day", 29*day + 12*time.Hour, "The license will expire in 1 day because the licensing server has been unavailable for 29 days"},
		{"one second left", 30*day - time.Second, "The license will expire in 1 day because the licensing server has been unavailable for 29 days"},
		{"exactly 30 days", 30 * day, "The license has expired because the licensing server has been unavailable for 30 days"},
		{"45 days", 45 * day, "The license has expired because the licensing server has been unavailable for 45 days"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := OfflineWarning(licensecore.Evaluate(lic, since.Add(tc.at), p)); got != tc.want {
				t.Fatalf("%q, want %q", got, tc.want)
			}
		})
	}
	t.Run("the policy in force sets the window", func(t *testing.T) {
		q := p
		q.OfflineWindow, q.OfflineWarn = 10*day, 2*day
		want := "The license will expire in 2 days because the licensing server has been unavailable for 8 days"
		if got := OfflineWarning(licensecore.Evaluate(lic, since.Add(8*day), q)); got != want {
			t.Fatalf("%q, want %q", got, want)
		}
	})
	online := *lic
	online.Offline = false
	if got := OfflineWarning(licensecore.Evaluate(&online, since.Add(45*day), p)); got != "" {
		t.Fatalf("online license: %q", got)
	}
}

func TestDescribePool(t *testing.T) {
	for _, tc := range []struct {
		l    wire.PoolLicense
		want string
	}{
		{wire.PoolLicense{Kind: wire.PoolCapacity, Devices: 8}, "8 devices"},
		{wire.PoolLicense{Kind: wire.PoolCapacity, Devices: 1}, "1 device"},
		{wire.PoolLicense{Kind: wire.PoolMaintenance, MaintenanceUntil: time.Date(2027, 12, 31, 23, 0, 0, 0, time.UTC)}, "Maintenance until 31 Dec 2027"},
		{wire.PoolLicense{Kind: "seats"}, "seats"},
	} {
		if got := DescribePool(tc.l); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.l, got, tc.want)
		}
	}
}

func TestTransferImpact(t *testing.T) {
	maint26 := time.Date(2026, 6, 30, 0, 0, 0, 0, time.UTC)
	maint27 := time.Date(2027, 12, 31, 0, 0, 0, 0, time.UTC)
	act := func(id string, l wire.PoolLicense) licensecore.ActivatedLicense {
		l.ID = id
		return licensecore.ActivatedLicense{PoolLicense: l, State: licensecore.ActivationActive}
	}
	cap8 := act("CAP-8", wire.PoolLicense{Kind: wire.PoolCapacity, Devices: 8})
	cap1 := act("CAP-1", wire.PoolLicense{Kind: wire.PoolCapacity, Devices: 1})
	mnt27 := act("MNT-27", wire.PoolLicense{Kind: wire.PoolMaintenance, MaintenanceUntil: maint27})
	mnt26 := act("MNT-26", wire.PoolLicense{Kind: wire.PoolMaintenance, MaintenanceUntil: maint26})
	tot := func(devices int, m time.Time) licensecore.PoolTotals {
		return licensecore.PoolTotals{Devices: devices, MaintenanceUntil: m}
	}
	for _, tc := range []struct {
		plan licensecore.TransferPlan
		want string
	}{
		{licensecore.TransferPlan{Licenses: []licensecore.ActivatedLicense{cap8}, Before: tot(12, maint27), After: tot(4, maint27)},
			"License CAP-8 (8 devices) returns to the cloud pool. Capacity drops from 12 to 4 devices; 8 devices become unlicensed."},
		{licensecore.TransferPlan{Licenses: []licensecore.ActivatedLicense{cap1}, Before: tot(5, time.Time{}), After: tot(4, time.Time{})},
			"License CAP-1 (1 device) returns to the cloud pool. Capacity drops from 5 to 4 devices; 1 device becomes unlicensed."},
		{licensecore.TransferPlan{Licenses: []licensecore.ActivatedLicense{mnt27}, Before: tot(12, maint27), After: tot(12, maint26)},
			"License MNT-27 (Maintenance until 31 Dec 2027) returns to the cloud pool. Maintenance ends on 30 Jun 2026 instead of 31 Dec 2027."},
		{licensecore.TransferPlan{Licenses: []licensecore.ActivatedLicense{mnt26}, Before: tot(12, maint27), After: tot(12, maint27)},
			"License MNT-26 (Maintenance until 30 Jun 2026) returns to the cloud pool."},
		{licensecore.TransferPlan{Licenses: []licensecore.ActivatedLicense{cap8, cap1, mnt26, mnt27}, Before: tot(9, maint27), After: tot(0, time.Time{})},
			"4 licenses return to the cloud pool. Capacity drops from 9 to 0 devices; 9 devices become unlicensed. Maintenance (until 31 Dec 2027) ends now."},
		{licensecore.TransferPlan{Before: tot(12, maint27), After: tot(12, maint27)}, "No activated license is selected; nothing changes."},
	} {
		if got := TransferImpact(tc.plan); got != tc.want {
			t.Errorf("got\n%q, want\n%q", got, tc.want)
		}
	}
}

func TestNoticeText(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	p := licensecore.DefaultPolicy()
	l := &licensecore.License{ServerID: "S", LicenseID: "L", TokenID: "j1", TokenIssuedAt: now.Add(-62 * time.Hour), TokenExpiry: now.Add(10 * time.Hour),
		RenewalDate: now.Add(6 * day)}
	st := licensecore.Evaluate(l, now, p)
	got := map[licensecore.NoticeKind][2]string{}
	for _, n := range licensecore.DueNotices(st, p) {
		title, body := NoticeText(n, st, time.UTC)
		got[n.Kind] = [2]string{title, body}
	}
	want := map[licensecore.NoticeKind][2]string{
		licensecore.NoticeTokenExpiring: {"License token expires soon", "The license token expires Mon 23 Nov 22:00. Connect this server to the internet to get fresh tokens."},
		licensecore.NoticeRenewalDue:    {"License requires renewal", "The license must be renewed by 29 Nov 2026 (within 7 days)."},
	}
	if len(got) != len(want) {
		t.Fatalf("notices %v", got)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("kind %v: %q, want %q", k, got[k], w)
		}
	}
	since := now.Add(-23 * day)
	off := &licensecore.License{ServerID: "S", LicenseID: "L", Offline: true, OfflineSince: since, TokenIssuedAt: since, TokenExpiry: since.Add(30 * day)}
	st = licensecore.Evaluate(off, now, p)
	for _, n := range licensecore.DueNotices(st, p) {
		if n.Kind == licensecore.NoticeOfflineExpiring {
			_, body := NoticeText(n, st, time.UTC)
			if body != "The license will expire in 7 days because the licensing server has been unavailable for 23 days. Connect this server to the internet, or import a new license file." {
				t.Fatalf("offline notice %q", body)
			}
			return
		}
	}
	t.Fatal("no offline notice")
}

func TestLockoutClockOffsetWords(t *testing.T) {
	st := fixture.StatusAt(nil, false)
	for _, tc := range []struct {
		name string
		st   licensecore.Status
		want string
	}{
		{"unknown", st, ""},
		{"within a minute", fixture.Skewed(st, -time.Minute), ""},
		{"45 s", fixture.Skewed(st, 45*time.Second), ""},
		{"behind", fixture.Skewed(st, 3*time.Hour+12*time.Minute+20*time.Second), "This PC's clock is 3 h 12 min behind the Authorization server"},
		{"ahead", fixture.Skewed(st, -20*time.Hour), "This PC's clock is 20 h ahead of the Authorization server"},
		{"minutes", fixture.Skewed(st, 5*time.Minute), "This PC's clock is 5 min behind the Authorization server"},
		{"days", fixture.Skewed(st, -(20*day + 4*time.Hour)), "This PC's clock is 20 days 4 h ahead of the Authorization server"},
		{"one day", fixture.Skewed(st, day), "This PC's clock is 1 day behind the Authorization server"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ClockOffset(tc.st); got != tc.want {
				t.Fatalf("%q, want %q", got, tc.want)
			}
		})
	}
}

func TestRefreshOutcome(t *testing.T) {
	exp := time.Date(2027, 3, 4, 15, 4, 0, 0, time.Local)
	if title, body := RefreshOutcome(licensecore.Status{License: &licensecore.License{TokenExpiry: exp}}, nil); title != "License token refreshed" || body != "New token valid until Thu 4 Mar 15:04." {
		t.Fatalf("success: %q / %q", title, body)
	}
	if title, body := RefreshOutcome(licensecore.Status{}, nil); title != "Token refresh failed" || body != Explain(licensecore.ErrNotLicensed) {
		t.Fatalf("no license: %q / %q", title, body)
	}
	if title, body := RefreshOutcome(licensecore.Status{}, licensecore.ErrAuthorityDown); title != "Token refresh failed" || body != Explain(licensecore.ErrAuthorityDown) {
		t.Fatalf("failure: %q / %q", title, body)
	}
}

func TestCloseHintSaysHowToReopen(t *testing.T) {
	_, withTray := CloseHint(true)
	_, without := CloseHint(false)
	if !strings.Contains(withTray, "system tray") || !strings.Contains(without, "applications menu") || strings.Contains(without, "tray icon to") {
		t.Fatalf("%q / %q", withTray, without)
	}
}

func TestLicensedNotice(t *testing.T) {
	title, body := LicensedNotice(fixture.StatusAt(nil, false))
	if title != "License Desk is licensed" || body != "License for Corner Shop Ltd · Back office PC (SRV-0042)." {
		t.Errorf("%q %q", title, body)
	}
}
