package wire

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// jwksJSON marshals a key set built from keys, each changed by fn if given.
func jwksJSON(tb testing.TB, fn func(*JWK), keys ...JWK) []byte {
	tb.Helper()
	set := JWKS{Keys: keys}
	if fn != nil {
		for i := range set.Keys {
			fn(&set.Keys[i])
		}
	}
	raw, err := json.Marshal(set)
	if err != nil {
		tb.Fatal(err)
	}
	return raw
}

// padJSON pads a JSON document with trailing spaces to exactly n bytes.
func padJSON(tb testing.TB, raw []byte, n int) []byte {
	tb.Helper()
	if len(raw) > n {
		tb.Fatalf("document is already %d bytes, want %d", len(raw), n)
	}
	return append(raw, bytes.Repeat([]byte(" "), n-len(raw))...)
}

func TestParseJWKSAccepts(t *testing.T) {
	cases := []struct {
		name string
		data []byte
		want []testKey
	}{
		{"one key", jwksJSON(t, nil, keyA.jwk()), []testKey{keyA}},
		{"two keys", jwksJSON(t, nil, keyA.jwk(), keyB.jwk()), []testKey{keyA, keyB}},
		{"without use and alg", jwksJSON(t, func(k *JWK) { k.Use, k.Alg = "", "" }, keyA.jwk()), []testKey{keyA}},
		{"exactly MaxJWKSSize", padJSON(t, jwksJSON(t, nil, keyA.jwk()), MaxJWKSSize), []testKey{keyA}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			set, keys, err := ParseJWKS(tc.data)
			mustNil(t, err)
			if len(set.Keys) != len(tc.want) || len(keys) != len(tc.want) {
				t.Fatalf("got %d keys in the set and %d by kid, want %d", len(set.Keys), len(keys), len(tc.want))
			}
			for _, k := range tc.want {
				if !keys[k.kid].Equal(k.pub) {
					t.Errorf("kid %s maps to %x, want %x", k.kid, keys[k.kid], k.pub)
				}
			}
		})
	}
}

func TestParseJWKSRejects(t *testing.T) {
	short := base64.RawURLEncoding.EncodeToString(keyA.pub[:31])
	cases := []struct {
		name string
		data []byte
	}{
		{"wrong kty", jwksJSON(t, func(k *JWK) { k.Kty = "RSA" }, keyA.jwk())},
		{"wrong crv", jwksJSON(t, func(k *JWK) { k.Crv = "X25519" }, keyA.jwk())},
		{"EC P-256", jwksJSON(t, func(k *JWK) { k.Kty, k.Crv = "EC", "P-256" }, keyA.jwk())},
		{"alg RS256", jwksJSON(t, func(k *JWK) { k.Alg = "RS256" }, keyA.jwk())},
		{"no kid", jwksJSON(t, func(k *JWK) { k.Kid = "" }, keyA.jwk())},
		{"x not base64url", jwksJSON(t, func(k *JWK) { k.X = "*not base64*" }, keyA.jwk())},
		{"x padded base64", jwksJSON(t, func(k *JWK) { k.X = base64.URLEncoding.EncodeToString(keyA.pub) }, keyA.jwk())},
		{"x 31 bytes", jwksJSON(t, func(k *JWK) { k.X = short }, keyA.jwk())},
		{"x empty", jwksJSON(t, func(k *JWK) { k.X = "" }, keyA.jwk())},
		{"duplicate kid", jwksJSON(t, func(k *JWK) { k.Kid = "same" }, keyA.jwk(), keyB.jwk())},
		{"second key bad", jwksJSON(t, func(k *JWK) {
			if k.Kid == keyB.kid {
				k.Crv = "Ed448"
			}
		}, keyA.jwk(), keyB.jwk())},
		{"empty key list", []byte(`{"keys":[]}`)},
		{"no keys field", []byte(`{}`)},
		{"null", []byte(`null`)},
		{"empty input", nil},
		{"not JSON", []byte(`keys: [a]`)},
		{"truncated JSON", jwksJSON(t, nil, keyA.jwk())[:40]},
		{"keys not a list", []byte(`{"keys":{"kty":"OKP"}}`)},
		{"one byte over MaxJWKSSize", padJSON(t, jwksJSON(t, nil, keyA.jwk()), MaxJWKSSize+1)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			set, keys, err := ParseJWKS(tc.data)
			if !errors.Is(err, ErrInvalidKeySet) {
				t.Fatalf("err = %v, want ErrInvalidKeySet", err)
			}
			if len(set.Keys) != 0 || keys != nil {
				t.Errorf("a refused set returned keys: %+v %v", set, keys)
			}
		})
	}
}

func TestKeyIDAndPublicJWK(t *testing.T) {
	if KeyID(keyA.pub) != newTestKey(1).kid {
		t.Error("KeyID is not stable for the same key")
	}
	if KeyID(keyA.pub) == KeyID(keyB.pub) {
		t.Error("two keys share a kid")
	}
	if strings.ContainsAny(keyA.kid, "+/=") {
		t.Errorf("kid %q is not base64url without padding", keyA.kid)
	}
	j := keyA.jwk()
	if j.Kty != "OKP" || j.Crv != "Ed25519" || j.Alg != "EdDSA" || j.Kid != keyA.kid {
		t.Errorf("PublicJWK = %+v", j)
	}
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
