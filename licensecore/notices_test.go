package licensecore

import (
	"strings"
	"testing"
	"time"
)

func TestDueNotices(t *testing.T) {
	p := DefaultPolicy()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	lic := func(tokenLeft, renewIn time.Duration) *License {
		l := &License{ServerID: "S", LicenseID: "L", TokenID: "j1", TokenIssuedAt: now.Add(tokenLeft - 72*time.Hour), TokenExpiry: now.Add(tokenLeft)}
		if renewIn != 0 {
			l.RenewalDate = now.Add(renewIn)
		}
		return l
	}
	cases := []struct {
		name string
		l    *License
		keys []string
		kind NoticeKind
	}{
		{"healthy", lic(60*time.Hour, 90*day), nil, 0},
		{"token soon", lic(10*time.Hour, 0), []string{"token-soon/j1"}, NoticeTokenExpiring},
		{"token expired", lic(-time.Second, 0), []string{"token-expired/j1"}, NoticeTokenExpired},
		{"renewal 30", lic(60*time.Hour, 30*day), []string{"renewal-30/L/2026-12-23"}, NoticeRenewalDue},
		{"renewal 30 plus a second", lic(60*time.Hour, 30*day+time.Second), nil, 0},
		{"renewal 7 covers 30", lic(60*time.Hour, 6*day), []string{"renewal-7/L/2026-11-29", "renewal-30/L/2026-11-29"}, NoticeRenewalDue},
		{"renewal 1 covers all", lic(60*time.Hour, time.Hour), []string{"renewal-1/L/2026-11-23", "renewal-7/L/2026-11-23", "renewal-30/L/2026-11-23"}, NoticeRenewalDue},
		{"license expired", lic(60*time.Hour, -time.Hour), []string{"licence-expired/L/2026-11-23"}, NoticeLicenseExpired},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := DueNotices(Evaluate(tc.l, now, p), p)
			if len(tc.keys) == 0 {
				if len(got) != 0 {
					t.Fatalf("unexpected notices %+v", got)
				}
				return
			}
			if len(got) != 1 || got[0].Kind != tc.kind || strings.Join(got[0].Keys, " ") != strings.Join(tc.keys, " ") {
				t.Fatalf("got %+v, want %v %v", got, tc.kind, tc.keys)
			}
		})
	}
	if n := DueNotices(Evaluate(nil, now, p), p); n != nil {
		t.Fatalf("unlicensed: %+v", n)
	}
	since := now.Add(-23 * day)
	off := &License{ServerID: "S", LicenseID: "L", Offline: true, OfflineSince: since, TokenIssuedAt: since, TokenExpiry: since.Add(30 * day)}
	st := Evaluate(off, now, p)
	got := DueNotices(st, p)
	found := false
	for _, n := range got {
		if strings.HasPrefix(n.Keys[0], "offline/L/") && n.Kind == NoticeOfflineExpiring && st.OfflineDays == 23 && st.OfflineDaysLeft == 7 {
			found = true
		}
	}
	if !found {
		t.Fatalf("no offline-window notice: %+v", got)
	}
}
