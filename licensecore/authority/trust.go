package authority

// The authority's side of the trust contract (licensecore/wire/trust.go):
// DPoP proofs (RFC 9449) on the API endpoints, a replay cache of their jti,
// and signed answers.

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"licensedesk/licensecore/wire"
)

const (
	// dpopSkew is how far a proof's iat may be from the authority's clock,
	// either way; a jti is remembered for as long.
	dpopSkew = 5 * time.Minute
	// The replay cache's bounds: in all, and per key.
	maxReplayEntries = 200000
	maxReplayPerKey  = 2000
)

// replayCache remembers the jti of every proof per key thumbprint until the
// proof's iat leaves the skew window, when VerifyDPoPProof refuses it
// anyway. It is bounded: when full, new proofs are refused (the authority
// is then under a flood) rather than old ones forgotten.
type replayCache struct {
	mu     sync.Mutex
	byKey  map[string]map[string]time.Time // jkt → jti → forget after
	n      int
	max    int
	perKey int
}

func newReplayCache(max, perKey int) *replayCache {
	return &replayCache{byKey: make(map[string]map[string]time.Time), max: max, perKey: perKey}
}

// add records jti for jkt until until; a jti seen before is errReplayed,
// and a full cache errReplayFull.
func (c *replayCache) add(jkt, jti string, until, now time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.byKey[jkt]
	if exp, seen := m[jti]; seen && now.Before(exp) {
		return errReplayed
	}
	if len(m) >= c.perKey || c.n >= c.max {
		c.pruneLocked(now)
		m = c.byKey[jkt]
		if len(m) >= c.perKey || c.n >= c.max {
			return errReplayFull
		}
	}
	if m == nil {
		m = make(map[string]time.Time)
		c.byKey[jkt] = m
	}
	if _, seen := m[jti]; !seen {
		c.n++
	}
	m[jti] = until
	return nil
}

func (c *replayCache) prune(now time.Time) {
	c.mu.Lock()
	c.pruneLocked(now)
	c.mu.Unlock()
}

func (c *replayCache) pruneLocked(now time.Time) {
	for jkt, m := range c.byKey {
		for jti, exp := range m {
			if !now.Before(exp) {
				delete(m, jti)
				c.n--
			}
		}
		if len(m) == 0 {
			delete(c.byKey, jkt)
		}
	}
}

// proofKey is the context key of the request's verified DPoP thumbprint.
type proofKey struct{}

// proofOf is the thumbprint (jkt) of the key that signed the request's
// DPoP proof, or "" when it sent none. Handlers behind api may trust it.
func proofOf(r *http.Request) string {
	jkt, _ := r.Context().Value(proofKey{}).(string)
	return jkt
}

// checkProof verifies the request's DPoP proof, if it has one, against
// this request and the authority's clock, and records its jti.
func (s *Server) checkProof(r *http.Request) (string, *oauthError) {
	proofs := r.Header.Values(wire.HeaderDPoP)
	switch len(proofs) {
	case 0:
		return "", nil
	case 1:
	default:
		return "", badRequest(wire.CodeInvalidDPoPProof, "send one DPoP proof, not several")
	}
	now := s.now()
	claims, jkt, err := wire.VerifyDPoPProof(proofs[0], r.Method, s.opts.Issuer+r.URL.Path, now, dpopSkew)
	if err != nil {
		return "", badRequest(wire.CodeInvalidDPoPProof, err.Error())
	}
	switch err := s.proofs.add(jkt, claims.JTI, time.Unix(claims.IAT, 0).Add(dpopSkew), now); {
	case errors.Is(err, errReplayed):
		return "", badRequest(wire.CodeInvalidDPoPProof, "this DPoP proof was used before; make a new proof for every request")
	case err != nil:
		return "", oerr(http.StatusServiceUnavailable, wire.CodeTemporarilyDown, "too many requests; try again in a few minutes")
	}
	return jkt, nil
}

// keyMismatch refuses a request whose DPoP key is missing or not the one
// its credential is bound to.
func keyMismatch(code wire.ErrorCode, desc string) *oauthError {
	return withReason(code, wire.ReasonKeyMismatch, desc)
}

// api wraps an endpoint of the installations' API: it verifies the DPoP
// proof when there is one (whether the endpoint requires it is the
// handler's decision, through proofOf) and signs the answer, errors
// included.
func (s *Server) api(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &signingWriter{w: w}
		jkt, e := s.checkProof(r)
		if e != nil {
			writeOAuthError(sw, e)
		} else {
			h(sw, r.WithContext(context.WithValue(r.Context(), proofKey{}, jkt)))
		}
		s.signAnswer(sw, r, jkt)
	})
}

// signingWriter holds an answer back until it is signed.
type signingWriter struct {
	w      http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (b *signingWriter) Header() http.Header { return b.w.Header() }

func (b *signingWriter) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}

func (b *signingWriter) Write(p []byte) (int, error) {
	b.WriteHeader(http.StatusOK)
	return b.body.Write(p)
}

// signAnswer sends the held answer with its signature by the active key,
// bound to the request's method, path, nonce and DPoP key (wire.SignAnswer).
func (s *Server) signAnswer(sw *signingWriter, r *http.Request, jkt string) {
	sw.WriteHeader(http.StatusOK)
	key := s.keys.activeKey()
	at := s.now().Unix()
	body := sw.body.Bytes()
	h := sw.w.Header()
	h.Set(wire.HeaderSignature, wire.SignAnswer(key.priv, r.Method, r.URL.Path, r.Header.Get(wire.HeaderNonce), jkt, sw.status, at, body))
	h.Set(wire.HeaderKeyID, key.kid)
	h.Set(wire.HeaderSignedAt, strconv.FormatInt(at, 10))
	sw.w.WriteHeader(sw.status)
	_, _ = sw.w.Write(body)
}
