package licensecore_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/rs/zerolog"

	"licensedesk/licensecore"
)

const exampleAuthority = "https://authority.example"

// exampleChallenge has a fixed nonce (the app draws it from crypto/rand).
func exampleChallenge() licensecore.Challenge {
	ch, err := licensecore.NewChallenge(bytes.NewReader([]byte{1, 2, 3, 4, 5, 6, 7}), "BCDF-GHJK-LMNP-QRST", exampleNow)
	if err != nil {
		panic(err)
	}
	return ch
}

func ExampleNewChallenge() {
	ch := exampleChallenge()
	fmt.Println(ch)
	back, err := licensecore.ParseChallenge(strings.ToLower(ch.String()))
	fmt.Println(back.Nonce == ch.Nonce, back.Binding == licensecore.ChallengeBinding("bcdfghjklmnpqrst"), err)
	// Output:
	// CDLK-DBGL-FWWV-M48T-D
	// true true <nil>
}

func ExampleParseChallenge() {
	_, err := licensecore.ParseChallenge("CDLK-DBGL-FWWV-M48T-F") // last character mistyped
	fmt.Println(err, errors.Is(err, licensecore.ErrCodeTypo))
	_, err = licensecore.ParseChallenge("CDLK-DBGL-FAWV-M48T-D")
	fmt.Println(err)
	// Output:
	// the challenge code has a typing mistake: the check character does not match; check every character true
	// the challenge code has a typing mistake in group 3: 'A' is not used in codes
}

func ExampleSignResponse() {
	priv := exampleKey()
	pub := priv.Public().(ed25519.PublicKey)
	kid := licensecore.KeyID(pub)
	ch := exampleChallenge()
	code, err := licensecore.SignResponse(priv, kid, ch, "POS-0001", "LIC-1001", licensecore.ResponseEntitlement{
		IssuedAt: exampleNow, Capacity: 8, Users: 20, RenewalDate: exampleNow.AddDate(1, 0, 0), Features: []string{"xms", "loyalty"},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(len(strings.Split(code, "-")), "groups of", len(strings.Split(code, "-")[0]))

	keys := map[string]ed25519.PublicKey{kid: pub} // the PC's pinned JWKS
	e, err := licensecore.VerifyResponse(code, ch, "POS-0001", "LIC-1001", keys)
	fmt.Println(e.Capacity, e.Users, e.RenewalDate.Format(time.DateOnly), e.Features, err)
	_, err = licensecore.VerifyResponse(code, ch, "POS-0002", "LIC-1001", keys)
	fmt.Println(errors.Is(err, licensecore.ErrResponseMismatch))
	// Output:
	// 32 groups of 5
	// 8 20 2026-03-01 [xms loyalty] <nil>
	// true
}

func ExampleOfflineWarning() {
	p := licensecore.DefaultPolicy()
	l := &licensecore.License{ServerID: "POS-0001", LicenseID: "LIC-1001", Offline: true, OfflineSince: exampleNow}
	for _, days := range []int{20, 23, 30} {
		st := licensecore.Evaluate(l, exampleNow.AddDate(0, 0, days), p)
		fmt.Printf("%d: %s, %d days left, %q\n", days, st.State, st.OfflineDaysLeft, licensecore.OfflineWarning(st, p))
	}
	// Output:
	// 20: Licensed, 10 days left, ""
	// 23: Licensed, 7 days left, "The license will expire in 7 days because the licensing server has been unavailable for 23 days"
	// 30: Expired – Requires Renewal, 0 days left, "The license has expired because the licensing server has been unavailable for 30 days"
}

func ExampleParseLicenseRequest() {
	req, err := licensecore.ParseLicenseRequest([]byte(`{"version":1,"type":"licence-request","account_number":"ACC-1",
		"serial_number":"SER-1","install_code":"BCDF-GHJK-LMNP-QRST","nonce":"AAAAAAAAAAAAAAAAAAAAAA","created_at":"2025-03-01T12:00:00Z"}`))
	fmt.Println(req.AccountNumber, req.InstallCode, err)
	_, err = licensecore.ParseLicenseRequest([]byte(`{"version":1}`))
	fmt.Println(errors.Is(err, licensecore.ErrRequestInvalid))
	// Output:
	// ACC-1 BCDF-GHJK-LMNP-QRST <nil>
	// true
}

// exampleManager is a never-online PC with an administrator logged in.
func exampleManager(store *licensecore.Store) (*licensecore.Manager, *licensecore.AdminSession) {
	m, err := licensecore.NewManager(licensecore.Options{Store: store, AuthorityURL: exampleAuthority,
		Now: func() time.Time { return exampleNow }, Logger: zerolog.Nop(), DeviceName: "Till PC", InstallCode: "BCDF-GHJK-LMNP-QRST"})
	if err != nil {
		panic(err)
	}
	if err := m.CreateAdministrator("admin", "admin-password"); err != nil {
		panic(err)
	}
	sess, err := m.AdminLogin("admin", "admin-password")
	if err != nil {
		panic(err)
	}
	return m, sess
}

// exampleLicenseFile is what the authority's /entitle page makes for the PC.
func exampleLicenseFile() []byte {
	priv := exampleKey()
	pub := priv.Public().(ed25519.PublicKey)
	claims := &licensecore.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: exampleAuthority, Subject: "POS-0001", Audience: jwt.ClaimStrings{licensecore.DefaultAudience},
			IssuedAt: jwt.NewNumericDate(exampleNow.Add(-time.Hour)), ExpiresAt: jwt.NewNumericDate(exampleNow.Add(-time.Hour).Add(licensecore.DefaultOfflineWindow)),
			ID: "ent-0001",
		},
		LicenseID: "LIC-1001", Type: licensecore.Subscription, Features: []string{"xms"}, Capacity: 4,
		AccountNumber: "ACC-1", SerialNumber: "SER-1", InstallCode: "BCDF-GHJK-LMNP-QRST",
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	tok.Header["kid"], tok.Header["typ"] = licensecore.KeyID(pub), licensecore.EntitlementType
	signed, err := tok.SignedString(priv)
	if err != nil {
		panic(err)
	}
	file, err := licensecore.NewEntitlementFile(signed, licensecore.JWKS{Keys: []licensecore.JWK{licensecore.PublicJWK(pub)}})
	if err != nil {
		panic(err)
	}
	return file
}

func ExampleManager_ImportEntitlement() {
	store, done := exampleStore()
	defer done()
	m, sess := exampleManager(store)
	file := exampleLicenseFile()

	st, err := m.ImportEntitlement(context.Background(), sess, file)
	fmt.Println(st.State, st.License.ServerID, st.License.Capacity, st.OfflineDaysLeft, err)
	_, err = m.ImportEntitlement(context.Background(), sess, file)
	fmt.Println(errors.Is(err, licensecore.ErrEntitlementReplayed))
	_, err = m.ImportEntitlement(context.Background(), nil, file)
	fmt.Println(errors.Is(err, licensecore.ErrAdminRequired))
	// Output:
	// Licensed POS-0001 4 30 <nil>
	// true
	// true
}

func ExampleManager_ApplyResponse() {
	store, done := exampleStore()
	defer done()
	m, sess := exampleManager(store)
	if _, err := m.ImportEntitlement(context.Background(), sess, exampleLicenseFile()); err != nil {
		panic(err)
	}
	ch, _ := m.GetChallenge() // shown to the person, typed on the authority's /upgrade page
	priv := exampleKey()
	code, _ := licensecore.SignResponse(priv, licensecore.KeyID(priv.Public().(ed25519.PublicKey)), ch, "POS-0001", "LIC-1001",
		licensecore.ResponseEntitlement{IssuedAt: exampleNow, Capacity: 10, Features: []string{"xms", "loyalty"}})

	st, err := m.ApplyResponse(context.Background(), sess, code)
	fmt.Println(st.License.Capacity, st.License.Features, err)
	_, err = m.ApplyResponse(context.Background(), sess, code)
	fmt.Println(err)
	// Output:
	// 10 [xms loyalty] <nil>
	// there is no pending challenge on this PC; get a new challenge
}

func ExampleManager_GetChallenge() {
	store, done := exampleStore()
	defer done()
	m, _ := exampleManager(store)
	ch, _ := m.GetChallenge()
	again, _ := m.GetChallenge() // the same until a response is applied
	fmt.Println(len(ch.String()), ch == again)
	// Output:
	// 21 true
}

func ExampleManager_LicenseRequest() {
	store, done := exampleStore()
	defer done()
	m, _ := exampleManager(store)
	data, _ := m.LicenseRequest("ACC-1", "SER-1") // saved to a file the person carries
	req, err := licensecore.ParseLicenseRequest(data)
	fmt.Println(req.AccountNumber, req.SerialNumber, req.InstallCode, req.DeviceName, err)
	// Output:
	// ACC-1 SER-1 BCDF-GHJK-LMNP-QRST Till PC <nil>
}
