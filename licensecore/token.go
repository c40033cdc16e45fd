package licensecore

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"licensedesk/licensecore/wire"
)

// MaxLeeway is the largest clock leeway a verifier accepts.
const MaxLeeway = time.Minute

// VerifierOptions configure a Verifier.
type VerifierOptions struct {
	Issuer   string
	Audience string
	// Leeway for exp/nbf/iat, at most MaxLeeway.
	Leeway time.Duration
	// Now is the time source; pass a TrustedClock's Now so a clock set
	// backwards cannot revive expired tokens. Defaults to time.Now.
	Now func() time.Time
	// CacheSize caps the number of verified tokens remembered (default 4096).
	CacheSize int
}

// Verifier checks license tokens offline against a pinned key set. Registers
// and peer servers use it with the JWKS cached from the authority. It is safe
// for concurrent use.
type Verifier struct {
	opts      VerifierOptions
	validator *jwt.Validator

	mu      sync.RWMutex
	keys    map[string]ed25519.PublicKey
	cache   map[string]cachedToken // by token string
	headers map[string]string      // kid by header segment, see parse
}

// maxHeaders bounds Verifier.headers: one authority signs with a handful
// of distinct headers (one per key).
const maxHeaders = 16

type cachedToken struct {
	claims *wire.Claims
	exp    time.Time
}

// NewVerifier builds a verifier; give it keys with SetKeySet or SetKeys.
func NewVerifier(opts VerifierOptions) (*Verifier, error) {
	if opts.Issuer == "" || opts.Audience == "" {
		return nil, errors.New("verifier needs an issuer and an audience")
	}
	if opts.Leeway < 0 || opts.Leeway > MaxLeeway {
		return nil, fmt.Errorf("verifier leeway %s is outside 0..%s", opts.Leeway, MaxLeeway)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.CacheSize <= 0 {
		opts.CacheSize = 4096
	}
	v := &Verifier{opts: opts, keys: map[string]ed25519.PublicKey{}, cache: map[string]cachedToken{}, headers: map[string]string{}}
	// The alg check (jwt.WithValidMethods) is done by parse itself, which
	// only ever checks Ed25519 signatures.
	v.validator = jwt.NewValidator(
		jwt.WithIssuer(opts.Issuer),
		jwt.WithAudience(opts.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(opts.Leeway),
		jwt.WithTimeFunc(opts.Now),
	)
	return v, nil
}

// SetKeySet replaces the trusted keys. Tokens signed by a key that is still
// published keep verifying, so rotation by kid is seamless; the cache is
// cleared because a key that left the set must stop being trusted at once.
func (v *Verifier) SetKeySet(set wire.JWKS) error {
	keys, err := set.PublicKeys()
	if err != nil {
		return err
	}
	v.SetKeys(keys)
	return nil
}

// SetKeys replaces the trusted keys by kid.
func (v *Verifier) SetKeys(keys map[string]ed25519.PublicKey) {
	cp := make(map[string]ed25519.PublicKey, len(keys))
	for k, pub := range keys {
		cp[k] = pub
	}
	v.mu.Lock()
	v.keys = cp
	v.cache = map[string]cachedToken{}
	v.headers = map[string]string{}
	v.mu.Unlock()
}

// Verify checks a token's signature and claims and returns its claims. A
// token verified before is answered from the cache until it expires. The
// returned claims must not be modified.
func (v *Verifier) Verify(token string) (*wire.Claims, error) {
	if len(token) > wire.MaxTokenSize {
		return nil, tokenRejected(ErrTokenTooLarge, nil)
	}
	v.mu.RLock()
	c, ok := v.cache[token]
	v.mu.RUnlock()
	if ok {
		if v.opts.Now().Before(c.exp.Add(v.opts.Leeway)) {
			return c.claims, nil
		}
		v.mu.Lock()
		delete(v.cache, token)
		v.mu.Unlock()
	}
	claims, err := v.parse(token)
	if err != nil {
		return nil, err
	}
	v.remember(token, claims)
	return claims, nil
}

// VerifyHeld is Verify for a token presented by the holder of the key
// whose RFC 7638 thumbprint is jkt (wire.JWKThumbprint): the token's cnf
// must name that key. A token without cnf, or bound to another key, is
// ErrWrongHolder: whoever copied it does not hold the key.
func (v *Verifier) VerifyHeld(token, jkt string) (*wire.Claims, error) {
	claims, err := v.Verify(token)
	if err != nil {
		return nil, err
	}
	if claims.Confirmation == nil || claims.Confirmation.JKT == "" {
		return nil, tokenRejected(ErrWrongHolder, errors.New("the token names no holder key (no cnf.jkt)"))
	}
	if claims.Confirmation.JKT != jkt {
		return nil, tokenRejected(ErrWrongHolder, fmt.Errorf("held by key %q, presented by %q", claims.Confirmation.JKT, jkt))
	}
	return claims, nil
}

// parse checks a token in an order that is both safe and cheap: shape,
// header (strict, see parseHeader; alg must be EdDSA, kid must be
// trusted), the Ed25519 signature, and only then the claims JSON (strict:
// case-sensitive names, numeric dates) and their validation by golang-jwt's
// Validator. It does not use jwt.Parser: its decoding of every header into
// a map and of the claims through jwt.NumericDate (a nested json.Unmarshal
// per date) made JSON a fifth of Verify's cost. For the same reason the kid
// of a header segment that already carried a valid signature is
// remembered: every token of one key has the same header, so parseHeader
// runs once per header. Together this keeps Verify close to a bare
// ed25519.Verify (bench/licensecore-bench.sh).
func (v *Verifier) parse(token string) (*wire.Claims, error) {
	h64, rest, _ := strings.Cut(token, ".")
	p64, s64, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(s64, ".") {
		return nil, tokenRejected(ErrMalformedToken, errors.New("token does not have three segments"))
	}
	v.mu.RLock()
	kid, seen := v.headers[h64]
	v.mu.RUnlock()
	if !seen {
		var err error
		if kid, err = parseHeader(h64); err != nil {
			return nil, err
		}
	}
	v.mu.RLock()
	key, ok := v.keys[kid]
	v.mu.RUnlock()
	if !ok {
		return nil, tokenRejected(wire.ErrUnknownKey, fmt.Errorf("kid %q", kid))
	}
	sig, err := wire.DecodeSegment(s64)
	if err != nil {
		return nil, tokenRejected(ErrMalformedToken, fmt.Errorf("signature: %w", err))
	}
	if !ed25519.Verify(key, []byte(token[:len(h64)+1+len(p64)]), sig) {
		return nil, tokenRejected(ErrBadSignature, nil)
	}
	if !seen {
		v.mu.Lock()
		if len(v.headers) < maxHeaders {
			v.headers[h64] = kid
		}
		v.mu.Unlock()
	}
	payload, err := wire.DecodeSegment(p64)
	if err != nil {
		return nil, tokenRejected(ErrMalformedToken, fmt.Errorf("claims: %w", err))
	}
	claims := &wire.Claims{}
	dec := claimsDecoder{Claims: claims}
	if err := json.Unmarshal(payload, &dec); err != nil {
		return nil, tokenRejected(ErrMalformedToken, fmt.Errorf("claims: %w", err))
	}
	if err := checkClaimNames(payload); err != nil {
		return nil, tokenRejected(ErrMalformedToken, err)
	}
	if err := dec.dates(); err != nil {
		return nil, tokenRejected(ErrMalformedToken, err)
	}
	if err := v.validator.Validate(claims); err != nil {
		return nil, classify(err)
	}
	if claims.Subject == "" || claims.ID == "" || claims.LicenseID == "" {
		return nil, tokenRejected(ErrMissingClaim, errors.New("sub, jti and lid are required"))
	}
	return claims, nil
}

// decodeSegment decodes one base64url JSON segment strictly
// (wire.DecodeSegment), so a token has one spelling.
func decodeSegment(seg string, v any) error {
	raw, err := wire.DecodeSegment(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, v)
}

// parseHeader checks a token's protected header and returns its kid. The
// names are matched exactly (encoding/json would match "ALG" to a struct's
// alg). We understand no JOSE extension, so crit is refused whatever it
// lists, and so is b64 (RFC 7797), which would change what the signature
// covers.
func parseHeader(h64 string) (kid string, err error) {
	var hdr map[string]json.RawMessage
	if err := decodeSegment(h64, &hdr); err != nil {
		return "", tokenRejected(ErrMalformedToken, fmt.Errorf("header: %w", err))
	}
	for _, ext := range []string{"crit", "b64"} {
		if _, ok := hdr[ext]; ok {
			return "", tokenRejected(ErrBadAlgorithm, fmt.Errorf("header parameter %q is not supported", ext))
		}
	}
	raw, ok := hdr["alg"]
	if !ok {
		return "", tokenRejected(ErrBadAlgorithm, errors.New("the header has no alg"))
	}
	if alg := ""; json.Unmarshal(raw, &alg) != nil || alg != jwt.SigningMethodEdDSA.Alg() {
		return "", tokenRejected(ErrBadAlgorithm, fmt.Errorf("alg %.40s", raw))
	}
	if raw, ok := hdr["kid"]; ok && json.Unmarshal(raw, &kid) != nil {
		return "", tokenRejected(ErrMalformedToken, errors.New("header: kid is not a string"))
	}
	return kid, nil
}

// claimNames indexes the JSON names of wire.Claims, the claims this
// package reads.
var claimNames = jsonFieldNames(reflect.TypeFor[wire.Claims]())

// jsonFieldNames lists the JSON names of a struct's fields, with those of
// embedded structs, by index.
func jsonFieldNames(t reflect.Type) map[string]int {
	names := map[string]int{}
	var walk func(reflect.Type)
	walk = func(t reflect.Type) {
		for f := range t.Fields() {
			tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			switch {
			case tag == "-" || !f.IsExported() && !f.Anonymous:
			case f.Anonymous && tag == "" && f.Type.Kind() == reflect.Struct:
				walk(f.Type)
			default:
				if tag == "" {
					tag = f.Name
				}
				names[tag] = len(names)
			}
		}
	}
	walk(t)
	return names
}

// checkClaimNames refuses claims whose names encoding/json would read as
// one of ours without being spelled like it (it matches names
// case-insensitively, with Unicode simple folding: "EXP", "Sub", "ſub"), and
// a claim of ours given twice (the last would win): another JWT library
// reads such a token differently. payload is valid JSON (decoded before);
// only the member names of the top-level object are looked at, by a scan
// that costs far less than decoding into a map.
func checkClaimNames(payload []byte) error {
	var seen uint64 // by claimNames index
	depth, wantName := 0, false
	for i := 0; i < len(payload); i++ {
		switch payload[i] {
		case '{':
			depth++
			wantName = depth == 1
		case '[':
			depth++
		case '}', ']':
			depth--
		case ',':
			wantName = depth == 1
		case '"':
			start, escaped := i, false
			for i++; i < len(payload) && payload[i] != '"'; i++ {
				if payload[i] == '\\' {
					i++
					escaped = true
				}
			}
			if !wantName {
				continue
			}
			wantName = false
			raw := payload[start+1 : i]
			if escaped {
				var unq string
				if json.Unmarshal(payload[start:i+1], &unq) != nil {
					return errors.New("a claim name is not a JSON string")
				}
				raw = []byte(unq)
			}
			if idx, ok := claimNames[string(raw)]; ok { // no allocation
				if seen&(1<<idx) != 0 {
					return fmt.Errorf("claim %q appears twice", raw)
				}
				seen |= 1 << idx
				continue
			}
			name := string(raw)
			for known := range claimNames {
				if strings.EqualFold(name, known) {
					return fmt.Errorf("claim %q is not spelled %q (claim names are case-sensitive)", name, known)
				}
			}
		}
	}
	return nil
}

// claimsDecoder decodes Claims with exp, nbf and iat shadowed by raw JSON
// and converted with jwt.NumericDate's rules by dates (a string, even a
// numeric one, is refused), and aud shadowed by audience; every other field
// decodes straight into Claims.
type claimsDecoder struct {
	*wire.Claims
	ExpiresAt json.RawMessage `json:"exp"`
	NotBefore json.RawMessage `json:"nbf"`
	IssuedAt  json.RawMessage `json:"iat"`
	Audience  audience        `json:"aud"`
}

// audience reads aud like jwt.ClaimStrings (one string or a list of
// strings) without its detour through []any.
type audience []string

func (a *audience) UnmarshalJSON(data []byte) error {
	if len(data) > 0 && data[0] == '"' {
		var one string
		if err := json.Unmarshal(data, &one); err != nil {
			return err
		}
		*a = audience{one}
		return nil
	}
	var list []string
	if err := json.Unmarshal(data, &list); err != nil {
		return jwt.ErrInvalidType
	}
	*a = nil // an empty list reads as no audience, as in jwt.ClaimStrings
	if len(list) > 0 {
		*a = list
	}
	return nil
}

func (d *claimsDecoder) dates() error {
	d.Claims.Audience = jwt.ClaimStrings(d.Audience)
	var err error
	for _, f := range []struct {
		dst  **jwt.NumericDate
		src  json.RawMessage
		name string
	}{{&d.Claims.ExpiresAt, d.ExpiresAt, "exp"}, {&d.Claims.NotBefore, d.NotBefore, "nbf"}, {&d.Claims.IssuedAt, d.IssuedAt, "iat"}} {
		if *f.dst, err = numericDate(f.name, f.src); err != nil {
			return err
		}
	}
	return nil
}

// numericDate converts like jwt.NumericDate.UnmarshalJSON, but only a JSON
// number (RFC 7519 §2): a string or null is refused. Empty is absent.
func numericDate(name string, raw json.RawMessage) (*jwt.NumericDate, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	if c := raw[0]; c != '-' && (c < '0' || c > '9') {
		return nil, fmt.Errorf("claim %s is %.20s, not a JSON number", name, raw)
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return nil, fmt.Errorf("could not convert json number value to float: %w", err)
	}
	sec, frac := math.Modf(f)
	return jwt.NewNumericDate(time.Unix(int64(sec), int64(frac*1e9))), nil
}

func (v *Verifier) remember(token string, c *wire.Claims) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.cache) >= v.opts.CacheSize {
		// Drop expired entries first; if the cache is still full, start
		// over rather than track recency: a full cache only costs one
		// signature check per token.
		now := v.opts.Now()
		for k, e := range v.cache {
			if !now.Before(e.exp) {
				delete(v.cache, k)
			}
		}
		if len(v.cache) >= v.opts.CacheSize {
			v.cache = map[string]cachedToken{}
		}
	}
	v.cache[token] = cachedToken{claims: c, exp: c.ExpiresAt.Time}
}

// classify maps golang-jwt's claim-validation errors to our sentinels at
// the boundary.
func classify(err error) error {
	kind := ErrTokenInvalid
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		kind = ErrTokenExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		kind = ErrTokenNotYet
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		kind = ErrWrongIssuer
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		kind = ErrWrongAudience
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		kind = ErrMissingClaim
	}
	return tokenRejected(kind, err)
}
