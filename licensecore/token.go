package licensecore

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MaxTokenSize bounds a licence token; anything larger is refused before
// parsing so an attacker cannot make us decode megabytes of JSON.
const MaxTokenSize = 16 << 10

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

// Verifier checks licence tokens offline against a pinned key set. Registers
// and peer servers use it with the JWKS cached from the authority. It is safe
// for concurrent use.
type Verifier struct {
	opts   VerifierOptions
	parser *jwt.Parser

	mu    sync.RWMutex
	keys  map[string]ed25519.PublicKey
	cache map[string]cachedToken // by token string
}

type cachedToken struct {
	claims *Claims
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
	v := &Verifier{opts: opts, keys: map[string]ed25519.PublicKey{}, cache: map[string]cachedToken{}}
	v.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
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
func (v *Verifier) SetKeySet(set JWKS) error {
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
	v.mu.Unlock()
}

// Verify checks a token's signature and claims and returns its claims. A
// token verified before is answered from the cache until it expires. The
// returned claims must not be modified.
func (v *Verifier) Verify(token string) (*Claims, error) {
	if len(token) > MaxTokenSize {
		return nil, &TokenError{Kind: ErrTokenTooLarge}
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

func (v *Verifier) parse(token string) (*Claims, error) {
	claims := &Claims{}
	tok, err := v.parser.ParseWithClaims(token, claims, v.keyFor)
	if err != nil {
		return nil, classify(tok, err)
	}
	if claims.Subject == "" || claims.ID == "" || claims.LicenseID == "" {
		return nil, &TokenError{Kind: ErrMissingClaim, Cause: errors.New("sub, jti and lid are required")}
	}
	return claims, nil
}

func (v *Verifier) keyFor(t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	v.mu.RLock()
	k, ok := v.keys[kid]
	v.mu.RUnlock()
	if !ok {
		return nil, &TokenError{Kind: ErrUnknownKey, Cause: fmt.Errorf("kid %q", kid)}
	}
	return k, nil
}

func (v *Verifier) remember(token string, c *Claims) {
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

// classify maps golang-jwt's errors to our sentinels at the boundary.
func classify(tok *jwt.Token, err error) error {
	var te *TokenError
	if errors.As(err, &te) {
		return te
	}
	kind := ErrTokenInvalid
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		kind = ErrMalformedToken
	case tok != nil && tok.Header["alg"] != jwt.SigningMethodEdDSA.Alg():
		kind = ErrBadAlgorithm
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		kind = ErrBadSignature
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
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		kind = ErrBadAlgorithm
	}
	return &TokenError{Kind: kind, Cause: err}
}
