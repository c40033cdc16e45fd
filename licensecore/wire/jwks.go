package wire

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
)

// JWK is one public key in a JSON Web Key Set (RFC 7517, OKP keys of RFC 8037).
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid,omitempty"`
	Use string `json:"use,omitempty"`
	Alg string `json:"alg,omitempty"`
}

// JWKS is the authority's published key set.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// MaxJWKSSize bounds a key set read from the network or the store.
const MaxJWKSSize = 64 << 10

// KeyID derives a stable kid from an Ed25519 public key (RFC 7638 style
// thumbprint, truncated): the same key always gets the same kid.
func KeyID(pub ed25519.PublicKey) string {
	canon := fmt.Sprintf(`{"crv":"Ed25519","kty":"OKP","x":"%s"}`, base64.RawURLEncoding.EncodeToString(pub))
	sum := sha256.Sum256([]byte(canon))
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

// PublicJWK builds the JWK of an Ed25519 public key.
func PublicJWK(pub ed25519.PublicKey) JWK {
	return JWK{Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(pub), Kid: KeyID(pub), Use: "sig", Alg: "EdDSA"}
}

// ParseJWKS decodes and validates a key set: every key must be an Ed25519
// signing key with a unique kid. Keys of other types are refused rather than
// skipped, because a key set that is not what we expect means a
// misconfigured or impersonated authority.
func ParseJWKS(data []byte) (JWKS, map[string]ed25519.PublicKey, error) {
	if len(data) > MaxJWKSSize {
		return JWKS{}, nil, fmt.Errorf("%w: larger than %d bytes", ErrInvalidKeySet, MaxJWKSSize)
	}
	var set JWKS
	if err := json.Unmarshal(data, &set); err != nil {
		return JWKS{}, nil, fmt.Errorf("%w: %v", ErrInvalidKeySet, err)
	}
	keys, err := set.PublicKeys()
	if err != nil {
		return JWKS{}, nil, err
	}
	return set, keys, nil
}

// PublicKeys validates the set and returns its keys by kid. x must be
// strict base64url (DecodeSegment) of a point of large order.
func (s JWKS) PublicKeys() (map[string]ed25519.PublicKey, error) {
	if len(s.Keys) == 0 {
		return nil, fmt.Errorf("%w: no keys", ErrInvalidKeySet)
	}
	keys := make(map[string]ed25519.PublicKey, len(s.Keys))
	for _, k := range s.Keys {
		if k.Kty != "OKP" || k.Crv != "Ed25519" {
			return nil, fmt.Errorf("%w: key %q is %s/%s, want OKP/Ed25519", ErrInvalidKeySet, k.Kid, k.Kty, k.Crv)
		}
		if k.Alg != "" && k.Alg != "EdDSA" {
			return nil, fmt.Errorf("%w: key %q is for %s", ErrInvalidKeySet, k.Kid, k.Alg)
		}
		if k.Kid == "" {
			return nil, fmt.Errorf("%w: key without kid", ErrInvalidKeySet)
		}
		raw, err := DecodeSegment(k.X)
		if err != nil || len(raw) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("%w: key %q has a bad public value", ErrInvalidKeySet, k.Kid)
		}
		// A small-order key "verifies" signatures anyone can make.
		if SmallOrder(raw) {
			return nil, fmt.Errorf("%w: key %q is not a usable Ed25519 key (small order or not on the curve)", ErrInvalidKeySet, k.Kid)
		}
		if _, dup := keys[k.Kid]; dup {
			return nil, fmt.Errorf("%w: kid %q appears twice", ErrInvalidKeySet, k.Kid)
		}
		keys[k.Kid] = ed25519.PublicKey(raw)
	}
	return keys, nil
}
