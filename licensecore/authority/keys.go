package authority

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/golang-jwt/jwt/v5"

	"licensedesk/licensecore/wire"
)

// keyRing holds the signing keys: exactly one active key, and the rotated-out
// keys that stay published until the tokens and license files they signed
// have expired.
type keyRing struct {
	mu     sync.RWMutex
	active signingKey
	all    []keyRecord // every key, the retired ones too (verify asks for them)

	// The root-signed key set, re-signed only when the published keys
	// change (a rotation, a retirement).
	signedMu   sync.Mutex
	signedKids string
	signed     string
}

// retireMargin is how long a rotated-out key stays published beyond the
// longest life of what it signed: registers refresh their key set now and
// then, not at every moment.
const retireMargin = 24 * time.Hour

type signingKey struct {
	kid  string
	priv ed25519.PrivateKey
}

// loadKeys reads the keys and makes a first key if there is none.
func loadKeys(db *badger.DB, now time.Time) (*keyRing, error) {
	ring := &keyRing{}
	err := db.Update(func(txn *badger.Txn) error {
		var keys []keyRecord
		if err := scanJSON(txn, pKey, func(k *keyRecord) error { keys = append(keys, *k); return nil }); err != nil {
			return err
		}
		if !hasActive(keys) {
			k, err := newKeyRecord(now)
			if err != nil {
				return err
			}
			if err := setJSON(txn, pKey+k.Kid, k, 0); err != nil {
				return err
			}
			keys = append(keys, k)
		}
		ring.set(keys)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("authority: load signing keys: %w", err)
	}
	return ring, nil
}

func hasActive(keys []keyRecord) bool {
	for _, k := range keys {
		if k.RetireAt.IsZero() {
			return true
		}
	}
	return false
}

func newKeyRecord(now time.Time) (keyRecord, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return keyRecord{}, err
	}
	return keyRecord{Kid: wire.KeyID(pub), Seed: priv.Seed(), CreatedAt: now.UTC()}, nil
}

// set installs keys; the newest key without a retirement date signs.
func (r *keyRing) set(keys []keyRecord) {
	sort.Slice(keys, func(i, j int) bool { return keys[i].CreatedAt.Before(keys[j].CreatedAt) })
	r.mu.Lock()
	defer r.mu.Unlock()
	r.all = keys
	for _, k := range keys {
		if k.RetireAt.IsZero() {
			r.active = signingKey{kid: k.Kid, priv: ed25519.NewKeyFromSeed(k.Seed)}
		}
	}
}

// rotate makes a new active key and schedules every older key's retirement
// for when the last token or license file it could have signed expires,
// plus retireMargin.
func rotateKeys(db *badger.DB, ring *keyRing, now time.Time, maxLifetime time.Duration) error {
	var keys []keyRecord
	err := db.Update(func(txn *badger.Txn) error {
		keys = keys[:0]
		err := scanJSON(txn, pKey, func(k *keyRecord) error {
			if k.RetireAt.IsZero() {
				k.RetireAt = now.Add(maxLifetime + retireMargin).UTC()
				if err := setJSON(txn, pKey+k.Kid, k, 0); err != nil {
					return err
				}
			}
			keys = append(keys, *k)
			return nil
		})
		if err != nil {
			return err
		}
		k, err := newKeyRecord(now)
		if err != nil {
			return err
		}
		keys = append(keys, k)
		return setJSON(txn, pKey+k.Kid, k, 0)
	})
	if err != nil {
		return fmt.Errorf("authority: rotate key: %w", err)
	}
	ring.set(keys) // only once the new key is durable
	return nil
}

// jwks lists the keys still published at now.
func (r *keyRing) jwks(now time.Time) wire.JWKS {
	r.mu.RLock()
	defer r.mu.RUnlock()
	set := wire.JWKS{Keys: []wire.JWK{}}
	for _, k := range r.all {
		if !k.RetireAt.IsZero() && !now.Before(k.RetireAt) {
			continue
		}
		pub := ed25519.NewKeyFromSeed(k.Seed).Public().(ed25519.PublicKey)
		set.Keys = append(set.Keys, wire.PublicJWK(pub))
	}
	return set
}

// signedSet returns the published key set at now as a JWS signed by root.
func (r *keyRing) signedSet(root ed25519.PrivateKey, issuer string, now time.Time) (string, error) {
	set := r.jwks(now)
	kids := make([]string, len(set.Keys))
	for i, k := range set.Keys {
		kids[i] = k.Kid
	}
	key := strings.Join(kids, " ")
	r.signedMu.Lock()
	defer r.signedMu.Unlock()
	if r.signed != "" && r.signedKids == key {
		return r.signed, nil
	}
	jws, err := wire.SignKeySet(root, issuer, set, now)
	if err != nil {
		return "", fmt.Errorf("authority: sign the key set: %w", err)
	}
	r.signedKids, r.signed = key, jws
	return jws, nil
}

// sign signs claims with the active key and returns the token and its kid.
func (r *keyRing) sign(claims *wire.Claims) (string, string, error) {
	r.mu.RLock()
	key := r.active
	r.mu.RUnlock()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	tok.Header["kid"] = key.kid
	s, err := tok.SignedString(key.priv)
	return s, key.kid, err
}
