package wire

import (
	"crypto/ed25519"
	"testing"
	"time"

	"licensedesk/licensecore/internal/testkey"
)

// t0 is the fixed "now" of the wire tests.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func mustNil(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// testKey is an Ed25519 signing key derived from a one-byte seed, so every
// run gets the same key and kid.
type testKey struct {
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
	kid  string
}

func newTestKey(seed byte) testKey {
	priv, pub := testkey.New(seed)
	return testKey{priv: priv, pub: pub, kid: KeyID(pub)}
}

var keyA, keyB = newTestKey(1), newTestKey(2)

func (k testKey) jwk() JWK { return PublicJWK(k.pub) }
