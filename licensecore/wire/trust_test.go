package wire

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"filippo.io/edwards25519"
)

// Tests of the chain of trust (trust.go): the root-signed key set, DPoP
// proofs, signed answers, root keys and strict base64url.

const (
	testIssuer = "https://authority.test"
	testHTU    = "https://authority.test/oauth/token"
)

var (
	rootKey   = newTestKey(10) // the deployment's pinned root
	otherRoot = newTestKey(11)
	holder    = newTestKey(12) // an installation's DPoP key
)

// identityKey and zeroKey are small-order encodings: the identity point and
// (√-1, 0), of order 4.
var (
	identityKey = append(ed25519.PublicKey{1}, make([]byte, 31)...)
	zeroKey     = make(ed25519.PublicKey, 32)
)

const b64url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// compactJWS signs raw header and payload JSON with key.
func compactJWS(key ed25519.PrivateKey, header, payload string) string {
	in := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
	return in + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(key, []byte(in)))
}

// otherTrailingBits changes the unused low bits of a segment's last
// character: a lenient decoder reads the same bytes.
func otherTrailingBits(tb testing.TB, seg string) string {
	tb.Helper()
	if len(seg)%4 == 0 {
		tb.Fatalf("a segment of %d characters has no unused bits", len(seg))
	}
	i := strings.IndexByte(b64url, seg[len(seg)-1])
	return seg[:len(seg)-1] + string(b64url[i^1])
}

// withSignature replaces the signature segment of a compact JWS.
func withSignature(jws, sig string) string {
	return jws[:strings.LastIndexByte(jws, '.')+1] + sig
}

func signatureOf(jws string) string { return jws[strings.LastIndexByte(jws, '.')+1:] }

// forgedSmallOrderSig is a signature that ed25519.Verify accepts under the
// identity key for every message: R = identity, S = 0.
func forgedSmallOrderSig() []byte {
	sig := make([]byte, ed25519.SignatureSize)
	sig[0] = 1
	return sig
}

func testKeySet() JWKS { return JWKS{Keys: []JWK{keyA.jwk(), keyB.jwk()}} }

func signedTestKeySet(tb testing.TB) string {
	tb.Helper()
	jws, err := SignKeySet(rootKey.priv, testIssuer, testKeySet(), t0)
	mustNil(tb, err)
	return jws
}

func TestSignedKeySetRoundTrip(t *testing.T) {
	jws := signedTestKeySet(t)
	set, claims, err := VerifyKeySet(jws, rootKey.pub)
	if err != nil {
		t.Fatal(err)
	}
	if claims.Issuer != testIssuer || claims.IssuedAt != t0.Unix() {
		t.Errorf("claims = %+v", claims)
	}
	want := testKeySet()
	if len(set.Keys) != len(want.Keys) {
		t.Fatalf("keys = %+v, want %+v", set.Keys, want.Keys)
	}
	for i := range want.Keys {
		if set.Keys[i] != want.Keys[i] {
			t.Errorf("key %d = %+v, want %+v", i, set.Keys[i], want.Keys[i])
		}
	}
	h, _, _ := strings.Cut(jws, ".")
	raw, err := DecodeSegment(h)
	mustNil(t, err)
	var hdr map[string]any
	mustNil(t, json.Unmarshal(raw, &hdr))
	if hdr["alg"] != "EdDSA" || hdr["typ"] != KeySetType || hdr["kid"] != KeyID(rootKey.pub) || len(hdr) != 3 {
		t.Errorf("header = %v", hdr)
	}
}

func TestVerifyKeySetRefuses(t *testing.T) {
	valid := signedTestKeySet(t)
	rootKid := KeyID(rootKey.pub)
	hdr := `{"alg":"EdDSA","typ":"` + KeySetType + `","kid":"` + rootKid + `"}`
	payload := func(keys ...JWK) string {
		raw, err := json.Marshal(KeySetClaims{Issuer: testIssuer, IssuedAt: t0.Unix(), Keys: keys})
		mustNil(t, err)
		return string(raw)
	}
	smallJWK := func(pub ed25519.PublicKey) JWK {
		return JWK{Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(pub), Kid: "small", Alg: "EdDSA"}
	}
	parts := strings.Split(valid, ".")
	cases := []struct {
		name string
		jws  string
		want error
	}{
		{"signed by another root", func() string {
			jws, err := SignKeySet(otherRoot.priv, testIssuer, testKeySet(), t0)
			mustNil(t, err)
			return jws
		}(), ErrUntrustedKeySet},
		{"signed by another root, naming the pinned root's kid", compactJWS(otherRoot.priv, hdr, payload(keyA.jwk())), ErrUntrustedKeySet},
		{"tampered payload (an attacker's key added)", parts[0] + "." +
			base64.RawURLEncoding.EncodeToString([]byte(payload(keyA.jwk(), keyB.jwk(), otherRoot.jwk()))) + "." + parts[2], ErrUntrustedKeySet},
		{"tampered signature", func() string {
			sig, err := DecodeSegment(parts[2])
			mustNil(t, err)
			sig[5] ^= 1
			return withSignature(valid, base64.RawURLEncoding.EncodeToString(sig))
		}(), ErrUntrustedKeySet},
		{"signature with other unused trailing bits", withSignature(valid, otherTrailingBits(t, parts[2])), ErrUntrustedKeySet},
		{"newline in the signature", withSignature(valid, parts[2][:10]+"\n"+parts[2][10:]), ErrUntrustedKeySet},
		{"padded signature", valid + "==", ErrUntrustedKeySet},
		{"standard base64 alphabet", withSignature(valid, strings.NewReplacer("-", "+", "_", "/").Replace(parts[2])+"+/"), ErrUntrustedKeySet},
		{"crit header", compactJWS(rootKey.priv, `{"alg":"EdDSA","crit":["x-trust"],"kid":"`+rootKid+`","typ":"`+KeySetType+`","x-trust":1}`, payload(keyA.jwk())), ErrUntrustedKeySet},
		{"crit null", compactJWS(rootKey.priv, `{"alg":"EdDSA","crit":null,"kid":"`+rootKid+`","typ":"`+KeySetType+`"}`, payload(keyA.jwk())), ErrUntrustedKeySet},
		{"alg none", compactJWS(rootKey.priv, `{"alg":"none","kid":"`+rootKid+`","typ":"`+KeySetType+`"}`, payload(keyA.jwk())), ErrUntrustedKeySet},
		{"typ JWT", compactJWS(rootKey.priv, `{"alg":"EdDSA","kid":"`+rootKid+`","typ":"JWT"}`, payload(keyA.jwk())), ErrUntrustedKeySet},
		{"no kid", compactJWS(rootKey.priv, `{"alg":"EdDSA","typ":"`+KeySetType+`"}`, payload(keyA.jwk())), ErrUntrustedKeySet},
		{"payload not JSON (signed)", compactJWS(rootKey.priv, hdr, `{"keys":`), ErrUntrustedKeySet},
		{"identity key inside a signed set", compactJWS(rootKey.priv, hdr, payload(keyA.jwk(), smallJWK(identityKey))), ErrInvalidKeySet},
		{"all-zero key inside a signed set", compactJWS(rootKey.priv, hdr, payload(smallJWK(zeroKey))), ErrInvalidKeySet},
		{"empty signed set", compactJWS(rootKey.priv, hdr, payload()), ErrInvalidKeySet},
		{"two segments", parts[0] + "." + parts[1], ErrUntrustedKeySet},
		{"four segments", valid + "." + parts[2], ErrUntrustedKeySet},
		{"empty", "", ErrUntrustedKeySet},
		{"oversized", compactJWS(rootKey.priv, hdr, payload(keyA.jwk())+strings.Repeat(" ", MaxJWKSSize)), ErrUntrustedKeySet},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			set, _, err := VerifyKeySet(tc.jws, rootKey.pub)
			if !errors.Is(err, tc.want) {
				t.Fatalf("VerifyKeySet = %+v, %v; want %v", set, err, tc.want)
			}
			t.Logf("refused: %v", err)
			if len(set.Keys) != 0 {
				t.Errorf("keys returned with the refusal: %+v", set.Keys)
			}
		})
	}
	// The key-set check is what stops the small-order key: its forged
	// signature does verify.
	if !ed25519.Verify(identityKey, []byte("any message at all"), forgedSmallOrderSig()) {
		t.Error("the identity key does not verify the forged signature; the small-order cases test nothing")
	}
}

func TestDPoPProofRoundTrip(t *testing.T) {
	proof, err := NewDPoPProof(holder.priv, "POST", testHTU, "jti-0001", t0)
	mustNil(t, err)
	c, jkt, err := VerifyDPoPProof(proof, "POST", testHTU, t0, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if jkt != JWKThumbprint(holder.pub) {
		t.Errorf("jkt = %q, want the holder's %q", jkt, JWKThumbprint(holder.pub))
	}
	if c != (DPoPClaims{JTI: "jti-0001", HTM: "POST", HTU: testHTU, IAT: t0.Unix()}) {
		t.Errorf("claims = %+v", c)
	}
	// The header carries the public key alone: no private part, nothing
	// that names the key.
	h, _, _ := strings.Cut(proof, ".")
	raw, err := DecodeSegment(h)
	mustNil(t, err)
	var hdr struct {
		Alg string            `json:"alg"`
		Typ string            `json:"typ"`
		JWK map[string]string `json:"jwk"`
	}
	mustNil(t, json.Unmarshal(raw, &hdr))
	x := base64.RawURLEncoding.EncodeToString(holder.pub)
	if hdr.Alg != "EdDSA" || hdr.Typ != DPoPType || hdr.JWK["kty"] != "OKP" || hdr.JWK["crv"] != "Ed25519" || hdr.JWK["x"] != x ||
		hdr.JWK["d"] != "" || hdr.JWK["kid"] != "" {
		t.Errorf("header = %s", raw)
	}
	// The skew is inclusive both ways.
	for _, now := range []time.Time{t0.Add(time.Minute), t0.Add(-time.Minute)} {
		if _, _, err := VerifyDPoPProof(proof, "POST", testHTU, now, time.Minute); err != nil {
			t.Errorf("proof at the edge of the skew (now %s): %v", now.Sub(t0), err)
		}
	}
}

func TestVerifyDPoPProofRefuses(t *testing.T) {
	proof, err := NewDPoPProof(holder.priv, "POST", testHTU, "jti-0001", t0)
	mustNil(t, err)
	parts := strings.Split(proof, ".")
	jwkJSON := func(pub ed25519.PublicKey) string {
		return `{"kty":"OKP","crv":"Ed25519","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}`
	}
	claims := func(jti string) string {
		raw, err := json.Marshal(DPoPClaims{JTI: jti, HTM: "POST", HTU: testHTU, IAT: t0.Unix()})
		mustNil(t, err)
		return string(raw)
	}
	header := func(typ, jwk string) string { return `{"alg":"EdDSA","typ":"` + typ + `","jwk":` + jwk + `}` }
	type call struct {
		htm, htu string
		now      time.Time
	}
	ok := call{"POST", testHTU, t0}
	cases := []struct {
		name  string
		proof string
		call  call
	}{
		{"wrong htm", proof, call{"GET", testHTU, t0}},
		{"wrong htu", proof, call{"POST", "https://authority.test/oauth/device", t0}},
		{"htu with a query", proof, call{"POST", testHTU + "?x=1", t0}},
		{"iat too old", proof, call{"POST", testHTU, t0.Add(time.Minute + time.Second)}},
		{"iat in the future", proof, call{"POST", testHTU, t0.Add(-time.Minute - time.Second)}},
		{"tampered payload", parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(claims("jti-9999"))) + "." + parts[2], ok},
		{"tampered signature", func() string {
			sig, err := DecodeSegment(parts[2])
			mustNil(t, err)
			sig[0] ^= 1
			return withSignature(proof, base64.RawURLEncoding.EncodeToString(sig))
		}(), ok},
		{"signature with other unused trailing bits", withSignature(proof, otherTrailingBits(t, parts[2])), ok},
		{"signed by another key than its jwk", compactJWS(keyA.priv, header(DPoPType, jwkJSON(holder.pub)), claims("jti-1")), ok},
		{"small-order jwk (identity) with a forged signature", func() string {
			in := base64.RawURLEncoding.EncodeToString([]byte(header(DPoPType, jwkJSON(identityKey)))) + "." +
				base64.RawURLEncoding.EncodeToString([]byte(claims("jti-1")))
			return in + "." + base64.RawURLEncoding.EncodeToString(forgedSmallOrderSig())
		}(), ok},
		{"small-order jwk (all zero)", compactJWS(holder.priv, header(DPoPType, jwkJSON(zeroKey)), claims("jti-1")), ok},
		{"typ JWT", compactJWS(holder.priv, header("JWT", jwkJSON(holder.pub)), claims("jti-1")), ok},
		{"typ missing", compactJWS(holder.priv, `{"alg":"EdDSA","jwk":`+jwkJSON(holder.pub)+`}`, claims("jti-1")), ok},
		{"no jwk", compactJWS(holder.priv, `{"alg":"EdDSA","typ":"dpop+jwt"}`, claims("jti-1")), ok},
		{"jwk of another curve", compactJWS(holder.priv, header(DPoPType, `{"kty":"OKP","crv":"X25519","x":"`+base64.RawURLEncoding.EncodeToString(holder.pub)+`"}`), claims("jti-1")), ok},
		{"jwk x not strict base64url", compactJWS(holder.priv, header(DPoPType, `{"kty":"OKP","crv":"Ed25519","x":"`+otherTrailingBits(t, base64.RawURLEncoding.EncodeToString(holder.pub))+`"}`), claims("jti-1")), ok},
		{"alg HS256", compactJWS(holder.priv, `{"alg":"HS256","typ":"dpop+jwt","jwk":`+jwkJSON(holder.pub)+`}`, claims("jti-1")), ok},
		{"crit header", compactJWS(holder.priv, `{"alg":"EdDSA","crit":["x"],"typ":"dpop+jwt","jwk":`+jwkJSON(holder.pub)+`,"x":1}`, claims("jti-1")), ok},
		{"no jti", compactJWS(holder.priv, header(DPoPType, jwkJSON(holder.pub)), claims("")), ok},
		{"jti of 129 bytes", compactJWS(holder.priv, header(DPoPType, jwkJSON(holder.pub)), claims(strings.Repeat("j", 129))), ok},
		{"oversized", compactJWS(holder.priv, header(DPoPType, jwkJSON(holder.pub)), claims(strings.Repeat("j", 4<<10))), ok},
		{"not a JWS", "dpop", ok},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, jkt, err := VerifyDPoPProof(tc.proof, tc.call.htm, tc.call.htu, tc.call.now, time.Minute)
			if !errors.Is(err, ErrBadDPoP) {
				t.Fatalf("VerifyDPoPProof = %+v, %q, %v; want %v", c, jkt, err, ErrBadDPoP)
			}
			t.Logf("refused: %v", err)
			if jkt != "" {
				t.Errorf("a thumbprint came with the refusal: %q", jkt)
			}
		})
	}
	// The forged case is refused for the key, not by luck.
	if !ed25519.Verify(identityKey, []byte("x"), forgedSmallOrderSig()) {
		t.Error("the forged signature does not verify under the identity key")
	}
}

func TestJWKThumbprint(t *testing.T) {
	// RFC 8037 Appendix A.1 and A.3: the Ed25519 key and its RFC 7638
	// thumbprint.
	seed, err := base64.RawURLEncoding.DecodeString("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
	mustNil(t, err)
	pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	if x := base64.RawURLEncoding.EncodeToString(pub); x != "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo" {
		t.Fatalf("RFC 8037 A.1 key: x = %s", x)
	}
	const rfc = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
	if got := JWKThumbprint(pub); got != rfc {
		t.Errorf("JWKThumbprint(RFC 8037 key) = %s, want %s", got, rfc)
	}
	// Independently (RFC 7638 §3): the required members in lexicographic
	// order, no white space, SHA-256, base64url.
	for _, k := range []ed25519.PublicKey{pub, keyA.pub, holder.pub} {
		members, err := json.Marshal(map[string]string{"x": base64.RawURLEncoding.EncodeToString(k), "kty": "OKP", "crv": "Ed25519"})
		mustNil(t, err)
		sum := sha256.Sum256(members)
		if want, got := base64.RawURLEncoding.EncodeToString(sum[:]), JWKThumbprint(k); got != want {
			t.Errorf("JWKThumbprint = %s, want %s (over %s)", got, want, members)
		}
	}
	if hex.EncodeToString(mustDecode(t, rfc)) != "90facafea9b1556698540f70c0117a22ea37bd5cf3ed3c47093c1707282b4b89" {
		t.Error("RFC 8037 A.3 hash differs")
	}
	if JWKThumbprint(keyA.pub) == JWKThumbprint(keyB.pub) {
		t.Error("two keys share a thumbprint")
	}
}

func mustDecode(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := DecodeSegment(s)
	mustNil(tb, err)
	return b
}

func TestSignedAnswer(t *testing.T) {
	type answer struct {
		method, path, nonce, jkt string
		status                   int
		signedAt                 int64
		body                     []byte
	}
	base := answer{"POST", "/oauth/token", "nonce-0001", JWKThumbprint(holder.pub), 200, t0.Unix(), []byte(`{"access_token":"x"}`)}
	sig := SignAnswer(keyA.priv, base.method, base.path, base.nonce, base.jkt, base.status, base.signedAt, base.body)
	check := func(pub ed25519.PublicKey, sig string, a answer) error {
		return CheckAnswerSignature(pub, sig, a.method, a.path, a.nonce, a.jkt, a.status, a.signedAt, a.body)
	}
	if err := check(keyA.pub, sig, base); err != nil {
		t.Fatalf("round trip: %v", err)
	}
	changed := map[string]func(a *answer){
		"method":    func(a *answer) { a.method = "GET" },
		"path":      func(a *answer) { a.path = "/oauth/device" },
		"nonce":     func(a *answer) { a.nonce = "nonce-0002" },
		"no nonce":  func(a *answer) { a.nonce = "" },
		"jkt":       func(a *answer) { a.jkt = JWKThumbprint(keyB.pub) },
		"status":    func(a *answer) { a.status = 400 },
		"signed at": func(a *answer) { a.signedAt++ },
		"body":      func(a *answer) { a.body = []byte(`{"access_token":"y"}`) },
		"no body":   func(a *answer) { a.body = nil },
	}
	for name, fn := range changed {
		a := base
		a.body = bytes.Clone(base.body)
		fn(&a)
		if err := check(keyA.pub, sig, a); !errors.Is(err, ErrUnsignedAnswer) {
			t.Errorf("%s changed: %v, want %v", name, err, ErrUnsignedAnswer)
		}
	}
	for name, s := range map[string]string{
		"another key's signature": SignAnswer(keyB.priv, base.method, base.path, base.nonce, base.jkt, base.status, base.signedAt, base.body),
		"other trailing bits":     otherTrailingBits(t, sig),
		"padded":                  sig + "==",
		"newline inside":          sig[:20] + "\n" + sig[20:],
		"truncated":               sig[:len(sig)-2],
		"empty":                   "",
	} {
		if err := check(keyA.pub, s, base); !errors.Is(err, ErrUnsignedAnswer) {
			t.Errorf("signature %s: %v, want %v", name, err, ErrUnsignedAnswer)
		}
	}
}

func TestFingerprint(t *testing.T) {
	shape := regexp.MustCompile(`^[0-9A-F]{4}( [0-9A-F]{4}){7}$`)
	for _, k := range []ed25519.PublicKey{rootKey.pub, otherRoot.pub} {
		fp := Fingerprint(k)
		if !shape.MatchString(fp) {
			t.Errorf("Fingerprint = %q, want 8 groups of 4 upper-case hex digits", fp)
		}
		sum := sha256.Sum256(k)
		if want := strings.ToUpper(hex.EncodeToString(sum[:16])); strings.ReplaceAll(fp, " ", "") != want {
			t.Errorf("Fingerprint = %q, want the first 16 bytes of SHA-256 %s", fp, want)
		}
	}
	if Fingerprint(rootKey.pub) == Fingerprint(otherRoot.pub) {
		t.Error("two roots share a fingerprint")
	}
}

// offCurve is a 32-byte encoding that is no point of the curve.
func offCurve(tb testing.TB) ed25519.PublicKey {
	tb.Helper()
	for y := byte(2); y < 255; y++ {
		enc := make([]byte, 32)
		enc[0] = y
		if _, err := new(edwards25519.Point).SetBytes(enc); err != nil {
			return enc
		}
	}
	tb.Fatal("no off-curve encoding found")
	return nil
}

func TestRootKeyRoundTrip(t *testing.T) {
	enc := EncodeRootKey(rootKey.pub)
	if !regexp.MustCompile(`^ed25519:[A-Za-z0-9_-]{43}$`).MatchString(enc) {
		t.Fatalf("EncodeRootKey = %q", enc)
	}
	x := strings.TrimPrefix(enc, "ed25519:")
	for _, s := range []string{enc, x, "  " + enc + "\n", "\t" + x + " "} {
		pub, err := ParseRootKey(s)
		if err != nil || !pub.Equal(rootKey.pub) {
			t.Errorf("ParseRootKey(%q) = %x, %v", s, pub, err)
		}
	}
	for name, s := range map[string]string{
		"empty":               "",
		"prefix only":         "ed25519:",
		"other algorithm":     "ed448:" + x,
		"prefix twice":        "ed25519:" + enc,
		"one character short": enc[:len(enc)-1],
		"one character more":  enc + "A",
		"other trailing bits": otherTrailingBits(t, enc),
		"padded":              enc + "=",
		"newline inside":      enc[:20] + "\n" + enc[20:],
		"standard alphabet":   "ed25519:" + base64.RawStdEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32)),
		"identity point":      EncodeRootKey(identityKey),
		"all-zero point":      EncodeRootKey(zeroKey),
		"off the curve":       EncodeRootKey(offCurve(t)),
		"a private key":       "ed25519:" + base64.RawURLEncoding.EncodeToString(rootKey.priv),
	} {
		if pub, err := ParseRootKey(s); !errors.Is(err, ErrBadRootKey) || pub != nil {
			t.Errorf("%s: ParseRootKey(%q) = %x, %v; want %v", name, s, pub, err, ErrBadRootKey)
		}
	}
}

func TestSmallOrder(t *testing.T) {
	for name, k := range map[string]ed25519.PublicKey{
		"identity": identityKey, "all zero": zeroKey, "off the curve": offCurve(t),
		"short": rootKey.pub[:31], "empty": nil,
		// (0, -1), of order 2.
		"order 2": append(ed25519.PublicKey{0xec}, append(bytes.Repeat([]byte{0xff}, 30), 0x7f)...),
	} {
		if !SmallOrder(k) {
			t.Errorf("SmallOrder(%s %x) = false", name, []byte(k))
		}
	}
	for _, k := range []testKey{keyA, keyB, rootKey, holder} {
		if SmallOrder(k.pub) {
			t.Errorf("SmallOrder(%x) = true for a real key", []byte(k.pub))
		}
	}
}

func TestDecodeSegment(t *testing.T) {
	cases := []struct {
		in   string
		want string // hex; "error" for a refusal
	}{
		{"", ""},
		{"AQ", "01"},
		{"AQI", "0102"},
		{"AQID", "010203"},
		{"-w", "fb"},
		{"__8", "ffff"},
		{"AR", "error"},   // unused bits set: the same byte as "AQ"
		{"AQJ", "error"},  // likewise "AQI"
		{"AQ=", "error"},  // padding
		{"AQ==", "error"}, // padding
		{"A", "error"},    // no whole byte
		{"AQIDB", "error"},
		{"A\nQ", "error"},
		{"A\rQ", "error"},
		{"A Q", "error"},
		{" AQ", "error"},
		{"AQ\t", "error"},
		{"+w", "error"}, // standard alphabet
		{"/w", "error"},
		{"A.Q", "error"},
		{"AQ\x00", "error"},
		{"AQé", "error"},
	}
	for _, tc := range cases {
		got, err := DecodeSegment(tc.in)
		switch {
		case tc.want == "error" && err == nil:
			t.Errorf("DecodeSegment(%q) = %x, want a refusal", tc.in, got)
		case tc.want != "error" && (err != nil || hex.EncodeToString(got) != tc.want):
			t.Errorf("DecodeSegment(%q) = %x, %v; want %s", tc.in, got, err, tc.want)
		}
		if err == nil && base64.RawURLEncoding.EncodeToString(got) != tc.in {
			t.Errorf("DecodeSegment(%q) accepted a spelling other than the canonical %q", tc.in, base64.RawURLEncoding.EncodeToString(got))
		}
	}
}

// canonicalJWS splits a compact JWS whose three segments are canonical
// base64url and returns the signing input, decoded header and signature.
func canonicalJWS(t *testing.T, jws string) (input, header, payload, sig []byte) {
	t.Helper()
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		t.Fatalf("accepted %q: not three segments", jws)
	}
	dec := make([][]byte, 3)
	for i, p := range parts {
		b, err := base64.RawURLEncoding.Strict().DecodeString(p)
		if err != nil || base64.RawURLEncoding.EncodeToString(b) != p {
			t.Fatalf("accepted %q: segment %d is not canonical base64url", jws, i)
		}
		dec[i] = b
	}
	return []byte(parts[0] + "." + parts[1]), dec[0], dec[1], dec[2]
}

// FuzzVerifyKeySet: no panic; refusals are ErrUntrustedKeySet or
// ErrInvalidKeySet; an accepted set is canonical, validly signed by the
// pinned root and holds only usable Ed25519 keys.
func FuzzVerifyKeySet(f *testing.F) {
	valid, err := SignKeySet(rootKey.priv, testIssuer, testKeySet(), t0)
	mustNil(f, err)
	other, err := SignKeySet(otherRoot.priv, testIssuer, testKeySet(), t0)
	mustNil(f, err)
	hdr := `{"alg":"EdDSA","typ":"` + KeySetType + `","kid":"` + KeyID(rootKey.pub) + `"}`
	for _, s := range []string{
		valid, other, valid + "=", withSignature(valid, otherTrailingBits(f, signatureOf(valid))),
		compactJWS(rootKey.priv, hdr, `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","kid":"s"}]}`),
		compactJWS(rootKey.priv, hdr, `null`),
		compactJWS(rootKey.priv, `{"alg":"EdDSA","crit":["b64"],"b64":false}`, `{}`),
		"", ".", "..", "a.b.c",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, jws string) {
		set, claims, err := VerifyKeySet(jws, rootKey.pub)
		if err != nil {
			if !errors.Is(err, ErrUntrustedKeySet) && !errors.Is(err, ErrInvalidKeySet) {
				t.Fatalf("refusal is neither %v nor %v: %v", ErrUntrustedKeySet, ErrInvalidKeySet, err)
			}
			return
		}
		input, header, _, sig := canonicalJWS(t, jws)
		if !ed25519.Verify(rootKey.pub, input, sig) {
			t.Fatalf("accepted %q without the root's signature", jws)
		}
		var h map[string]json.RawMessage
		if json.Unmarshal(header, &h) != nil || string(h["alg"]) != `"EdDSA"` || h["crit"] != nil {
			t.Fatalf("accepted header %s", header)
		}
		if len(set.Keys) == 0 || len(set.Keys) != len(claims.Keys) {
			t.Fatalf("accepted %d keys (claims %d)", len(set.Keys), len(claims.Keys))
		}
		for _, k := range set.Keys {
			x, err := DecodeSegment(k.X)
			if err != nil || SmallOrder(x) {
				t.Fatalf("accepted an unusable key %+v", k)
			}
		}
	})
}

// FuzzVerifyDPoPProof: no panic; refusals are ErrBadDPoP; an accepted
// proof is canonical, signed by the key of its jwk (a usable one), for
// this request and time, and the thumbprint is that key's.
func FuzzVerifyDPoPProof(f *testing.F) {
	valid, err := NewDPoPProof(holder.priv, "POST", testHTU, "jti-1", t0)
	mustNil(f, err)
	jwk := `{"kty":"OKP","crv":"Ed25519","x":"` + base64.RawURLEncoding.EncodeToString(holder.pub) + `"}`
	for _, s := range []string{
		valid, valid + "=", withSignature(valid, otherTrailingBits(f, signatureOf(valid))),
		compactJWS(holder.priv, `{"alg":"EdDSA","typ":"dpop+jwt","jwk":`+jwk+`}`, `{"jti":"j","htm":"POST","htu":"`+testHTU+`","iat":`+"1740830400"+`}`),
		compactJWS(holder.priv, `{"alg":"EdDSA","typ":"dpop+jwt","jwk":{"kty":"OKP","crv":"Ed25519","x":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}}`, `{}`),
		compactJWS(holder.priv, `{"alg":"EdDSA","typ":"dpop+jwt","crit":["x"],"jwk":`+jwk+`}`, `{}`),
		"", "..", "a.b.c",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, proof string) {
		c, jkt, err := VerifyDPoPProof(proof, "POST", testHTU, t0, time.Minute)
		if err != nil {
			if !errors.Is(err, ErrBadDPoP) || jkt != "" {
				t.Fatalf("refusal = %q, %v; want %v and no thumbprint", jkt, err, ErrBadDPoP)
			}
			return
		}
		input, header, _, sig := canonicalJWS(t, proof)
		var h struct {
			Alg  string          `json:"alg"`
			Typ  string          `json:"typ"`
			JWK  *JWK            `json:"jwk"`
			Crit json.RawMessage `json:"crit"`
		}
		if json.Unmarshal(header, &h) != nil || h.JWK == nil || h.Alg != "EdDSA" || h.Typ != DPoPType || h.Crit != nil {
			t.Fatalf("accepted header %s", header)
		}
		pub, err := DecodeSegment(h.JWK.X)
		if err != nil || SmallOrder(pub) || !ed25519.Verify(pub, input, sig) {
			t.Fatalf("accepted %q without a valid signature by a usable jwk", proof)
		}
		if jkt != JWKThumbprint(pub) || c.HTM != "POST" || c.HTU != testHTU || c.JTI == "" || c.IAT < t0.Unix()-60 || c.IAT > t0.Unix()+60 {
			t.Fatalf("accepted claims %+v, jkt %q", c, jkt)
		}
	})
}
