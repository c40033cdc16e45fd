package licensecore_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/rs/zerolog"

	"licensedesk/licensecore"
	"licensedesk/licensecore/wire"
)

const exampleAuthority = "https://authority.example"

func ExampleEvaluate_offline() {
	p := licensecore.DefaultPolicy()
	l := &licensecore.License{ServerID: "POS-0001", LicenseID: "LIC-1001", Offline: true, OfflineSince: exampleNow}
	for _, days := range []int{20, 23, 30} {
		st := licensecore.Evaluate(l, exampleNow.AddDate(0, 0, days), p)
		fmt.Printf("%d: %s, %d days offline, %d days left, warn %v\n", days, st.State, st.OfflineDays, st.OfflineDaysLeft, st.OfflineExpiring)
	}
	// Output:
	// 20: Licensed, 20 days offline, 10 days left, warn false
	// 23: Licensed, 23 days offline, 7 days left, warn true
	// 30: Expired – Requires Renewal, 30 days offline, 0 days left, warn false
}

// exampleManager is a never-online PC with an administrator logged in.
func exampleManager(store *licensecore.Store) (*licensecore.Manager, *licensecore.AdminSession) {
	m, err := licensecore.NewManager(licensecore.Options{Store: store, AuthorityURL: exampleAuthority,
		Now: func() time.Time { return exampleNow }, Logger: zerolog.Nop(), DeviceName: "Till PC", InstallCode: "BCDF-GHJK-LMNP-QRST",
		Root: exampleRoot()})
	if err != nil {
		panic(err)
	}
	if err := m.Admins().CreateAdministrator("admin", "admin-password"); err != nil {
		panic(err)
	}
	sess, err := m.Admins().AdminLogin("admin", "admin-password")
	if err != nil {
		panic(err)
	}
	return m, sess
}

// exampleLicenseFile is what the authority's /entitle page makes for the PC.
func exampleLicenseFile() []byte {
	priv := exampleKey()
	pub := priv.Public().(ed25519.PublicKey)
	claims := &wire.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: exampleAuthority, Subject: "POS-0001", Audience: jwt.ClaimStrings{wire.DefaultAudience},
			IssuedAt: jwt.NewNumericDate(exampleNow.Add(-time.Hour)), ExpiresAt: jwt.NewNumericDate(exampleNow.Add(-time.Hour).Add(wire.OfflineWindow)),
			ID: "ent-0001",
		},
		LicenseID: "LIC-1001", Type: wire.Subscription, Features: []string{"xms"}, Capacity: 4,
		AccountNumber: "ACC-1", SerialNumber: "SER-1", InstallCode: "BCDF-GHJK-LMNP-QRST",
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	tok.Header["kid"], tok.Header["typ"] = wire.KeyID(pub), wire.EntitlementType
	signed, err := tok.SignedString(priv)
	if err != nil {
		panic(err)
	}
	set, err := wire.SignKeySet(exampleRootKey(), exampleAuthority, wire.JWKS{Keys: []wire.JWK{wire.PublicJWK(pub)}}, exampleNow)
	if err != nil {
		panic(err)
	}
	file, err := wire.NewEntitlementFile(signed, set)
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
	code, _ := wire.SignResponse(priv, wire.KeyID(priv.Public().(ed25519.PublicKey)), ch, "POS-0001", "LIC-1001",
		wire.ResponseEntitlement{IssuedAt: exampleNow, Capacity: 10, Features: []string{"xms", "loyalty"}})

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
	req, err := wire.ParseLicenseRequest(data)
	fmt.Println(req.AccountNumber, req.SerialNumber, req.InstallCode, req.DeviceName, err)
	// Output:
	// ACC-1 SER-1 BCDF-GHJK-LMNP-QRST Till PC <nil>
}
