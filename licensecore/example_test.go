package licensecore_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"licensedesk/licensecore"
	"licensedesk/licensecore/wire"
)

var exampleNow = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// exampleKey is the authority's signing key; a fixed seed keeps the output
// stable.
func exampleKey() ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
}

// exampleRootKey is the example authority's root key.
func exampleRootKey() ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{8}, ed25519.SeedSize))
}

// exampleRoot is what the installer of the examples pins.
func exampleRoot() ed25519.PublicKey { return exampleRootKey().Public().(ed25519.PublicKey) }

// exampleStore opens a store in a temporary directory; call the returned
// function to close and remove it.
func exampleStore() (*licensecore.Store, func()) {
	dir, err := os.MkdirTemp("", "licensedesk-example-")
	if err != nil {
		panic(err)
	}
	s, err := licensecore.OpenStore(licensecore.StoreOptions{Dir: filepath.Join(dir, "store")})
	if err != nil {
		panic(err)
	}
	return s, func() { s.Close(); os.RemoveAll(dir) }
}

func ExampleEvaluate() {
	l := &licensecore.License{
		ServerID:      "server-0001",
		LicenseID:     "lic-0001",
		Type:          wire.Subscription,
		RenewalDate:   exampleNow.Add(20 * 24 * time.Hour),
		TokenIssuedAt: exampleNow.Add(-60 * time.Hour), // a 3-day token
		TokenExpiry:   exampleNow.Add(12 * time.Hour),
	}
	st := licensecore.Evaluate(l, exampleNow, licensecore.DefaultPolicy())
	fmt.Printf("%s; token %s; severity %d\n", st.State, st.Token, st.Severity())
	fmt.Println("renewal in", st.RenewalLeft, "- token left", st.TokenLeft)

	fmt.Println(licensecore.Evaluate(nil, exampleNow, licensecore.DefaultPolicy()).State)
	// Output:
	// Requires Renewal; token expiring soon; severity 1
	// renewal in 480h0m0s - token left 12h0m0s
	// Not licensed
}

func ExampleVerifier_Verify() {
	// The authority signs a license token (EdDSA, kid in the header).
	priv := exampleKey()
	pub := priv.Public().(ed25519.PublicKey)
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, &wire.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    "https://authority.example",
			Subject:   "server-0001",
			Audience:  jwt.ClaimStrings{wire.DefaultAudience},
			IssuedAt:  jwt.NewNumericDate(exampleNow),
			ExpiresAt: jwt.NewNumericDate(exampleNow.Add(72 * time.Hour)),
			ID:        "tok-0001",
		},
		LicenseID: "lic-0001",
		Type:      wire.Subscription,
		Features:  []string{"pos", "loyalty"},
	})
	tok.Header["kid"] = wire.KeyID(pub)
	signed, err := tok.SignedString(priv)
	if err != nil {
		panic(err)
	}

	// A register verifies it offline with the cached key set.
	now := exampleNow.Add(time.Hour)
	v, err := licensecore.NewVerifier(licensecore.VerifierOptions{
		Issuer:   "https://authority.example",
		Audience: wire.DefaultAudience,
		Leeway:   30 * time.Second,
		Now:      func() time.Time { return now },
	})
	if err != nil {
		panic(err)
	}
	if err := v.SetKeySet(wire.JWKS{Keys: []wire.JWK{wire.PublicJWK(pub)}}); err != nil {
		panic(err)
	}
	claims, err := v.Verify(signed)
	fmt.Println(claims.Subject, claims.LicenseID, claims.Features, err)

	now = exampleNow.Add(73 * time.Hour)
	_, err = v.Verify(signed)
	fmt.Println("three days later, expired:", errors.Is(err, licensecore.ErrTokenExpired))
	// Output:
	// server-0001 lic-0001 [pos loyalty] <nil>
	// three days later, expired: true
}

func ExampleOpenStore() {
	dir, err := os.MkdirTemp("", "licensedesk-example-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	s, err := licensecore.OpenStore(licensecore.StoreOptions{Dir: filepath.Join(dir, "store")})
	if err != nil {
		fmt.Println(err) // e.g. ErrAlreadyRunning
		return
	}
	defer s.Close()

	_, err = s.License()
	fmt.Println("licensed:", !errors.Is(err, licensecore.ErrNotLicensed))

	l := licensecore.License{ServerID: "server-0001", LicenseID: "lic-0001", Type: wire.Perpetual}
	if err := s.SaveLicense(l, licensecore.Tokens{License: "header.payload.signature", Refresh: "secret"}, ""); err != nil {
		panic(err)
	}
	got, _ := s.License()
	toks, _ := s.Tokens()
	fmt.Println(got.ServerID, got.Type, toks.Refresh)
	// Output:
	// licensed: false
	// server-0001 perpetual secret
}

func ExampleTrustedClock() {
	s, done := exampleStore()
	defer done()

	sys := exampleNow // the system clock
	clock, err := licensecore.NewTrustedClock(s, func() time.Time { return sys }, 10*time.Minute)
	if err != nil {
		panic(err)
	}
	// A verified token was issued an hour ahead of the local clock.
	if err := clock.Observe(exampleNow.Add(time.Hour)); err != nil {
		panic(err)
	}
	sys = exampleNow.Add(-24 * time.Hour) // somebody sets the clock back a day
	rolled, behind := clock.Rollback()
	fmt.Println("trusted now:", clock.Now().Format(time.RFC3339))
	fmt.Println("rollback:", rolled, behind)

	sys = exampleNow.Add(2 * time.Hour) // fixed again
	rolled, _ = clock.Rollback()
	fmt.Println("rollback:", rolled, "trusted now:", clock.Now().Format(time.RFC3339))
	// Output:
	// trusted now: 2025-03-01T13:00:00Z
	// rollback: true 25h0m0s
	// rollback: false trusted now: 2025-03-01T14:00:00Z
}

func ExampleStore_AppendAudit() {
	s, done := exampleStore()
	defer done()

	for i, kind := range []string{licensecore.EventAcquired, licensecore.EventVerified, licensecore.EventRefreshed} {
		if _, err := s.AppendAudit(kind, "lic-0001", exampleNow.Add(time.Duration(i)*time.Hour)); err != nil {
			panic(err)
		}
	}
	entries, _ := s.AuditLog()
	for _, e := range entries {
		fmt.Println(e.Seq, e.Time.Format(time.Kitchen), e.Kind, e.Detail)
	}
	fmt.Println("chain intact:", s.VerifyAudit() == nil)
	// Output:
	// 1 12:00PM acquired lic-0001
	// 2 1:00PM verified lic-0001
	// 3 2:00PM refreshed lic-0001
	// chain intact: true
}
