package licensecore

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzVerify feeds arbitrary strings to the token verifier. It must never
// panic, every refusal must be a *TokenError, and it must never accept a
// token unless the signature over its first two segments is keyA's.
func FuzzVerify(f *testing.F) {
	valid := keyA.sign(f, validClaims(t0))
	dot := strings.LastIndexByte(valid, '.')
	for _, seed := range []string{
		valid,
		keyB.sign(f, validClaims(t0)),
		signToken(f, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, keyA.kid, validClaims(t0)),
		signToken(f, jwt.SigningMethodHS256, []byte(keyA.pub), keyA.kid, validClaims(t0)),
		flipSignatureByte(f, valid),
		valid[:dot],
		valid[:len(valid)/2],
		valid + ".x",
		"",
		"..",
		"e30.e30.",
		strings.Repeat("A", 100),
	} {
		f.Add(seed)
	}
	v := newTestVerifier(f, newFakeClock(t0).Now, 16, keyA)
	f.Fuzz(func(t *testing.T, tok string) {
		claims, err := v.Verify(tok)
		if err != nil {
			var te *TokenError
			if !errors.As(err, &te) || !errors.Is(err, ErrTokenInvalid) {
				t.Fatalf("refusal is not a *TokenError: %#v", err)
			}
			if claims != nil {
				t.Fatalf("claims returned with error %v", err)
			}
			return
		}
		if claims == nil {
			t.Fatal("accepted without claims")
		}
		parts := strings.Split(tok, ".")
		if len(parts) != 3 {
			t.Fatalf("accepted a token of %d segments", len(parts))
		}
		sig, derr := base64.RawURLEncoding.DecodeString(parts[2])
		if derr != nil || !ed25519.Verify(keyA.pub, []byte(parts[0]+"."+parts[1]), sig) {
			t.Fatalf("accepted a token whose signature is not keyA's: %q", tok)
		}
	})
}

// FuzzParseJWKS feeds arbitrary bytes to the key-set parser: no panic,
// refusals are ErrInvalidKeySet, and an accepted set holds only unique,
// well-formed Ed25519 keys.
func FuzzParseJWKS(f *testing.F) {
	f.Add(jwksJSON(f, nil, keyA.jwk()))
	f.Add(jwksJSON(f, nil, keyA.jwk(), keyB.jwk()))
	f.Add(jwksJSON(f, func(k *JWK) { k.Kid = "dup" }, keyA.jwk(), keyB.jwk()))
	f.Add(jwksJSON(f, func(k *JWK) { k.Kty = "RSA" }, keyA.jwk()))
	f.Add([]byte(`{"keys":[]}`))
	f.Add([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"","kid":"a"}]}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, data []byte) {
		set, keys, err := ParseJWKS(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidKeySet) {
				t.Fatalf("refusal is not ErrInvalidKeySet: %v", err)
			}
			return
		}
		if len(data) > MaxJWKSSize {
			t.Fatalf("accepted %d bytes, limit %d", len(data), MaxJWKSSize)
		}
		if len(keys) == 0 || len(keys) != len(set.Keys) {
			t.Fatalf("accepted %d keys by kid from a set of %d", len(keys), len(set.Keys))
		}
		for _, k := range set.Keys {
			pub, ok := keys[k.Kid]
			if !ok || len(pub) != ed25519.PublicKeySize || k.Kty != "OKP" || k.Crv != "Ed25519" {
				t.Fatalf("accepted a bad key %+v", k)
			}
		}
	})
}
