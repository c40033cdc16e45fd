package licensecore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/rs/zerolog"

	"licensedesk/licensecore/wire"
)

// StoreSnapshot returns every stored license, token, key set and offline
// record as raw bytes, so tests can prove a refusal changed nothing.
func StoreSnapshot(tb testing.TB, s *Store) map[string]string {
	tb.Helper()
	out := map[string]string{}
	for _, prefix := range []string{"lic/", "offline/"} {
		mustNil(tb, s.scan(prefix, func(k string, v []byte) error { out[k] = string(v); return nil }))
	}
	return out
}

func TestOfflineWindowBoundaries(t *testing.T) {
	since := t0
	lic := &License{ServerID: "s", LicenseID: "l", Offline: true, OfflineSince: since}
	p := DefaultPolicy()
	cases := []struct {
		name     string
		at       time.Duration // after OfflineSince
		state    State
		daysLeft int
		warn     bool
		msg      string
	}{
		{"just contacted", 0, Licensed, 30, false, ""},
		{"22 days 23:59:59", 23*day - time.Second, Licensed, 8, false, ""},
		{"exactly 23 days", 23 * day, Licensed, 7, true, "The license will expire in 7 days because the licensing server has been unavailable for 23 days"},
		{"23 days and a second", 23*day + time.Second, Licensed, 7, true, "The license will expire in 7 days because the licensing server has been unavailable for 23 days"},
		{"29 days 12 h rounds up to 1 day", 29*day + 12*time.Hour, Licensed, 1, true, "The license will expire in 1 day because the licensing server has been unavailable for 29 days"},
		{"one second left", 30*day - time.Second, Licensed, 1, true, "The license will expire in 1 day because the licensing server has been unavailable for 29 days"},
		{"exactly 30 days", 30 * day, ExpiredRequiresRenewal, 0, false, "The license has expired because the licensing server has been unavailable for 30 days"},
		{"45 days", 45 * day, ExpiredRequiresRenewal, 0, false, "The license has expired because the licensing server has been unavailable for 45 days"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := Evaluate(lic, since.Add(tc.at), p)
			if st.State != tc.state || st.OfflineDaysLeft != tc.daysLeft || st.OfflineExpiring != tc.warn || !st.OfflineGraceEnd.Equal(since.Add(30*day)) {
				t.Fatalf("got %v, %d days, warn %v, end %v", st.State, st.OfflineDaysLeft, st.OfflineExpiring, st.OfflineGraceEnd)
			}
			if away := daysAway(tc.msg); tc.msg != "" && st.OfflineDays != away {
				t.Fatalf("offline for %d days, want %d", st.OfflineDays, away)
			}
			if tc.warn && st.Severity() < 1 || tc.state == ExpiredRequiresRenewal && st.Severity() != 2 {
				t.Fatalf("severity %d", st.Severity())
			}
		})
	}
	t.Run("online licenses have no offline window", func(t *testing.T) {
		online := *lic
		online.Offline = false
		st := Evaluate(&online, since.Add(45*day), p)
		if st.State != Licensed || !st.OfflineGraceEnd.IsZero() || st.OfflineExpiring || st.OfflineDays != 0 {
			t.Fatalf("online license: %+v", st)
		}
	})
	t.Run("zero policy values mean the defaults", func(t *testing.T) {
		q := p
		q.OfflineWindow, q.OfflineWarn = 0, 0
		if st := Evaluate(lic, since.Add(23*day), q); st.OfflineDaysLeft != 7 || !st.OfflineExpiring {
			t.Fatalf("%+v", st)
		}
		q.OfflineWindow, q.OfflineWarn = 10*day, 2*day
		if st := Evaluate(lic, since.Add(8*day), q); st.OfflineDaysLeft != 2 || !st.OfflineExpiring {
			t.Fatalf("custom window: %+v", st)
		}
		q.OfflineWindow = -1
		if q.Validate() == nil {
			t.Fatal("negative window accepted")
		}
	})
}

// entitlementClaims are the claims of a license file for installCode,
// issued at iat by testIssuer.
func entitlementClaims(iat time.Time, installCode, jti string) *wire.Claims {
	c := validClaims(iat)
	c.IssuedAt, c.NotBefore = jwt.NewNumericDate(iat), jwt.NewNumericDate(iat)
	c.ExpiresAt = jwt.NewNumericDate(iat.Add(wire.OfflineWindow))
	c.ID, c.InstallCode = jti, installCode
	return c
}

func signEntitlement(tb testing.TB, k testKey, c *wire.Claims) string {
	tb.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
	tok.Header["kid"], tok.Header["typ"] = k.kid, wire.EntitlementType
	s, err := tok.SignedString(k.priv)
	mustNil(tb, err)
	return s
}

// entFile is a license file whose key set (of keys) the test root signed;
// with no keys it carries no key set.
func entFile(tb testing.TB, token string, keys ...testKey) []byte {
	tb.Helper()
	set := ""
	if len(keys) > 0 {
		set = signedSet(tb, rootKey, keys...)
	}
	out, err := wire.NewEntitlementFile(token, set)
	mustNil(tb, err)
	return out
}

const testInstall = "BCDF-GHJK-LMNP-QRST"

// newOfflineManager is a Manager for testIssuer at the fake clock, with an
// administrator session.
func newOfflineManager(tb testing.TB, clock *fakeClock) (*Manager, *AdminSession) {
	tb.Helper()
	m, err := NewManager(Options{Store: newTestStore(tb), AuthorityURL: testIssuer, Now: clock.Now, Logger: zerolog.Nop(),
		DeviceName: "Till", InstallCode: testInstall, Root: rootKey.pub})
	mustNil(tb, err)
	mustNil(tb, m.Admins().CreateAdministrator("admin", "admin-password"))
	sess, err := m.Admins().AdminLogin("admin", "admin-password")
	mustNil(tb, err)
	return m, sess
}

func TestImportEntitlementPinsRootSignedKeySet(t *testing.T) {
	clock := newFakeClock(t0)
	m, sess := newOfflineManager(t, clock)
	ctx := context.Background()
	file := entFile(t, signEntitlement(t, keyA, entitlementClaims(t0.Add(-time.Hour), strings.ToLower(testInstall), "ent-1")), keyA)
	st, err := m.ImportEntitlement(ctx, sess, file)
	mustNil(t, err)
	if !st.License.Offline || !st.License.OfflineSince.Equal(t0.Add(-time.Hour)) || st.OfflineDaysLeft != 30 {
		t.Fatalf("imported: %+v", st)
	}
	if jws, err := m.store.KeySet(); err != nil || jws != signedSet(t, rootKey, keyA) {
		t.Fatalf("key set not pinned: %v", err)
	}
	// Once pinned, a file signed by a key the root never vouched for is
	// refused, and one whose root-signed set swaps the pinned key's value.
	before := StoreSnapshot(t, m.store)
	for name, f := range map[string][]byte{
		"foreign key": entFile(t, signEntitlement(t, keyB, entitlementClaims(t0, testInstall, "ent-2"))),
		"swapped key": swappedKeyFile(t, signEntitlement(t, keyB, entitlementClaims(t0, testInstall, "ent-3"))),
	} {
		if _, err := m.ImportEntitlement(ctx, sess, f); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if !maps.Equal(before, StoreSnapshot(t, m.store)) {
		t.Fatal("a refused file changed the store")
	}
	// A newer file from the pinned key is accepted and keeps counting
	// from its own issue time.
	clock.Add(48 * time.Hour)
	sess, err = m.Admins().AdminLogin("admin", "admin-password") // the first login has expired
	mustNil(t, err)
	st, err = m.ImportEntitlement(ctx, sess, entFile(t, signEntitlement(t, keyA, entitlementClaims(t0.Add(47*time.Hour), testInstall, "ent-4"))))
	mustNil(t, err)
	if st.License.TokenID != "ent-4" || st.OfflineDaysLeft != 30 {
		t.Fatalf("second file: %+v", st)
	}
}

// FuzzImportEntitlement feeds arbitrary files to the importer: it must
// never panic, a refusal must leave the store as it was, and nothing but a
// file whose token keyA signed may be accepted.
func FuzzImportEntitlement(f *testing.F) {
	clock := newFakeClock(t0)
	m, sess := newOfflineManager(f, clock)
	good := entFile(f, signEntitlement(f, keyA, entitlementClaims(t0.Add(-time.Minute), testInstall, "ent-1")), keyA)
	for _, seed := range [][]byte{
		good,
		good[:len(good)/2],
		[]byte(strings.Replace(string(good), `"version": 1`, `"version": 2`, 1)),
		entFile(f, keyA.sign(f, validClaims(t0)), keyA),
		entFile(f, signEntitlement(f, keyA, entitlementClaims(t0, "OTHER-PC", "ent-2")), keyA),
		[]byte(`{"format":"licensedesk-entitlement","version":1,"entitlement":"a.b.c"}`),
		[]byte("{}"), []byte("null"), nil,
	} {
		f.Add(seed)
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, data []byte) {
		before := StoreSnapshot(t, m.store)
		st, err := m.ImportEntitlement(ctx, sess, data)
		if err != nil {
			if !maps.Equal(before, StoreSnapshot(t, m.store)) {
				t.Fatalf("refused (%v) but the store changed", err)
			}
			return
		}
		toks, _ := m.store.Tokens()
		v := newTestVerifier(t, clock.Now, 1, keyA)
		if _, verr := v.Verify(toks.License); verr != nil || st.License == nil {
			t.Fatalf("accepted a file keyA did not sign: %v", verr)
		}
	})
}

func TestApplyResponseInternal(t *testing.T) {
	clock := newFakeClock(t0)
	m, sess := newOfflineManager(t, clock)
	ctx := context.Background()
	if _, err := m.ApplyResponse(ctx, sess, "x"); !errors.Is(err, ErrNoChallenge) {
		t.Fatalf("no challenge: %v", err)
	}
	ch, err := m.GetChallenge()
	mustNil(t, err)
	if again, _ := m.GetChallenge(); again != ch {
		t.Fatal("a second GetChallenge made a new challenge")
	}
	if ch.Binding != wire.ChallengeBinding(testInstall) {
		t.Fatal("challenge not bound to the install code")
	}
	code, err := wire.SignResponse(keyA.priv, keyA.kid, ch, "server-0001", "lic-0001", testEntitlement())
	mustNil(t, err)
	if _, err := m.ApplyResponse(ctx, sess, code); !errors.Is(err, ErrNotLicensed) {
		t.Fatalf("unlicensed: %v", err)
	}
	_, err = m.ImportEntitlement(ctx, sess, entFile(t, signEntitlement(t, keyA, entitlementClaims(t0.Add(-time.Hour), testInstall, "ent-1")), keyA))
	mustNil(t, err)
	st, err := m.ApplyResponse(ctx, sess, code)
	mustNil(t, err)
	if l := st.License; l.Capacity != 12 || l.Users != 40 || strings.Join(l.Features, ",") != "xms,reports" || !l.OfflineSince.Equal(t0) {
		t.Fatalf("after response: %+v", l)
	}
	if _, err := m.ApplyResponse(ctx, sess, code); !errors.Is(err, ErrNoChallenge) {
		t.Fatalf("replayed response: %v", err)
	}
}

// daysAway reads N from "… unavailable for N days" (or "1 day").
func daysAway(msg string) int {
	var n int
	if i := strings.LastIndex(msg, "unavailable for "); i >= 0 {
		fmt.Sscanf(msg[i+len("unavailable for "):], "%d", &n)
	}
	return n
}

func testEntitlement() wire.ResponseEntitlement {
	return wire.ResponseEntitlement{
		IssuedAt: t0, Capacity: 12, Users: 40,
		RenewalDate: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Features: []string{"xms", "reports"},
	}
}

// swappedKeyFile is a license file whose root-signed key set gives the
// pinned kid of keyA the value of keyB (a root that signed nonsense).
func swappedKeyFile(tb testing.TB, token string) []byte {
	tb.Helper()
	jwk := keyB.jwk()
	jwk.Kid = keyA.kid
	set, err := wire.SignKeySet(rootKey.priv, testIssuer, wire.JWKS{Keys: []wire.JWK{jwk}}, t0)
	mustNil(tb, err)
	out, err := wire.NewEntitlementFile(token, set)
	mustNil(tb, err)
	return out
}
