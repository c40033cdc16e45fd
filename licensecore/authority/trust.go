package authority

// The authority's side of the trust contract (licensecore/wire/trust.go):
// DPoP proofs (RFC 9449) on the API endpoints, a replay cache of their jti,
// and signed answers.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"licensedesk/licensecore/wire"
)

const (
	// dpopSkew is how far a proof's iat may be from the authority's clock,
	// either way; a jti is remembered for as long.
	dpopSkew = 5 * time.Minute
	// The replay cache's bounds: in all, and per key. At the default poll
	// interval of 5 s the bound in all holds the proofs of some 15,000
	// devices polling at once, in about 50 MB.
	maxReplayEntries = 1_500_000
	maxReplayPerKey  = 2000
	// replaySlot is the granularity of forgetting: entries are kept in
	// slots by the minute they may be forgotten, so forgetting drops whole
	// slots and never walks the entries one by one.
	replaySlot = time.Minute
)

// replayCache remembers the ids (the jti of a DPoP proof, the signature of
// a pool envelope) seen per key until they could no longer be accepted
// anyway, then at most a slot longer. It is bounded: when full, new ids
// are refused (the authority is then under a flood) rather than old ones
// forgotten. Entries are 16-byte hashes of key and id, so a million of
// them fit in tens of megabytes.
//
// Every request with a proof passes through it, so it is split in shards
// by key, each with its own lock: with one lock, thousands of requests a
// second queued behind whichever of them the OS had descheduled while
// holding it. A key's entries and its count all live in one shard; only
// the bound in all is shared, as a counter.
type replayCache struct {
	shards [replayShards]replayShard
	n      atomic.Int64
	max    int64
	keyMax int
}

// replayShards is the number of shards: enough that two cores rarely
// want the same one.
const replayShards = 16

type replayShard struct {
	mu     sync.Mutex
	slots  map[int64]*replaySlotSet // by the end of the slot, in Unix minutes
	perKey map[[8]byte]int
}

type replaySlotSet struct {
	seen map[[16]byte]struct{}
	keys map[[8]byte]int // entries of each key in this slot
}

func newReplayCache(max, perKey int) *replayCache {
	c := &replayCache{max: int64(max), keyMax: perKey}
	for i := range c.shards {
		c.shards[i] = replayShard{slots: make(map[int64]*replaySlotSet), perKey: make(map[[8]byte]int)}
	}
	return c
}

// add records id for key until until; an id seen before is errReplayed,
// and a full cache errReplayFull.
func (c *replayCache) add(key, id string, until, now time.Time) error {
	h := sha256.Sum256([]byte(key + "\x00" + id))
	kh := sha256.Sum256([]byte(key))
	var entry [16]byte
	var k [8]byte
	copy(entry[:], h[:])
	copy(k[:], kh[:])
	sh := &c.shards[int(kh[8])%replayShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	c.pruneLocked(sh, now)
	for _, slot := range sh.slots {
		if _, seen := slot.seen[entry]; seen {
			return errReplayed
		}
	}
	if sh.perKey[k] >= c.keyMax {
		return errReplayFull
	}
	if c.n.Add(1) > c.max {
		c.n.Add(-1)
		return errReplayFull
	}
	end := (until.UnixNano() + int64(replaySlot) - 1) / int64(replaySlot)
	slot := sh.slots[end]
	if slot == nil {
		slot = &replaySlotSet{seen: make(map[[16]byte]struct{}), keys: make(map[[8]byte]int)}
		sh.slots[end] = slot
	}
	slot.seen[entry] = struct{}{}
	slot.keys[k]++
	sh.perKey[k]++
	return nil
}

func (c *replayCache) prune(now time.Time) {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		c.pruneLocked(sh, now)
		sh.mu.Unlock()
	}
}

// pruneLocked drops the slots of sh that have ended.
func (c *replayCache) pruneLocked(sh *replayShard, now time.Time) {
	for end, slot := range sh.slots {
		if now.UnixNano() < end*int64(replaySlot) {
			continue
		}
		for k, n := range slot.keys {
			if sh.perKey[k] -= n; sh.perKey[k] <= 0 {
				delete(sh.perKey, k)
			}
		}
		c.n.Add(-int64(len(slot.seen)))
		delete(sh.slots, end)
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
