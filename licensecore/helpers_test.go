package licensecore

import (
	"crypto/ed25519"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"licensedesk/licensecore/internal/testkey"

	"github.com/golang-jwt/jwt/v5"

	"licensedesk/licensecore/wire"
)

// Shared fixtures of the licensecore tests: deterministic keys, a fixed and
// settable clock, token signing and a throw-away store.

const (
	testIssuer   = "https://authority.test"
	testAudience = wire.DefaultAudience
)

// t0 is the fixed "now" of every test; nothing reads the real clock.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeClock is a settable time source, safe for the parallel benchmarks.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func (c *fakeClock) Add(d time.Duration) { c.Set(c.Now().Add(d)) }

// testKey is an Ed25519 signing key derived from a one-byte seed, so tests
// and examples get the same key (and kid) on every run.
type testKey struct {
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
	kid  string
}

func newTestKey(seed byte) testKey {
	priv, pub := testkey.New(seed)
	return testKey{priv: priv, pub: pub, kid: wire.KeyID(pub)}
}

func (k testKey) jwk() wire.JWK { return wire.PublicJWK(k.pub) }

// sign signs claims the way the authority does: EdDSA with the key's kid.
func (k testKey) sign(tb testing.TB, c jwt.Claims) string {
	tb.Helper()
	return signToken(tb, jwt.SigningMethodEdDSA, k.priv, k.kid, c)
}

// signToken signs claims with any method and key, for the hostile cases.
func signToken(tb testing.TB, m jwt.SigningMethod, key any, kid string, c jwt.Claims) string {
	tb.Helper()
	tok := jwt.NewWithClaims(m, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		tb.Fatalf("sign %s token: %v", m.Alg(), err)
	}
	return s
}

// validClaims are the claims of a healthy 3-day token issued an hour
// before now.
func validClaims(now time.Time) *wire.Claims {
	return &wire.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    testIssuer,
			Subject:   "server-0001",
			Audience:  jwt.ClaimStrings{testAudience},
			ExpiresAt: jwt.NewNumericDate(now.Add(71 * time.Hour)),
			IssuedAt:  jwt.NewNumericDate(now.Add(-time.Hour)),
			NotBefore: jwt.NewNumericDate(now.Add(-time.Hour)),
			ID:        "tok-0001",
		},
		LicenseID:     "lic-0001",
		Type:          wire.Subscription,
		Customer:      "Corner Shop Ltd",
		Features:      []string{"pos", "loyalty"},
		HubServerName: "hub-1",
		HubServerURL:  "https://hub.example",
		Capacity:      5,
		RenewalDate:   now.Add(90 * 24 * time.Hour).Unix(),
		TransactionID: "txn-42",
		DeviceName:    "back-office",
	}
}

// newTestVerifier trusts keys and reads the time from clock.
func newTestVerifier(tb testing.TB, clock func() time.Time, cacheSize int, keys ...testKey) *Verifier {
	tb.Helper()
	v, err := NewVerifier(VerifierOptions{Issuer: testIssuer, Audience: testAudience, Leeway: 30 * time.Second, Now: clock, CacheSize: cacheSize})
	if err != nil {
		tb.Fatal(err)
	}
	set := wire.JWKS{}
	for _, k := range keys {
		set.Keys = append(set.Keys, k.jwk())
	}
	if len(keys) > 0 {
		if err := v.SetKeySet(set); err != nil {
			tb.Fatal(err)
		}
	}
	return v
}

// newTestStore opens a store in a fresh temporary directory and closes it
// when the test ends.
func newTestStore(tb testing.TB) *Store {
	tb.Helper()
	return openTestStore(tb, StoreOptions{Dir: filepath.Join(tb.TempDir(), "store")})
}

func openTestStore(tb testing.TB, opts StoreOptions) *Store {
	tb.Helper()
	s, err := OpenStore(opts)
	if err != nil {
		tb.Fatalf("open store %s: %v", opts.Dir, err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("close store: %v", err)
		}
	})
	return s
}

// reopen closes s and opens its directory again, as a restart would.
func reopen(tb testing.TB, s *Store) *Store { return reopenWith(tb, s, StoreOptions{}) }

// reopenWith is reopen with options; Dir defaults to s's directory.
func reopenWith(tb testing.TB, s *Store, opts StoreOptions) *Store {
	tb.Helper()
	if opts.Dir == "" {
		opts.Dir = storeDir(s)
	}
	if err := s.Close(); err != nil {
		tb.Fatal(err)
	}
	return openTestStore(tb, opts)
}

func storeDir(s *Store) string { return s.db.Opts().Dir }

// mustNil fails the test at once on an unexpected error.
func mustNil(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// rootKey is the test authority's root: key sets the tests trust are
// signed by it (signedSet).
var rootKey = newTestKey(9)

// signedSet is the key set of keys as the test authority publishes it,
// signed by root for testIssuer.
func signedSet(tb testing.TB, root testKey, keys ...testKey) string {
	tb.Helper()
	return signedSetFor(tb, root, testIssuer, keys...)
}

// signedSetFor is signedSet for another issuer.
func signedSetFor(tb testing.TB, root testKey, issuer string, keys ...testKey) string {
	tb.Helper()
	set := wire.JWKS{}
	for _, k := range keys {
		set.Keys = append(set.Keys, k.jwk())
	}
	jws, err := wire.SignKeySet(root.priv, issuer, set, t0)
	mustNil(tb, err)
	return jws
}
