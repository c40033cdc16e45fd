package licensecore

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"licensedesk/licensecore/wire"
)

// Attacks on the strictness of token parsing and on the administrator
// login throttle. Every token case below was accepted by the lenient
// parser (non-strict base64url, header and claims decoded into structs,
// json.Number dates) and key sets with small-order keys were trusted.

const b64url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// signJOSE signs header and payload (raw JSON) with k, the authority's way
// but with whatever JSON the attack needs.
func signJOSE(k testKey, header, payload string) string {
	in := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
	return in + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(k.priv, []byte(in)))
}

// keyAHeader is the header the authority writes.
var keyAHeader = `{"alg":"EdDSA","kid":"` + keyA.kid + `","typ":"JWT"}`

// validPayload is the JSON of validClaims(t0).
func validPayload(tb testing.TB) string {
	tb.Helper()
	raw, err := json.Marshal(validClaims(t0))
	mustNil(tb, err)
	return string(raw)
}

// replaceClaim swaps `"name":<value>` in payload for repl, once; the value
// is the one validClaims has.
func replaceClaim(tb testing.TB, payload, name, repl string) string {
	tb.Helper()
	var m map[string]json.RawMessage
	mustNil(tb, json.Unmarshal([]byte(payload), &m))
	old := `"` + name + `":` + string(m[name])
	if strings.Count(payload, old) != 1 {
		tb.Fatalf("claim %s not found once in %s", old, payload)
	}
	return strings.Replace(payload, old, repl, 1)
}

// addClaims appends members to a JSON object.
func addClaims(payload string, members ...string) string {
	return strings.TrimSuffix(payload, "}") + "," + strings.Join(members, ",") + "}"
}

// otherTrailingBits spells the last character of a base64url segment
// differently without changing the decoded bytes (lenient decoders ignore
// the unused low bits). seg's length must not be a multiple of 4.
func otherTrailingBits(tb testing.TB, seg string) string {
	tb.Helper()
	if len(seg)%4 == 0 {
		tb.Fatalf("segment of %d characters has no unused bits", len(seg))
	}
	last := strings.IndexByte(b64url, seg[len(seg)-1])
	return seg[:len(seg)-1] + string(b64url[last^1])
}

// forgeWithKey makes a token for kid that ed25519.Verify accepts under the
// small-order key pub without any private key: signature R = identity,
// S = 0 checks whenever [k]pub is the identity, k = H(R‖pub‖message)
// (always for the identity key; one message in 4 to 8 otherwise, so jti is
// varied).
func forgeWithKey(tb testing.TB, pub ed25519.PublicKey, kid string) string {
	tb.Helper()
	sig := make([]byte, ed25519.SignatureSize)
	sig[0] = 1 // the identity point's encoding; S stays 0
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"EdDSA","kid":"` + kid + `"}`))
	for i := range 256 {
		c := validClaims(t0)
		c.ID = fmt.Sprintf("forged-%d", i)
		c.Subject, c.Customer, c.Capacity = "attacker", "Mallory", 9999
		raw, err := json.Marshal(c)
		mustNil(tb, err)
		in := h + "." + base64.RawURLEncoding.EncodeToString(raw)
		if ed25519.Verify(pub, []byte(in), sig) {
			return in + "." + base64.RawURLEncoding.EncodeToString(sig)
		}
	}
	tb.Fatal("no forgery found: the key is not of small order")
	return ""
}

func TestAttackLenientTokenParsing(t *testing.T) {
	valid := keyA.sign(t, validClaims(t0))
	dot := strings.LastIndexByte(valid, '.')
	body, sig64 := valid[:dot], valid[dot+1:]
	payload := validPayload(t)
	far := strconv.FormatInt(t0.Add(10*365*24*time.Hour).Unix(), 10)

	// The control: what every case below changes is accepted as written.
	v := newTestVerifier(t, newFakeClock(t0).Now, 0, keyA)
	if _, err := v.Verify(valid); err != nil {
		t.Fatalf("control token refused: %v", err)
	}
	if _, err := v.Verify(signJOSE(keyA, keyAHeader, payload)); err != nil {
		t.Fatalf("control signJOSE token refused: %v", err)
	}

	cases := []struct {
		name  string
		token func(t *testing.T) string
		want  error
	}{
		// One spelling: the same signature bytes, written another way.
		{"signature with other unused trailing bits", func(t *testing.T) string {
			return body + "." + otherTrailingBits(t, sig64)
		}, ErrMalformedToken},
		{"newline inside the signature", func(t *testing.T) string {
			return body + "." + sig64[:40] + "\n" + sig64[40:]
		}, ErrMalformedToken},
		{"CR LF inside the signature", func(t *testing.T) string {
			return body + "." + sig64[:20] + "\r\n" + sig64[20:]
		}, ErrMalformedToken},
		{"payload with other unused trailing bits (validly signed)", func(t *testing.T) string {
			p := payload
			for len(p)%3 == 0 { // a length with unused bits in the last character
				p = strings.TrimSuffix(p, "}") + " }"
			}
			h := base64.RawURLEncoding.EncodeToString([]byte(keyAHeader))
			in := h + "." + otherTrailingBits(t, base64.RawURLEncoding.EncodeToString([]byte(p)))
			return in + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(keyA.priv, []byte(in)))
		}, ErrMalformedToken},
		{"newline inside the payload (validly signed)", func(t *testing.T) string {
			h := base64.RawURLEncoding.EncodeToString([]byte(keyAHeader))
			p := base64.RawURLEncoding.EncodeToString([]byte(payload))
			in := h + "." + p[:30] + "\n" + p[30:]
			return in + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(keyA.priv, []byte(in)))
		}, ErrMalformedToken},
		// Header extensions we do not understand.
		{"crit naming an unknown extension", func(t *testing.T) string {
			return signJOSE(keyA, `{"alg":"EdDSA","crit":["urn:x-revocation-ignored"],"kid":"`+keyA.kid+`","urn:x-revocation-ignored":true}`, payload)
		}, ErrBadAlgorithm},
		{"crit empty list", func(t *testing.T) string {
			return signJOSE(keyA, `{"alg":"EdDSA","crit":[],"kid":"`+keyA.kid+`"}`, payload)
		}, ErrBadAlgorithm},
		{"b64 false (RFC 7797, unencoded payload)", func(t *testing.T) string {
			return signJOSE(keyA, `{"alg":"EdDSA","b64":false,"crit":["b64"],"kid":"`+keyA.kid+`"}`, payload)
		}, ErrBadAlgorithm},
		{"b64 true without crit", func(t *testing.T) string {
			return signJOSE(keyA, `{"alg":"EdDSA","b64":true,"kid":"`+keyA.kid+`"}`, payload)
		}, ErrBadAlgorithm},
		{"ALG in capitals", func(t *testing.T) string {
			return signJOSE(keyA, `{"ALG":"EdDSA","kid":"`+keyA.kid+`"}`, payload)
		}, ErrBadAlgorithm},
		// Claim names are case-sensitive (RFC 7519 §4), and ours appear once.
		{"EXP beside exp (a far expiry that wins)", func(t *testing.T) string {
			return signJOSE(keyA, keyAHeader, addClaims(payload, `"EXP":`+far))
		}, ErrMalformedToken},
		{"exp twice (the last wins)", func(t *testing.T) string {
			return signJOSE(keyA, keyAHeader, addClaims(payload, `"exp":`+far))
		}, ErrMalformedToken},
		{"exp twice, the second escaped as \\u0065xp", func(t *testing.T) string {
			return signJOSE(keyA, keyAHeader, addClaims(payload, `"\u0065xp":`+far))
		}, ErrMalformedToken},
		{"Sub instead of sub", func(t *testing.T) string {
			return signJOSE(keyA, keyAHeader, replaceClaim(t, payload, "sub", `"Sub":"server-0001"`))
		}, ErrMalformedToken},
		{"ſub (U+017F, folds to s) instead of sub", func(t *testing.T) string {
			return signJOSE(keyA, keyAHeader, replaceClaim(t, payload, "sub", `"ſub":"server-0001"`))
		}, ErrMalformedToken},
		{"LID instead of lid", func(t *testing.T) string {
			return signJOSE(keyA, keyAHeader, replaceClaim(t, payload, "lid", `"LID":"lic-0001"`))
		}, ErrMalformedToken},
		{"Cap beside cap (a larger capacity that wins)", func(t *testing.T) string {
			return signJOSE(keyA, keyAHeader, addClaims(payload, `"Cap":500`))
		}, ErrMalformedToken},
		// NumericDate is a JSON number (RFC 7519 §2).
		{"exp as a numeric string", func(t *testing.T) string {
			c := validClaims(t0)
			return signJOSE(keyA, keyAHeader, replaceClaim(t, payload, "exp", `"exp":"`+strconv.FormatInt(c.ExpiresAt.Unix(), 10)+`"`))
		}, ErrMalformedToken},
		{"nbf as a numeric string", func(t *testing.T) string {
			c := validClaims(t0)
			return signJOSE(keyA, keyAHeader, replaceClaim(t, payload, "nbf", `"nbf":"`+strconv.FormatInt(c.NotBefore.Unix(), 10)+`"`))
		}, ErrMalformedToken},
		{"iat as a numeric string", func(t *testing.T) string {
			c := validClaims(t0)
			return signJOSE(keyA, keyAHeader, replaceClaim(t, payload, "iat", `"iat":"`+strconv.FormatInt(c.IssuedAt.Unix(), 10)+`"`))
		}, ErrMalformedToken},
		{"nbf null", func(t *testing.T) string {
			return signJOSE(keyA, keyAHeader, replaceClaim(t, payload, "nbf", `"nbf":null`))
		}, ErrMalformedToken},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := newTestVerifier(t, newFakeClock(t0).Now, 0, keyA)
			claims, err := v.Verify(tc.token(t))
			if err == nil {
				t.Fatalf("ACCEPTED (sub %q, exp %v, cap %d), want refusal with %v", claims.Subject, claims.ExpiresAt, claims.Capacity, tc.want)
			}
			assertTokenError(t, claims, err, tc.want)
			t.Logf("refused: %v", err)
		})
	}

	// Padding: refused before too (the lenient decoder had no padding
	// character), kept so that stays true.
	for _, tok := range []string{valid + "=", valid + "==", body[:strings.IndexByte(body, '.')] + "=" + body[strings.IndexByte(body, '.'):] + "." + sig64} {
		v := newTestVerifier(t, newFakeClock(t0).Now, 0, keyA)
		claims, err := v.Verify(tok)
		assertTokenError(t, claims, err, ErrMalformedToken)
	}

	// A key set with a small-order key lets anyone sign: it must be
	// refused when it arrives, before any token is checked with it.
	identity := make(ed25519.PublicKey, ed25519.PublicKeySize)
	identity[0] = 1
	zero := make(ed25519.PublicKey, ed25519.PublicKeySize) // order 4: (√-1, 0)
	for _, bad := range []struct {
		name string
		pub  ed25519.PublicKey
	}{{"identity point", identity}, {"all-zero point", zero}} {
		t.Run("key set with the "+bad.name, func(t *testing.T) {
			kid := "rotated-2025"
			forged := forgeWithKey(t, bad.pub, kid)
			jwk := wire.JWK{Kty: "OKP", Crv: "Ed25519", Alg: "EdDSA", Use: "sig", Kid: kid, X: base64.RawURLEncoding.EncodeToString(bad.pub)}
			set := wire.JWKS{Keys: []wire.JWK{keyA.jwk(), jwk}}
			raw, err := json.Marshal(set)
			mustNil(t, err)
			if _, keys, err := wire.ParseJWKS(raw); !errors.Is(err, wire.ErrInvalidKeySet) {
				t.Errorf("ParseJWKS = %d keys, %v; want %v", len(keys), err, wire.ErrInvalidKeySet)
			}
			v := newTestVerifier(t, newFakeClock(t0).Now, 0, keyA)
			if err := v.SetKeySet(set); !errors.Is(err, wire.ErrInvalidKeySet) {
				claims, verr := v.Verify(forged)
				if verr == nil {
					t.Fatalf("SetKeySet = %v, want %v; and the forged token VERIFIED: sub %q, customer %q, capacity %d",
						err, wire.ErrInvalidKeySet, claims.Subject, claims.Customer, claims.Capacity)
				}
				t.Fatalf("SetKeySet = %v, want %v", err, wire.ErrInvalidKeySet)
			}
			// The refused set left the trusted keys as they were.
			if _, err := v.Verify(valid); err != nil {
				t.Errorf("the good key stopped verifying after a refused set: %v", err)
			}
			if _, err := v.Verify(forged); !errors.Is(err, wire.ErrUnknownKey) {
				t.Errorf("forged token: %v, want %v", err, wire.ErrUnknownKey)
			}
		})
	}
}

func TestAttackAdminThrottleRace(t *testing.T) {
	const guesses = 8
	s := newTestStore(t)
	sys := newFakeClock(t0)
	clock, err := NewTrustedClock(s, sys.Now, time.Minute)
	mustNil(t, err)
	a := NewAdmins(s, clock, zerolog.Nop())
	mustNil(t, a.CreateAdministrator("admin", "correct horse"))

	// Wrong passwords from every side at once.
	start := make(chan struct{})
	errs := make([]error, guesses)
	var wg sync.WaitGroup
	for i := range guesses {
		wg.Go(func() {
			<-start
			sess, err := a.AdminLogin("Admin", fmt.Sprintf("guess-%d", i))
			if sess != nil {
				t.Errorf("guess %d got a session", i)
			}
			errs[i] = err
		})
	}
	close(start)
	wg.Wait()

	// A guess was checked when its answer is not ErrLoginThrottled: the
	// attacker learns whether it was right.
	checked, throttled := 0, 0
	for i, err := range errs {
		switch {
		case errors.Is(err, ErrBadCredentials):
			checked++
		case errors.Is(err, ErrLoginThrottled):
			throttled++
		default:
			t.Errorf("guess %d: %v, want %v or %v", i, err, ErrBadCredentials, ErrLoginThrottled)
		}
	}
	if limit := loginFreeFailures + 1; checked > limit {
		t.Errorf("%d of %d parallel wrong passwords were checked (%d throttled); at most %d may be", checked, guesses, throttled, limit)
	}
	log, err := s.AuditLog()
	mustNil(t, err)
	failed := 0
	for _, e := range log {
		if e.Kind == "admin_login_failed" {
			failed++
		}
	}
	if failed != checked {
		t.Errorf("audit log has %d admin_login_failed entries for %d checked guesses", failed, checked)
	}
	var fails loginFailures
	if err := s.getJSON(prefixAdminFail+"admin", &fails); err != nil || fails.Count != checked {
		t.Errorf("stored failures = %+v, %v; want a count of %d (no lost update)", fails, err, checked)
	}

	// The account is locked now, even for the right password ...
	if _, err := a.AdminLogin("admin", "correct horse"); !errors.Is(err, ErrLoginThrottled) {
		t.Fatalf("right password after %d parallel failures: %v, want %v", guesses, err, ErrLoginThrottled)
	}
	sys.Add(loginBaseLock - time.Second)
	if _, err := a.AdminLogin("admin", "correct horse"); !errors.Is(err, ErrLoginThrottled) {
		t.Fatalf("right password a second before the lock ends: %v, want %v", err, ErrLoginThrottled)
	}
	// ... until the lock time has passed; success clears the failures.
	sys.Add(time.Second)
	if _, err := a.AdminLogin("admin", "correct horse"); err != nil {
		t.Fatalf("right password after the lock: %v", err)
	}
	if _, err := s.get(prefixAdminFail + "admin"); !errors.Is(err, ErrNotStored) {
		t.Errorf("failures still stored after a successful login: %v", err)
	}
}
