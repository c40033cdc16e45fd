package licensecore

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"

	"licensedesk/licensecore/wire"
)

// HandOff is what the agent hands its POS server and the registers: the
// license token, the key set that verifies it offline, and verification
// of a peer's token. It reads the Manager's store and trust anchor.
type HandOff struct {
	m *Manager
	// last is the token last read from the store; it answers as long as
	// the license in memory names the same token id, so the POS server's
	// polls do not read the store each time.
	last atomic.Pointer[HeldToken]
}

// NewHandOff is the hand-off of m's license.
func NewHandOff(m *Manager) *HandOff { return &HandOff{m: m} }

// HeldToken is the license token this server holds, as its POS server
// takes it to authenticate to registers and peers. It never carries the
// refresh token.
type HeldToken struct {
	Token    string
	ID       string // jti
	ServerID string
	IssuedAt time.Time
	Expiry   time.Time
}

// CurrentToken returns the stored license token with the facts of the
// license it belongs to, read together so the jti always names this token.
// ErrNotLicensed when there is none. The token may have expired: the
// caller compares Expiry with Status.
func (h *HandOff) CurrentToken() (HeldToken, error) {
	if last := h.last.Load(); last != nil {
		if lic := h.m.lic.Load(); lic != nil && lic.TokenID == last.ID && lic.TokenExpiry.Equal(last.Expiry) {
			return *last, nil
		}
	}
	tok, err := h.readToken()
	if err == nil {
		h.last.Store(&tok)
	}
	return tok, err
}

// readToken reads the token and its license from the store.
func (h *HandOff) readToken() (HeldToken, error) {
	var raw []byte
	var lic License
	err := h.m.store.view(func(txn *badger.Txn) error {
		get := func(key string) ([]byte, error) {
			item, err := txn.Get([]byte(key))
			if errors.Is(err, badger.ErrKeyNotFound) {
				return nil, ErrNotLicensed
			}
			if err != nil {
				return nil, err
			}
			return item.ValueCopy(nil)
		}
		var err error
		if raw, err = get(keyToken); err != nil {
			return err
		}
		lj, err := get(keyLicense)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(lj, &lic); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrStoreCorrupt, keyLicense, err)
		}
		return nil
	})
	if err != nil {
		return HeldToken{}, err
	}
	return HeldToken{Token: string(raw), ID: lic.TokenID, ServerID: lic.ServerID, IssuedAt: lic.TokenIssuedAt, Expiry: lic.TokenExpiry}, nil
}

// KeySet returns the authority's key set this server trusts, as the
// compact JWS signed by the pinned root and as its keys, for registers
// that verify tokens offline. ErrNotStored before the first contact with
// the authority; ErrNoRoot without a pinned root.
func (h *HandOff) KeySet() (string, wire.JWKS, error) {
	m := h.m
	root := m.Root()
	if root == nil {
		return "", wire.JWKS{}, ErrNoRoot
	}
	jws, err := m.store.KeySet()
	if err != nil {
		return "", wire.JWKS{}, err
	}
	set, claims, err := wire.VerifyKeySet(jws, root)
	if err != nil {
		return "", wire.JWKS{}, err
	}
	if iss := m.Client().Issuer(); claims.Issuer != iss {
		return "", wire.JWKS{}, fmt.Errorf("%w: the stored key set is for %q, not %q", wire.ErrUntrustedKeySet, claims.Issuer, iss)
	}
	return jws, set, nil
}

// VerifyPeerToken checks a token another server or register presented,
// offline, with the key set this server trusts and at the trusted time.
// A non-empty jkt (the thumbprint of the key whose DPoP proof came with
// the token) must be the token's holder (see Verifier.VerifyHeld).
func (h *HandOff) VerifyPeerToken(token, jkt string) (*wire.Claims, error) {
	v := h.m.ep.Load().verifier
	if jkt == "" {
		return v.Verify(token)
	}
	return v.VerifyHeld(token, jkt)
}
