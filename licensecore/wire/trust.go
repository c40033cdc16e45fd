package wire

// The chain of trust between License Desk and one authority deployment.
//
// Root. Each deployment has a long-lived Ed25519 root key, kept apart from
// the signing keys. License Desk pins the root's public key (installer,
// config or a build-time asset; shown as Fingerprint); nothing else is
// trusted by configuration.
//
// Signed key set (PathSignedJWKS). The authority publishes its signing keys
// as a compact JWS signed by the root: header {"alg":"EdDSA","typ":
// KeySetType,"kid":KeyID(root)}, payload KeySetClaims. Every license token,
// license file, response code and signed answer verifies with a key of a
// set that VerifyKeySet accepted for the pinned root. A license file
// carries such a signed set, never a bare one.
//
// DPoP (RFC 9449). Every call to the authority carries a proof JWT signed by
// the installation's own Ed25519 key (NewDPoPProof); the authority binds the
// refresh token to the key's thumbprint (JWKThumbprint) and puts it in the
// license token's cnf.jkt, so a copied refresh token is useless without the
// key, and a register can check who holds a token.
//
// Signed answers. Every answer that changes local state carries
// HeaderSignature: an Ed25519 signature by a published signing key over
// AnswerMessage, which binds the answer to the request (method, path, the
// client's HeaderNonce and its DPoP thumbprint), to the status and body,
// and to the authority's time (HeaderSignedAt). A forged or replayed answer
// fails CheckAnswerSignature.

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"filippo.io/edwards25519"
)

// Paths and headers of the trust protocol.
const (
	PathSignedJWKS = "/.well-known/jwks.jws"
	KeySetType     = "jwk-set+jws"
	DPoPType       = "dpop+jwt"

	HeaderDPoP      = "DPoP"
	HeaderNonce     = "Licensedesk-Nonce"
	HeaderSignature = "Licensedesk-Signature"
	HeaderKeyID     = "Licensedesk-Key-Id"
	HeaderSignedAt  = "Licensedesk-Signed-At"
)

// Confirmation is a token's cnf claim (RFC 7800, RFC 9449 §6): the
// thumbprint of the key that holds it.
type Confirmation struct {
	JKT string `json:"jkt"`
}

// KeySetClaims is the payload of the root-signed key set.
type KeySetClaims struct {
	Issuer   string `json:"iss"`
	IssuedAt int64  `json:"iat"`
	Keys     []JWK  `json:"keys"`
}

// DecodeSegment decodes one base64url segment strictly: no padding, no
// white space or other characters outside the alphabet, canonical trailing
// bits. So a token has exactly one spelling.
func DecodeSegment(seg string) ([]byte, error) {
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return nil, fmt.Errorf("byte %d (%q) is not base64url", i, c)
		}
	}
	return base64.RawURLEncoding.Strict().DecodeString(seg)
}

// SmallOrder reports whether pub is not a usable Ed25519 key: not a point
// on the curve, or of small order (such a key "verifies" forged
// signatures).
func SmallOrder(pub ed25519.PublicKey) bool {
	if len(pub) != ed25519.PublicKeySize {
		return true
	}
	p, err := new(edwards25519.Point).SetBytes(pub)
	if err != nil {
		return true
	}
	return new(edwards25519.Point).MultByCofactor(p).Equal(edwards25519.NewIdentityPoint()) == 1
}

// Fingerprint is how a person compares root keys: the first 16 bytes of
// SHA-256 of the key, in groups of four hex digits.
func Fingerprint(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	h := strings.ToUpper(hex.EncodeToString(sum[:16]))
	var b strings.Builder
	for i := 0; i < len(h); i += 4 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(h[i : i+4])
	}
	return b.String()
}

// EncodeRootKey writes a root public key for config files and flags.
func EncodeRootKey(pub ed25519.PublicKey) string {
	return "ed25519:" + base64.RawURLEncoding.EncodeToString(pub)
}

// ParseRootKey reads what EncodeRootKey wrote (the "ed25519:" prefix may be
// left out; white space around it is ignored).
func ParseRootKey(s string) (ed25519.PublicKey, error) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "ed25519:")
	raw, err := DecodeSegment(s)
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: not an Ed25519 public key (expected ed25519:<43 base64url characters>)", ErrBadRootKey)
	}
	if SmallOrder(raw) {
		return nil, fmt.Errorf("%w: the key is not a valid Ed25519 point", ErrBadRootKey)
	}
	return ed25519.PublicKey(raw), nil
}

// signCompact makes a compact JWS with an EdDSA signature.
func signCompact(key ed25519.PrivateKey, header, payload any) (string, error) {
	h, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	p, err := json.Marshal(payload)
	if err != nil {
		return "", err
	}
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p)
	return input + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(key, []byte(input))), nil
}

// jwsHeader is the protected header this package reads.
type jwsHeader struct {
	Alg  string          `json:"alg"`
	Typ  string          `json:"typ"`
	Kid  string          `json:"kid,omitempty"`
	JWK  *JWK            `json:"jwk,omitempty"`
	Crit json.RawMessage `json:"crit,omitempty"`
}

// openCompact splits a compact JWS and decodes its header strictly; it
// does not verify the signature.
func openCompact(jws string, maxLen int) (hdr jwsHeader, payload, signingInput, sig []byte, err error) {
	if len(jws) > maxLen {
		return hdr, nil, nil, nil, fmt.Errorf("larger than %d bytes", maxLen)
	}
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		return hdr, nil, nil, nil, fmt.Errorf("not a compact JWS")
	}
	raw, err := DecodeSegment(parts[0])
	if err != nil {
		return hdr, nil, nil, nil, fmt.Errorf("header: %w", err)
	}
	// Only these names, spelled exactly: no extension (crit, b64) can
	// change what the signature means.
	var names map[string]json.RawMessage
	if err := json.Unmarshal(raw, &names); err != nil {
		return hdr, nil, nil, nil, fmt.Errorf("header: %w", err)
	}
	for name := range names {
		if name != "alg" && name != "typ" && name != "kid" && name != "jwk" {
			return hdr, nil, nil, nil, fmt.Errorf("header: %q is not allowed", name)
		}
	}
	if err := json.Unmarshal(raw, &hdr); err != nil {
		return hdr, nil, nil, nil, fmt.Errorf("header: %w", err)
	}
	if hdr.Alg != "EdDSA" || len(hdr.Crit) > 0 {
		return hdr, nil, nil, nil, fmt.Errorf("header: alg %q or crit not allowed", hdr.Alg)
	}
	if payload, err = DecodeSegment(parts[1]); err != nil {
		return hdr, nil, nil, nil, fmt.Errorf("payload: %w", err)
	}
	if sig, err = DecodeSegment(parts[2]); err != nil || len(sig) != ed25519.SignatureSize {
		return hdr, nil, nil, nil, fmt.Errorf("signature is malformed")
	}
	return hdr, payload, []byte(parts[0] + "." + parts[1]), sig, nil
}

// SignKeySet signs the authority's key set with its root key.
func SignKeySet(root ed25519.PrivateKey, issuer string, set JWKS, iat time.Time) (string, error) {
	pub := root.Public().(ed25519.PublicKey)
	return signCompact(root, jwsHeader{Alg: "EdDSA", Typ: KeySetType, Kid: KeyID(pub)},
		KeySetClaims{Issuer: issuer, IssuedAt: iat.Unix(), Keys: set.Keys})
}

// VerifyKeySet checks a signed key set against the pinned root and
// returns the keys (validated as ParseJWKS does, small-order keys refused)
// and the claims. Anything else is ErrUntrustedKeySet.
func VerifyKeySet(jws string, root ed25519.PublicKey) (JWKS, KeySetClaims, error) {
	var c KeySetClaims
	hdr, payload, input, sig, err := openCompact(jws, MaxJWKSSize)
	if err != nil {
		return JWKS{}, c, fmt.Errorf("%w: %v", ErrUntrustedKeySet, err)
	}
	if hdr.Typ != KeySetType || hdr.Kid != KeyID(root) {
		return JWKS{}, c, fmt.Errorf("%w: not a key set signed by the pinned root (kid %q)", ErrUntrustedKeySet, hdr.Kid)
	}
	if !ed25519.Verify(root, input, sig) {
		return JWKS{}, c, fmt.Errorf("%w: the root's signature does not match", ErrUntrustedKeySet)
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return JWKS{}, c, fmt.Errorf("%w: %v", ErrUntrustedKeySet, err)
	}
	set := JWKS{Keys: c.Keys}
	if _, err := set.PublicKeys(); err != nil {
		return JWKS{}, c, err
	}
	return set, c, nil
}

// JWKThumbprint is the RFC 7638 thumbprint of an Ed25519 key (base64url
// SHA-256 of {"crv","kty","x"}), the jkt of DPoP and cnf.
func JWKThumbprint(pub ed25519.PublicKey) string {
	canon := `{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}`
	sum := sha256.Sum256([]byte(canon))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// DPoPClaims is the payload of a DPoP proof.
type DPoPClaims struct {
	JTI string `json:"jti"`
	HTM string `json:"htm"`
	HTU string `json:"htu"`
	IAT int64  `json:"iat"`
}

// NewDPoPProof makes a DPoP proof for one request (RFC 9449 §4.2). htu is
// the request URL without query and fragment; jti must be unique.
func NewDPoPProof(key ed25519.PrivateKey, htm, htu, jti string, now time.Time) (string, error) {
	jwk := PublicJWK(key.Public().(ed25519.PublicKey))
	jwk.Kid, jwk.Use, jwk.Alg = "", "", ""
	return signCompact(key, jwsHeader{Alg: "EdDSA", Typ: DPoPType, JWK: &jwk},
		DPoPClaims{JTI: jti, HTM: htm, HTU: htu, IAT: now.Unix()})
}

// VerifyDPoPProof checks a proof for the request htm htu at now (the
// authority's clock), allowing skew either way, and returns its claims and
// the thumbprint of the key that signed it. Replay of jti is the caller's
// check.
func VerifyDPoPProof(proof, htm, htu string, now time.Time, skew time.Duration) (DPoPClaims, string, error) {
	var c DPoPClaims
	hdr, payload, input, sig, err := openCompact(proof, 4<<10)
	if err != nil {
		return c, "", fmt.Errorf("%w: %v", ErrBadDPoP, err)
	}
	if hdr.Typ != DPoPType || hdr.JWK == nil {
		return c, "", fmt.Errorf("%w: typ must be %s with a jwk", ErrBadDPoP, DPoPType)
	}
	pub, err := DecodeSegment(hdr.JWK.X)
	if hdr.JWK.Kty != "OKP" || hdr.JWK.Crv != "Ed25519" || err != nil || SmallOrder(pub) {
		return c, "", fmt.Errorf("%w: the jwk is not an Ed25519 public key", ErrBadDPoP)
	}
	if !ed25519.Verify(pub, input, sig) {
		return c, "", fmt.Errorf("%w: the signature does not match", ErrBadDPoP)
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return c, "", fmt.Errorf("%w: %v", ErrBadDPoP, err)
	}
	at := time.Unix(c.IAT, 0)
	switch {
	case c.JTI == "" || len(c.JTI) > 128:
		return c, "", fmt.Errorf("%w: jti is missing or longer than 128 bytes", ErrBadDPoP)
	case c.HTM != htm || c.HTU != htu:
		return c, "", fmt.Errorf("%w: made for %s %s, not %s %s", ErrBadDPoP, c.HTM, c.HTU, htm, htu)
	case at.Before(now.Add(-skew)) || at.After(now.Add(skew)):
		return c, "", fmt.Errorf("%w: issued at %s, the authority's time is %s", ErrBadDPoP, at.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return c, JWKThumbprint(pub), nil
}

// AnswerMessage is what a signed answer's signature covers.
func AnswerMessage(method, path, nonce, jkt string, status int, signedAt int64, body []byte) []byte {
	var b strings.Builder
	b.WriteString("licensedesk-answer-v1\n")
	for _, f := range []string{method, path, nonce, jkt, strconv.Itoa(status), strconv.FormatInt(signedAt, 10)} {
		b.WriteString(f)
		b.WriteByte('\n')
	}
	b.Write(body)
	return []byte(b.String())
}

// SignAnswer signs an answer (the authority's side).
func SignAnswer(key ed25519.PrivateKey, method, path, nonce, jkt string, status int, signedAt int64, body []byte) string {
	return base64.RawURLEncoding.EncodeToString(ed25519.Sign(key, AnswerMessage(method, path, nonce, jkt, status, signedAt, body)))
}

// CheckAnswerSignature checks an answer's signature with a published key.
func CheckAnswerSignature(pub ed25519.PublicKey, sig, method, path, nonce, jkt string, status int, signedAt int64, body []byte) error {
	raw, err := DecodeSegment(sig)
	if err != nil || len(raw) != ed25519.SignatureSize || !ed25519.Verify(pub, AnswerMessage(method, path, nonce, jkt, status, signedAt, body), raw) {
		return ErrUnsignedAnswer
	}
	return nil
}
