package licensecore

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"licensedesk/licensecore/wire"
)

var (
	keyA = newTestKey(1)
	keyB = newTestKey(2)
)

// rsaKey is generated once: it is slow and only needs to exist.
var rsaKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// withClaims returns valid claims changed by fn.
func withClaims(fn func(c *wire.Claims)) *wire.Claims {
	c := validClaims(t0)
	fn(c)
	return c
}

// flipSignatureByte re-encodes the token with one signature bit changed.
// (Flipping a base64 character could land on padding bits and change
// nothing.)
func flipSignatureByte(tb testing.TB, tok string) string {
	tb.Helper()
	i := strings.LastIndexByte(tok, '.')
	sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	if err != nil {
		tb.Fatal(err)
	}
	sig[len(sig)/2] ^= 0x01
	return tok[:i+1] + base64.RawURLEncoding.EncodeToString(sig)
}

// signRaw signs an arbitrary payload with keyA under a valid header, to
// reach the claims decoding behind a good signature.
func signRaw(payload string) string {
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"EdDSA","kid":"` + keyA.kid + `"}`))
	in := h + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
	return in + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(keyA.priv, []byte(in)))
}

func TestVerifyAcceptsValidToken(t *testing.T) {
	v := newTestVerifier(t, newFakeClock(t0).Now, 0, keyA)
	want := validClaims(t0)
	got, err := v.Verify(keyA.sign(t, want))
	mustNil(t, err)
	if got.Subject != want.Subject || got.ID != want.ID || got.LicenseID != want.LicenseID ||
		got.Customer != want.Customer || got.RenewalDate != want.RenewalDate || !got.ExpiresAt.Equal(want.ExpiresAt.Time) ||
		strings.Join(got.Features, ",") != strings.Join(want.Features, ",") {
		t.Errorf("claims = %+v, want %+v", got, want)
	}
}

func TestVerifyRejects(t *testing.T) {
	now := t0
	valid := keyA.sign(t, validClaims(now))
	dot := strings.LastIndexByte(valid, '.')
	big := withClaims(func(c *wire.Claims) { c.Customer = strings.Repeat("x", wire.MaxTokenSize) })

	cases := []struct {
		name  string
		token func(t *testing.T) string
		want  error
	}{
		{"alg none", func(t *testing.T) string {
			return signToken(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, keyA.kid, validClaims(now))
		}, ErrBadAlgorithm},
		{"HS256 keyed with the public key (key confusion)", func(t *testing.T) string {
			return signToken(t, jwt.SigningMethodHS256, []byte(keyA.pub), keyA.kid, validClaims(now))
		}, ErrBadAlgorithm},
		{"HS256 keyed with the wire.JWK x value", func(t *testing.T) string {
			return signToken(t, jwt.SigningMethodHS256, []byte(keyA.jwk().X), keyA.kid, validClaims(now))
		}, ErrBadAlgorithm},
		{"RS256", func(t *testing.T) string {
			return signToken(t, jwt.SigningMethodRS256, rsaKey(), keyA.kid, validClaims(now))
		}, ErrBadAlgorithm},
		{"unknown kid", func(t *testing.T) string { return keyB.sign(t, validClaims(now)) }, wire.ErrUnknownKey},
		{"no kid", func(t *testing.T) string {
			return signToken(t, jwt.SigningMethodEdDSA, keyA.priv, "", validClaims(now))
		}, wire.ErrUnknownKey},
		{"known kid, other key", func(t *testing.T) string {
			return signToken(t, jwt.SigningMethodEdDSA, keyB.priv, keyA.kid, validClaims(now))
		}, ErrBadSignature},
		{"wrong issuer", func(t *testing.T) string {
			return keyA.sign(t, withClaims(func(c *wire.Claims) { c.Issuer = "https://evil.test" }))
		}, ErrWrongIssuer},
		{"no issuer", func(t *testing.T) string {
			return keyA.sign(t, withClaims(func(c *wire.Claims) { c.Issuer = "" }))
		}, ErrMissingClaim},
		{"wrong audience", func(t *testing.T) string {
			return keyA.sign(t, withClaims(func(c *wire.Claims) { c.Audience = jwt.ClaimStrings{"other-service"} }))
		}, ErrWrongAudience},
		{"no audience", func(t *testing.T) string {
			return keyA.sign(t, withClaims(func(c *wire.Claims) { c.Audience = nil }))
		}, ErrMissingClaim},
		{"expired beyond the leeway", func(t *testing.T) string {
			return keyA.sign(t, withClaims(func(c *wire.Claims) { c.ExpiresAt = jwt.NewNumericDate(now.Add(-31 * time.Second)) }))
		}, ErrTokenExpired},
		{"no exp", func(t *testing.T) string {
			return keyA.sign(t, withClaims(func(c *wire.Claims) { c.ExpiresAt = nil }))
		}, ErrMissingClaim},
		{"nbf in the future beyond the leeway", func(t *testing.T) string {
			return keyA.sign(t, withClaims(func(c *wire.Claims) { c.NotBefore = jwt.NewNumericDate(now.Add(31 * time.Second)) }))
		}, ErrTokenNotYet},
		{"iat in the future beyond the leeway", func(t *testing.T) string {
			return keyA.sign(t, withClaims(func(c *wire.Claims) { c.IssuedAt = jwt.NewNumericDate(now.Add(31 * time.Second)) }))
		}, ErrTokenNotYet},
		{"bad signature (one bit flipped)", func(t *testing.T) string { return flipSignatureByte(t, valid) }, ErrBadSignature},
		{"payload swapped under a valid signature", func(t *testing.T) string {
			other := keyA.sign(t, withClaims(func(c *wire.Claims) { c.Subject = "server-9999" }))
			return other[:strings.LastIndexByte(other, '.')] + valid[dot:]
		}, ErrBadSignature},
		{"truncated: signature cut short", func(t *testing.T) string { return valid[:len(valid)-8] }, ErrMalformedToken}, // its last character is not canonical base64url
		{"truncated: signature missing", func(t *testing.T) string { return valid[:dot] }, ErrMalformedToken},
		{"truncated: half the token", func(t *testing.T) string { return valid[:len(valid)/2] }, ErrMalformedToken},
		{"empty", func(*testing.T) string { return "" }, ErrMalformedToken},
		{"signed payload null", func(*testing.T) string { return signRaw("null") }, ErrMissingClaim},
		{"signed payload not JSON", func(*testing.T) string { return signRaw("{not json") }, ErrMalformedToken},
		{"signed payload with a bad exp", func(*testing.T) string { return signRaw(`{"exp":"soon"}`) }, ErrMalformedToken},
		{"header not JSON", func(*testing.T) string {
			return base64.RawURLEncoding.EncodeToString([]byte("{")) + valid[strings.IndexByte(valid, '.'):]
		}, ErrMalformedToken},
		{"not base64", func(*testing.T) string { return "!!!.???.***" }, ErrMalformedToken},
		{"oversized (validly signed)", func(t *testing.T) string { return keyA.sign(t, big) }, ErrTokenTooLarge},
		{"oversized garbage", func(*testing.T) string { return strings.Repeat("a", wire.MaxTokenSize+1) }, ErrTokenTooLarge},
		{"missing sub", func(t *testing.T) string {
			return keyA.sign(t, withClaims(func(c *wire.Claims) { c.Subject = "" }))
		}, ErrMissingClaim},
		{"missing jti", func(t *testing.T) string {
			return keyA.sign(t, withClaims(func(c *wire.Claims) { c.ID = "" }))
		}, ErrMissingClaim},
		{"missing lid", func(t *testing.T) string {
			return keyA.sign(t, withClaims(func(c *wire.Claims) { c.LicenseID = "" }))
		}, ErrMissingClaim},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := newTestVerifier(t, newFakeClock(now).Now, 0, keyA)
			claims, err := v.Verify(tc.token(t))
			assertTokenError(t, claims, err, tc.want)
		})
	}
}

// assertTokenError checks that a rejection carries the wanted category both
// through errors.Is and as a *RejectedError, and that it also counts as
// ErrTokenInvalid.
func assertTokenError(t *testing.T, claims *wire.Claims, err, want error) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted (claims %+v), want %v", claims, want)
	}
	if claims != nil {
		t.Errorf("claims returned with an error: %+v", claims)
	}
	if !errors.Is(err, want) {
		t.Errorf("err = %v, want errors.Is %v", err, want)
	}
	if !errors.Is(err, ErrTokenInvalid) {
		t.Errorf("err = %v, want it to also be ErrTokenInvalid", err)
	}
	var te *RejectedError
	if !errors.As(err, &te) || te.Kind != want {
		t.Errorf("err = %#v, want *RejectedError with Kind %v", err, want)
	}
}

func TestVerifyLeewayBoundaries(t *testing.T) {
	exp := t0.Add(time.Hour)
	tok := keyA.sign(t, withClaims(func(c *wire.Claims) { c.ExpiresAt = jwt.NewNumericDate(exp) }))
	cases := []struct {
		name string
		now  time.Time
		want error
	}{
		{"at exp", exp, nil},
		{"inside the leeway", exp.Add(29 * time.Second), nil},
		{"at exp + leeway", exp.Add(30 * time.Second), ErrTokenExpired},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newTestVerifier(t, newFakeClock(tc.now).Now, 0, keyA).Verify(tok)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestNewVerifierOptions(t *testing.T) {
	cases := []struct {
		name string
		opts VerifierOptions
		ok   bool
	}{
		{"complete", VerifierOptions{Issuer: testIssuer, Audience: testAudience}, true},
		{"max leeway", VerifierOptions{Issuer: testIssuer, Audience: testAudience, Leeway: MaxLeeway}, true},
		{"no issuer", VerifierOptions{Audience: testAudience}, false},
		{"no audience", VerifierOptions{Issuer: testIssuer}, false},
		{"leeway too long", VerifierOptions{Issuer: testIssuer, Audience: testAudience, Leeway: MaxLeeway + time.Second}, false},
		{"negative leeway", VerifierOptions{Issuer: testIssuer, Audience: testAudience, Leeway: -time.Second}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewVerifier(tc.opts); (err == nil) != tc.ok {
				t.Errorf("NewVerifier = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestVerifierWithoutKeysRefusesEverything(t *testing.T) {
	v := newTestVerifier(t, newFakeClock(t0).Now, 0)
	_, err := v.Verify(keyA.sign(t, validClaims(t0)))
	assertTokenError(t, nil, err, wire.ErrUnknownKey)
}

func TestVerifierKeyRotation(t *testing.T) {
	v := newTestVerifier(t, newFakeClock(t0).Now, 0, keyA)
	tokA := keyA.sign(t, validClaims(t0))
	tokB := keyB.sign(t, withClaims(func(c *wire.Claims) { c.ID = "tok-b" }))
	_, err := v.Verify(tokA)
	mustNil(t, err) // now cached

	mustNil(t, v.SetKeySet(wire.JWKS{Keys: []wire.JWK{keyA.jwk(), keyB.jwk()}}))
	for name, tok := range map[string]string{"A": tokA, "B": tokB} {
		if _, err := v.Verify(tok); err != nil {
			t.Errorf("with {A,B} published, token by %s: %v", name, err)
		}
	}

	mustNil(t, v.SetKeySet(wire.JWKS{Keys: []wire.JWK{keyB.jwk()}}))
	c, err := v.Verify(tokA)
	assertTokenError(t, c, err, wire.ErrUnknownKey)
	if _, err := v.Verify(tokB); err != nil {
		t.Errorf("after A was retired, token by B: %v", err)
	}

	// A bad key set leaves the trusted keys as they were.
	if err := v.SetKeySet(wire.JWKS{}); !errors.Is(err, wire.ErrInvalidKeySet) {
		t.Errorf("SetKeySet(empty) = %v, want ErrInvalidKeySet", err)
	}
	if _, err := v.Verify(tokB); err != nil {
		t.Errorf("after a refused key set, token by B: %v", err)
	}
}

func TestVerifierSetKeysCopiesMap(t *testing.T) {
	m := map[string]ed25519.PublicKey{keyA.kid: keyA.pub}
	v := newTestVerifier(t, newFakeClock(t0).Now, 0)
	v.SetKeys(m)
	delete(m, keyA.kid)
	if _, err := v.Verify(keyA.sign(t, validClaims(t0))); err != nil {
		t.Errorf("changing the caller's map after SetKeys changed the verifier: %v", err)
	}
}

func TestVerifierCache(t *testing.T) {
	clock := newFakeClock(t0)
	v := newTestVerifier(t, clock.Now, 0, keyA)
	exp := t0.Add(time.Hour)
	tok := keyA.sign(t, withClaims(func(c *wire.Claims) { c.ExpiresAt = jwt.NewNumericDate(exp) }))

	first, err := v.Verify(tok)
	mustNil(t, err)
	second, err := v.Verify(tok)
	mustNil(t, err)
	if first != second {
		t.Error("second Verify parsed again; want the cached claims")
	}

	clock.Set(exp.Add(29 * time.Second)) // inside the leeway
	if c, err := v.Verify(tok); err != nil || c != first {
		t.Errorf("inside the leeway: claims %p err %v, want cached %p", c, err, first)
	}

	clock.Set(exp.Add(30 * time.Second))
	c, err := v.Verify(tok)
	assertTokenError(t, c, err, ErrTokenExpired)
	// And it stays refused (the entry was dropped, not revived).
	c, err = v.Verify(tok)
	assertTokenError(t, c, err, ErrTokenExpired)
}

func TestVerifierCacheBounded(t *testing.T) {
	const size = 4
	v := newTestVerifier(t, newFakeClock(t0).Now, size, keyA)
	for i := range 3 * size {
		tok := keyA.sign(t, withClaims(func(c *wire.Claims) { c.ID = "tok-" + strings.Repeat("x", i) }))
		_, err := v.Verify(tok)
		mustNil(t, err)
		v.mu.RLock()
		n := len(v.cache)
		v.mu.RUnlock()
		if n > size {
			t.Fatalf("after %d tokens the cache holds %d, cap %d", i+1, n, size)
		}
	}
}

func TestVerifierConcurrent(t *testing.T) {
	v := newTestVerifier(t, newFakeClock(t0).Now, 2, keyA)
	toks := []string{
		keyA.sign(t, withClaims(func(c *wire.Claims) { c.ID = "a" })),
		keyA.sign(t, withClaims(func(c *wire.Claims) { c.ID = "b" })),
		keyA.sign(t, withClaims(func(c *wire.Claims) { c.ID = "c" })),
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 30 {
				if g == 0 && i%10 == 0 {
					v.SetKeys(map[string]ed25519.PublicKey{keyA.kid: keyA.pub})
				}
				if _, err := v.Verify(toks[(g+i)%len(toks)]); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// claimsDecoder must read every payload exactly as golang-jwt's own
// decoding of Claims does: same claims, or an error for both.
func TestClaimsDecoderMatchesJWT(t *testing.T) {
	payloads := []string{
		`{"iss":"i","sub":"s","aud":"one","exp":1740830400,"nbf":1740826800,"iat":1740826800,"jti":"j","lid":"l","fea":["a","b"],"rnw":1748606400}`,
		`{"aud":["a","b"],"exp":1740830400.75}`,
		`{"aud":[],"exp":"1740830400"}`,
		`{"aud":null,"exp":null,"nbf":null,"iat":null}`,
		`{"exp":-5,"iat":0}`,
		`{"exp":1e3}`,
		`{}`,
		`null`,
		`{"aud":5}`,
		`{"aud":["a",5]}`,
		`{"exp":"soon"}`,
		`{"exp":true}`,
		`{"iat":{}}`,
		`{"fea":"pos"}`,
		`[]`,
	}
	// Refused on purpose where golang-jwt is lenient: a NumericDate is a
	// JSON number (RFC 7519 §2), not a string or null.
	stricter := map[string]bool{
		`{"aud":[],"exp":"1740830400"}`:                 true,
		`{"aud":null,"exp":null,"nbf":null,"iat":null}`: true,
	}
	for _, p := range payloads {
		t.Run(p, func(t *testing.T) {
			want := &wire.Claims{}
			_, _, wantErr := jwt.NewParser().ParseUnverified(base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"EdDSA"}`))+"."+base64.RawURLEncoding.EncodeToString([]byte(p))+".", want)
			got := &wire.Claims{}
			dec := claimsDecoder{Claims: got}
			gotErr := decodeSegment(base64.RawURLEncoding.EncodeToString([]byte(p)), &dec)
			if gotErr == nil {
				gotErr = dec.dates()
			}
			if stricter[p] {
				if gotErr == nil || wantErr != nil {
					t.Fatalf("error = %v, want a refusal where golang-jwt accepts (its error %v)", gotErr, wantErr)
				}
				return
			}
			if (gotErr == nil) != (wantErr == nil) {
				t.Fatalf("error = %v, golang-jwt's = %v", gotErr, wantErr)
			}
			if wantErr == nil && !reflect.DeepEqual(got, want) {
				t.Errorf("claims = %+v\ngolang-jwt   %+v", got, want)
			}
		})
	}
}

// The remembered header → kid map must not let anything skip the alg,
// key or signature checks.
func TestVerifierHeaderMemoryIsSafe(t *testing.T) {
	v := newTestVerifier(t, newFakeClock(t0).Now, 0, keyA)
	good := keyA.sign(t, validClaims(t0))
	_, err := v.Verify(good)
	mustNil(t, err)
	header := good[:strings.IndexByte(good, '.')]

	// Same header, other payload, signature by another key.
	forged := signToken(t, jwt.SigningMethodEdDSA, keyB.priv, keyA.kid, withClaims(func(c *wire.Claims) { c.ID = "forged" }))
	if forged[:strings.IndexByte(forged, '.')] != header {
		t.Fatal("fixture: the forged token should share the remembered header")
	}
	c, err := v.Verify(forged)
	assertTokenError(t, c, err, ErrBadSignature)

	// After rotation the remembered header no longer names a trusted key.
	v.SetKeys(map[string]ed25519.PublicKey{keyB.kid: keyB.pub})
	c, err = v.Verify(keyA.sign(t, withClaims(func(c *wire.Claims) { c.ID = "after-rotation" })))
	assertTokenError(t, c, err, wire.ErrUnknownKey)

	// Many distinct headers do not grow the map without bound.
	v.SetKeys(map[string]ed25519.PublicKey{keyA.kid: keyA.pub})
	for i := range 2 * maxHeaders {
		tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, validClaims(t0))
		tok.Header["kid"] = keyA.kid
		tok.Header["x"] = i
		s, err := tok.SignedString(keyA.priv)
		mustNil(t, err)
		_, err = v.Verify(s)
		mustNil(t, err)
	}
	v.mu.RLock()
	n := len(v.headers)
	v.mu.RUnlock()
	if n > maxHeaders {
		t.Errorf("%d headers remembered, cap %d", n, maxHeaders)
	}
}
