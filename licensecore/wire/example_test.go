package wire_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"licensedesk/licensecore/wire"
)

var exampleNow = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// exampleKey is a fixed Ed25519 key, so the examples' output is stable.
func exampleKey() ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
}

// exampleChallenge has a fixed nonce (the app draws it from crypto/rand).
func exampleChallenge() wire.Challenge {
	ch, err := wire.NewChallenge(bytes.NewReader([]byte{1, 2, 3, 4, 5, 6, 7}), "BCDF-GHJK-LMNP-QRST", exampleNow)
	if err != nil {
		panic(err)
	}
	return ch
}

func ExampleNewChallenge() {
	ch := exampleChallenge()
	fmt.Println(ch)
	back, err := wire.ParseChallenge(strings.ToLower(ch.String()))
	fmt.Println(back.Nonce == ch.Nonce, back.Binding == wire.ChallengeBinding("bcdfghjklmnpqrst"), err)
	// Output:
	// CDLK-DBGL-FWWV-M48T-D
	// true true <nil>
}

func ExampleParseChallenge() {
	_, err := wire.ParseChallenge("CDLK-DBGL-FWWV-M48T-F") // last character mistyped
	fmt.Println(err, errors.Is(err, wire.ErrCodeTypo))
	_, err = wire.ParseChallenge("CDLK-DBGL-FAWV-M48T-D")
	fmt.Println(err)
	// Output:
	// the challenge code has a typing mistake: the check character does not match; check every character true
	// the challenge code has a typing mistake in group 3: 'A' is not used in codes
}

func ExampleSignResponse() {
	priv := exampleKey()
	pub := priv.Public().(ed25519.PublicKey)
	kid := wire.KeyID(pub)
	ch := exampleChallenge()
	code, err := wire.SignResponse(priv, kid, ch, "POS-0001", "LIC-1001", wire.ResponseEntitlement{
		IssuedAt: exampleNow, Capacity: 8, Users: 20, RenewalDate: exampleNow.AddDate(1, 0, 0), Features: []string{"xms", "loyalty"},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(len(strings.Split(code, "-")), "groups of", len(strings.Split(code, "-")[0]))

	keys := map[string]ed25519.PublicKey{kid: pub} // the PC's pinned wire.JWKS
	e, err := wire.VerifyResponse(code, ch, "POS-0001", "LIC-1001", keys)
	fmt.Println(e.Capacity, e.Users, e.RenewalDate.Format(time.DateOnly), e.Features, err)
	_, err = wire.VerifyResponse(code, ch, "POS-0002", "LIC-1001", keys)
	fmt.Println(errors.Is(err, wire.ErrResponseMismatch))
	// Output:
	// 32 groups of 5
	// 8 20 2026-03-01 [xms loyalty] <nil>
	// true
}

func ExampleParseLicenseRequest() {
	req, err := wire.ParseLicenseRequest([]byte(`{"version":1,"type":"licence-request","account_number":"ACC-1",
		"serial_number":"SER-1","install_code":"BCDF-GHJK-LMNP-QRST","nonce":"AAAAAAAAAAAAAAAAAAAAAA","created_at":"2025-03-01T12:00:00Z"}`))
	fmt.Println(req.AccountNumber, req.InstallCode, err)
	_, err = wire.ParseLicenseRequest([]byte(`{"version":1}`))
	fmt.Println(errors.Is(err, wire.ErrRequestInvalid))
	// Output:
	// ACC-1 BCDF-GHJK-LMNP-QRST <nil>
	// true
}

func ExampleParseCustomerID() {
	id, err := wire.ParseCustomerID(" 5D0C3F7E-1A2B-4C3D-8E4F-A0B1C2D3E4F5 ")
	fmt.Println(id, err)
	_, err = wire.ParseCustomerID("12345")
	fmt.Println(err)
	// Output:
	// 5d0c3f7e-1a2b-4c3d-8e4f-a0b1c2d3e4f5 <nil>
	// "12345" is not a valid Customer ID (expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)
}

// The authority's side of a pool request: open the envelope, then check
// that its key is the one registered for the install code.
func ExampleOpenPoolEnvelope() {
	_, key, _ := ed25519.GenerateKey(nil)
	body, _ := wire.SignPoolRequest(key, wire.PoolRequest{
		Op: wire.PoolOpList, CustomerID: "5d0c3f7e-1a2b-4c3d-8e4f-a0b1c2d3e4f5", InstallCode: "BCDF-GHJK-LMNP-QRST",
	})
	req, err := wire.OpenPoolEnvelope(body)
	fmt.Println(req.Op, req.InstallCode, err)
	body[len(body)/2] ^= 1
	_, err = wire.OpenPoolEnvelope(body)
	fmt.Println(err != nil)
	// Output:
	// list BCDF-GHJK-LMNP-QRST <nil>
	// true
}

func ExampleParseJWKS() {
	pub := exampleKey().Public().(ed25519.PublicKey)
	raw, err := json.Marshal(wire.JWKS{Keys: []wire.JWK{wire.PublicJWK(pub)}})
	if err != nil {
		panic(err)
	}
	set, keys, err := wire.ParseJWKS(raw)
	fmt.Println(len(set.Keys), set.Keys[0].Kty, set.Keys[0].Crv, keys[wire.KeyID(pub)].Equal(pub), err)

	_, _, err = wire.ParseJWKS([]byte(`{"keys":[{"kty":"RSA","kid":"r1","n":"AQAB","e":"AQAB"}]}`))
	fmt.Println(errors.Is(err, wire.ErrInvalidKeySet))
	// Output:
	// 1 OKP Ed25519 true <nil>
	// true
}
