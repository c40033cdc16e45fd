package licensecore

import (
	"errors"
	"testing"

	"licensedesk/licensecore/wire"
)

// holderKey is the installation key a token is bound to (cnf.jkt).
var holderKey = newTestKey(7)

// heldClaims are valid claims bound to holderKey.
func heldClaims() *wire.Claims {
	return withClaims(func(c *wire.Claims) {
		c.Confirmation = &wire.Confirmation{JKT: wire.JWKThumbprint(holderKey.pub)}
	})
}

func TestVerifyHeld(t *testing.T) {
	jkt := wire.JWKThumbprint(holderKey.pub)
	held := keyA.sign(t, heldClaims())
	v := newTestVerifier(t, newFakeClock(t0).Now, 0, keyA)

	claims, err := v.VerifyHeld(held, jkt)
	if err != nil || claims.Confirmation == nil || claims.Confirmation.JKT != jkt {
		t.Fatalf("VerifyHeld by the holder = %+v, %v", claims, err)
	}
	cases := []struct {
		name, token, jkt string
		want             error
	}{
		{"presented by another key", held, wire.JWKThumbprint(keyB.pub), ErrWrongHolder},
		{"presented without a key", held, "", ErrWrongHolder},
		{"token bound to no key", keyA.sign(t, validClaims(t0)), jkt, ErrWrongHolder},
		{"token with an empty cnf", keyA.sign(t, withClaims(func(c *wire.Claims) { c.Confirmation = &wire.Confirmation{} })), "", ErrWrongHolder},
		{"token bound to another key", keyA.sign(t, withClaims(func(c *wire.Claims) {
			c.Confirmation = &wire.Confirmation{JKT: wire.JWKThumbprint(keyB.pub)}
		})), jkt, ErrWrongHolder},
		{"bad signature, right holder", flipSignatureByte(t, held), jkt, ErrBadSignature},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Twice: the second answer comes from the cache when the
			// token itself is valid.
			for range 2 {
				claims, err := v.VerifyHeld(tc.token, tc.jkt)
				assertTokenError(t, claims, err, tc.want)
			}
			if tc.want == ErrWrongHolder {
				if _, err := v.Verify(tc.token); err != nil {
					t.Errorf("Verify (no holder check) = %v, want the token accepted", err)
				}
			}
		})
	}
	if err := v.SetKeySet(wire.JWKS{Keys: []wire.JWK{keyB.jwk()}}); err != nil {
		t.Fatal(err)
	}
	if _, err := v.VerifyHeld(held, jkt); !errors.Is(err, wire.ErrUnknownKey) || errors.Is(err, ErrWrongHolder) {
		t.Errorf("held token after its key left the set: %v, want %v", err, wire.ErrUnknownKey)
	}
}
