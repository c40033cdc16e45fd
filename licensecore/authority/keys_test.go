package authority_test

import (
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"licensedesk/licensecore/wire"
)

func kids(e *env) []string {
	var out []string
	for _, k := range e.srv.JWKS().Keys {
		out = append(out, k.Kid)
	}
	return out
}

func headerKid(t *testing.T, token string) string {
	t.Helper()
	v := e2eKid(token)
	if v == "" {
		t.Fatalf("token without kid")
	}
	return v
}

func TestKeyRotation(t *testing.T) {
	e := newEnv(t)
	old := e.acquire(devMain).str("access_token")
	oldKid := headerKid(t, old)

	e.clock.Advance(time.Hour)
	if err := e.srv.RotateKey(); err != nil {
		t.Fatal(err)
	}
	newerAnswer := e.acquire(devPerpetual)
	newer := newerAnswer.str("access_token")
	newKid := headerKid(t, newer)
	if newKid == oldKid {
		t.Fatal("the new token is signed with the old key")
	}
	if got := kids(e); len(got) != 2 {
		t.Fatalf("after rotation the JWKS has %v, want both keys", got)
	}

	// Both verify while the old key is published, across a restart too.
	e.restart()
	v := e.verifier()
	for _, tok := range []string{old, newer} {
		if _, err := v.Verify(tok); err != nil {
			t.Errorf("verify %s…: %v", tok[:16], err)
		}
	}

	// Once every token and license file the old key signed has expired
	// (30 days, plus a day), it is retired.
	retention := wire.OfflineWindow + 24*time.Hour
	e.clock.Advance(retention)
	if got := kids(e); len(got) != 1 || got[0] != newKid {
		t.Fatalf("after the token lifetime the JWKS has %v, want only %s", got, newKid)
	}
	v = e.verifier()
	if _, err := v.Verify(old); err == nil {
		t.Error("a token of a retired key still verifies")
	}
	fresh := e.refresh(newerAnswer.str("refresh_token")).str("access_token")
	if _, err := v.Verify(fresh); err != nil || headerKid(t, fresh) != newKid {
		t.Errorf("the new key's token: %v", err)
	}
	// A register with only the new key set refuses an old-kid token as an
	// unknown key (not, say, a bad signature).
	e.clock.Advance(-retention)
	_, err := v.Verify(old)
	if !errors.Is(err, wire.ErrUnknownKey) {
		t.Errorf("old token against the new key set: %v", err)
	}
}

// e2eKid reads the kid of an EdDSA JWT without verifying it.
func e2eKid(token string) string {
	tok, _, err := jwt.NewParser().ParseUnverified(token, &wire.Claims{})
	if err != nil || tok.Method.Alg() != "EdDSA" {
		return ""
	}
	kid, _ := tok.Header["kid"].(string)
	return kid
}
