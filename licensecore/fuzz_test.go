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
// panic, every refusal must be a *RejectedError, and it must never accept a
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
			var te *RejectedError
			if !errors.As(err, &te) || !errors.Is(err, ErrTokenInvalid) {
				t.Fatalf("refusal is not a *RejectedError: %#v", err)
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
