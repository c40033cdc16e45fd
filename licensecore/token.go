package licensecore

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
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

// parse checks a token in an order that is both safe and cheap: shape,
// header (alg must be EdDSA, kid must be trusted), the Ed25519 signature,
// and only then the claims JSON and their validation by golang-jwt's
// Validator. It does not use jwt.Parser: decoding the header into a map and
// the claims through jwt.NumericDate (a nested json.Unmarshal per date)
// made JSON a fifth of Verify's cost. For the same reason the kid of a
// header segment that already carried a valid signature is remembered:
// every token of one key has the same header. Together this keeps Verify
// close to a bare ed25519.Verify (bench/licensecore-bench.sh).
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
		var hdr struct {
			Alg string `json:"alg"`
			Kid string `json:"kid"`
		}
		if err := decodeSegment(h64, &hdr); err != nil {
			return nil, tokenRejected(ErrMalformedToken, fmt.Errorf("header: %w", err))
		}
		if hdr.Alg != jwt.SigningMethodEdDSA.Alg() {
			return nil, tokenRejected(ErrBadAlgorithm, fmt.Errorf("alg %q", hdr.Alg))
		}
		kid = hdr.Kid
	}
	v.mu.RLock()
	key, ok := v.keys[kid]
	v.mu.RUnlock()
	if !ok {
		return nil, tokenRejected(wire.ErrUnknownKey, fmt.Errorf("kid %q", kid))
	}
	sig, err := base64.RawURLEncoding.DecodeString(s64)
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
	claims := &wire.Claims{}
	dec := claimsDecoder{Claims: claims}
	if err := decodeSegment(p64, &dec); err != nil {
		return nil, tokenRejected(ErrMalformedToken, fmt.Errorf("claims: %w", err))
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

// decodeSegment decodes one base64url JSON segment, as jwt.Parser does by
// default (unpadded, non-strict).
func decodeSegment(seg string, v any) error {
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, v)
}

// claimsDecoder decodes Claims with exp, nbf and iat shadowed by
// json.Number (what jwt.NumericDate reads them as) and converted with the
// library's rules by dates, and aud shadowed by audience; every other field
// decodes straight into Claims.
type claimsDecoder struct {
	*wire.Claims
	ExpiresAt json.Number `json:"exp"`
	NotBefore json.Number `json:"nbf"`
	IssuedAt  json.Number `json:"iat"`
	Audience  audience    `json:"aud"`
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
		dst **jwt.NumericDate
		src json.Number
	}{{&d.Claims.ExpiresAt, d.ExpiresAt}, {&d.Claims.NotBefore, d.NotBefore}, {&d.Claims.IssuedAt, d.IssuedAt}} {
		if *f.dst, err = numericDate(f.src); err != nil {
			return err
		}
	}
	return nil
}

// numericDate converts like jwt.NumericDate.UnmarshalJSON; "" is absent.
func numericDate(n json.Number) (*jwt.NumericDate, error) {
	if n == "" {
		return nil, nil
	}
	f, err := n.Float64()
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
