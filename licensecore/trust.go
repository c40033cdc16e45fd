package licensecore

// The client's half of the chain of trust (wire/trust.go has the
// protocol): what it trusts and why.
//
//   - The root public key, pinned in the store at the first start from the
//     installer's configuration (Options.Root). It changes only through
//     Manager.ChangeAuthority with an administrator and an explicit re-pin.
//   - The authority's signing keys, only as a key set the root signed
//     (fetched from wire.PathSignedJWKS or carried in a license file), and
//     only for the issuer it names.
//   - Answers that change local state, only when signed by one of those
//     keys over this request's nonce and this installation's DPoP key.
//   - This installation's own key (the install key, in the OS credential
//     store where there is one), which proves possession of the refresh
//     token (DPoP) and signs pool requests.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"licensedesk/licensecore/wire"
)

// trustAnchor holds the pinned root and the keys it vouches for, shared by
// the Client (answer signatures) and the Manager (tokens).
type trustAnchor struct {
	root ed25519.PublicKey

	mu   sync.RWMutex
	keys map[string]ed25519.PublicKey // kid → key, from a root-signed set
	iat  int64                        // issue time of that set
}

// accept verifies a signed key set for issuer and, when it is not older
// than the one held, takes its keys.
func (t *trustAnchor) accept(jws, issuer string) (wire.JWKS, error) {
	set, claims, err := wire.VerifyKeySet(jws, t.root)
	if err != nil {
		return wire.JWKS{}, err
	}
	if claims.Issuer != issuer {
		return wire.JWKS{}, fmt.Errorf("%w: the key set is for %q, not %q", wire.ErrUntrustedKeySet, claims.Issuer, issuer)
	}
	keys, err := set.PublicKeys()
	if err != nil {
		return wire.JWKS{}, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if claims.IssuedAt >= t.iat {
		t.keys, t.iat = keys, claims.IssuedAt
	}
	return set, nil
}

// snapshot copies the keys the anchor vouches for.
func (t *trustAnchor) snapshot() map[string]ed25519.PublicKey {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make(map[string]ed25519.PublicKey, len(t.keys))
	for kid, k := range t.keys {
		out[kid] = k
	}
	return out
}

func (t *trustAnchor) key(kid string) (ed25519.PublicKey, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	k, ok := t.keys[kid]
	return k, ok
}

// dpopTransport adds a DPoP proof by the install key to every request.
// The proof's iat is the PC's clock corrected by the offset to the
// authority's clock that the last answer's Date header showed, so a PC
// clock that is off does not make every proof stale; when the authority
// refuses a proof and its Date shows the offset was wrong, the request is
// sent once more with a corrected proof.
type dpopTransport struct {
	key    ed25519.PrivateKey
	now    func() time.Time
	base   http.RoundTripper
	offset atomic.Int64 // authority's clock − PC's clock, in seconds
	known  atomic.Bool  // an answer has shown the offset
}

func (d *dpopTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	used := d.offset.Load()
	resp, err := d.send(req, used)
	if err != nil || (resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusUnauthorized) {
		return resp, err
	}
	if cur := d.offset.Load(); cur-used < 60 && used-cur < 60 || (req.Body != nil && req.GetBody == nil) {
		return resp, nil // the clock was not the problem, or the body cannot be sent again
	}
	body, rerr := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if rerr != nil || !bytes.Contains(body, []byte(wire.CodeInvalidDPoPProof)) {
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return resp, rerr
	}
	again := req.Clone(req.Context())
	if req.GetBody != nil {
		if again.Body, err = req.GetBody(); err != nil {
			return nil, err
		}
	}
	return d.send(again, d.offset.Load())
}

// send makes the proof with the given offset and learns the authority's
// clock from the answer.
func (d *dpopTransport) send(req *http.Request, offset int64) (*http.Response, error) {
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return nil, err
	}
	u := *req.URL
	u.RawQuery, u.Fragment = "", ""
	sent := d.now()
	proof, err := wire.NewDPoPProof(d.key, req.Method, u.String(), base64.RawURLEncoding.EncodeToString(jti), sent.Add(time.Duration(offset)*time.Second))
	if err != nil {
		return nil, err
	}
	r := req.Clone(req.Context())
	r.Header.Set(wire.HeaderDPoP, proof)
	resp, err := d.base.RoundTrip(r)
	if err == nil {
		// Read the whole answer here: a connection cut mid-body is then a
		// transport error (the authority is out of reach) for every caller,
		// x/oauth2 included, not an answer it cannot parse.
		body, rerr := io.ReadAll(io.LimitReader(resp.Body, maxTransportAnswer+1))
		resp.Body.Close()
		if rerr != nil {
			return nil, fmt.Errorf("reading the answer of %s: %w", req.URL.Path, rerr)
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		if at, ok := answerTime(resp.Header); ok {
			// Against the middle of the round trip: a slow line shifts
			// the offset by half its delay at most.
			mid := sent.Add(d.now().Sub(sent) / 2)
			d.offset.Store(int64(at.Sub(mid).Round(time.Second) / time.Second))
			d.known.Store(true)
		}
	}
	return resp, err
}

// maxTransportAnswer bounds what the transport buffers of one answer; the
// callers bound what they accept more tightly.
const maxTransportAnswer = 4 << 20

// answerTime is the authority's time of an answer: the time it signed the
// answer at when it is signed, else its Date header.
func answerTime(h http.Header) (time.Time, bool) {
	if sec, err := strconv.ParseInt(h.Get(wire.HeaderSignedAt), 10, 64); err == nil {
		return time.Unix(sec, 0), true
	}
	at, err := http.ParseTime(h.Get("Date"))
	return at, err == nil
}

// ServerOffset is how far the authority's clock is ahead of this PC's
// (negative: behind), as the last answer showed it, and whether any answer
// has shown it yet.
func (c *Client) ServerOffset() (time.Duration, bool) {
	if c.dpop == nil || !c.dpop.known.Load() {
		return 0, false
	}
	return time.Duration(c.dpop.offset.Load()) * time.Second, true
}

// newNonce is the binding of a signed answer to its request.
func newNonce() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// checkAnswer verifies a state-changing answer's signature. A key the
// anchor does not know yet is looked up in a freshly fetched signed key
// set (the authority may have rotated).
func (c *Client) checkAnswer(ctx context.Context, resp *http.Response, req *http.Request, nonce string, body []byte) error {
	if c.anchor == nil {
		return ErrNoRoot
	}
	kid := resp.Header.Get(wire.HeaderKeyID)
	signedAt, err := strconv.ParseInt(resp.Header.Get(wire.HeaderSignedAt), 10, 64)
	if kid == "" || err != nil {
		return fmt.Errorf("%w: %s answered without a signature", wire.ErrUnsignedAnswer, req.URL.Path)
	}
	pub, ok := c.anchor.key(kid)
	if !ok {
		if ferr := c.fetchKeySetRetry(ctx); ferr != nil {
			return ferr
		}
		if pub, ok = c.anchor.key(kid); !ok {
			return fmt.Errorf("%w: signed with unknown key %q", wire.ErrUnsignedAnswer, kid)
		}
	}
	err = wire.CheckAnswerSignature(pub, resp.Header.Get(wire.HeaderSignature), req.Method, req.URL.Path, nonce, c.jkt, resp.StatusCode, signedAt, body)
	if err != nil {
		return fmt.Errorf("%w: %s", err, req.URL.Path)
	}
	return nil
}

// FetchKeySet downloads the root-signed key set, verifies it against the
// pinned root and this authority's issuer, and hands it to the anchor (and
// to ClientOptions.OnKeySet, which stores it). It returns the JWS and the
// keys.
func (c *Client) FetchKeySet(ctx context.Context) (string, wire.JWKS, error) {
	if c.anchor == nil {
		return "", wire.JWKS{}, ErrNoRoot
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base.String()+wire.PathSignedJWKS, nil)
	if err != nil {
		return "", wire.JWKS{}, err
	}
	resp, body, err := c.roundTrip(req, wire.MaxJWKSSize)
	if err != nil {
		return "", wire.JWKS{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return "", wire.JWKS{}, fmt.Errorf("%w: %s answered %s", ErrAuthorityBroken, wire.PathSignedJWKS, resp.Status)
	}
	jws := string(body)
	set, err := c.anchor.accept(jws, c.Issuer())
	if err != nil {
		return "", wire.JWKS{}, err
	}
	if c.onKeySet != nil {
		c.onKeySet(jws, set)
	}
	return jws, set, nil
}

// keySetTries and keySetBackoff bound fetchKeySetRetry: a key set is
// small, so a few quick tries ride out a dropped connection without
// holding a refresh up for long.
const (
	keySetTries   = 3
	keySetBackoff = 250 * time.Millisecond
)

// fetchKeySetRetry is FetchKeySet for a kid that is not known yet: it
// tries keySetTries times with back-off (doubling, with jitter) within
// ctx, and returns the last error.
func (c *Client) fetchKeySetRetry(ctx context.Context) error {
	wait := keySetBackoff
	var err error
	for try := 1; ; try++ {
		if _, _, err = c.FetchKeySet(ctx); err == nil || try == keySetTries || ctx.Err() != nil {
			return err
		}
		c.log.Info().Err(err).Int("try", try).Msg("fetching the key set failed; retrying")
		if serr := sleepCtx(ctx, jitter(wait)); serr != nil {
			return err
		}
		wait *= 2
	}
}

// loopback reports whether host (without port) is this machine, where
// plain http cannot be intercepted on the network.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
