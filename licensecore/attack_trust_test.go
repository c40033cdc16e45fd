package licensecore

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"licensedesk/licensecore/wire"
)

// TestAttackForgedLicenseFileOnFreshPC: on a PC that has never been online
// (no key set pinned), a license file signed by a made-up key is refused
// however it presents its keys — a bare key set inside the file (what
// earlier versions trusted on first use), a key set signed by a made-up
// root, or a root-signed set that does not hold the signing key — and a
// forged response code is refused after a genuine file. Nothing is stored.
func TestAttackForgedLicenseFileOnFreshPC(t *testing.T) {
	forger := newTestKey(66)
	forgedRoot := newTestKey(67)
	claims := func(jti string) *wire.Claims {
		c := entitlementClaims(t0.Add(-time.Hour), testInstall, jti)
		c.Type, c.Capacity, c.Features = wire.Perpetual, 9999, wire.ResponseFeatures()
		return c
	}
	bare := func(token string, keys ...testKey) []byte {
		set := wire.JWKS{}
		for _, k := range keys {
			set.Keys = append(set.Keys, k.jwk())
		}
		raw, err := json.Marshal(wire.EntitlementFile{Format: wire.EntitlementFormat, Version: 1, Entitlement: token, JWKS: &set})
		mustNil(t, err)
		return raw
	}
	withSet := func(token, keySet string) []byte {
		raw, err := wire.NewEntitlementFile(token, keySet)
		mustNil(t, err)
		return raw
	}
	cases := []struct {
		name string
		file []byte
		want error
	}{
		{"bare key set in the file", bare(signEntitlement(t, forger, claims("f1")), forger), wire.ErrUnknownKey},
		{"key set signed by a made-up root", withSet(signEntitlement(t, forger, claims("f2")), signedSet(t, forgedRoot, forger)), wire.ErrUntrustedKeySet},
		{"root-signed set without the signing key", withSet(signEntitlement(t, forger, claims("f3")), signedSet(t, rootKey, keyA)), wire.ErrUnknownKey},
		{"no key set at all", withSet(signEntitlement(t, forger, claims("f4")), ""), wire.ErrUnknownKey},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, sess := newOfflineManager(t, newFakeClock(t0))
			before := StoreSnapshot(t, m.store)
			st, err := m.ImportEntitlement(context.Background(), sess, tc.file)
			if !errors.Is(err, tc.want) || st.State != Unlicensed {
				t.Fatalf("forged file: %v, state %v; want %v and Unlicensed", err, st.State, tc.want)
			}
			if !maps.Equal(before, StoreSnapshot(t, m.store)) {
				t.Fatal("a forged file changed the store")
			}
		})
	}
	t.Run("forged response code after a genuine file", func(t *testing.T) {
		m, sess := newOfflineManager(t, newFakeClock(t0))
		ctx := context.Background()
		_, err := m.ImportEntitlement(ctx, sess, entFile(t, signEntitlement(t, keyA, entitlementClaims(t0.Add(-time.Hour), testInstall, "ent-1")), keyA))
		mustNil(t, err)
		ch, err := m.GetChallenge()
		mustNil(t, err)
		e := testEntitlement()
		e.Capacity = 65535
		code, err := wire.SignResponse(forger.priv, forger.kid, ch, "server-0001", "lic-0001", e)
		mustNil(t, err)
		before := StoreSnapshot(t, m.store)
		if _, err := m.ApplyResponse(ctx, sess, code); err == nil {
			t.Fatal("a response code signed by a made-up key was applied")
		}
		if !maps.Equal(before, StoreSnapshot(t, m.store)) {
			t.Fatal("a forged response code changed the store")
		}
	})
}

// rogue is an authority impostor: it answers whatever the test wants,
// signed by a key of its own choosing (or not at all).
type rogue struct {
	srv    *httptest.Server
	keySet string                                       // served at PathSignedJWKS
	answer func(w http.ResponseWriter, r *http.Request) // every other path
}

func newRogue(t *testing.T) *rogue {
	rg := &rogue{}
	rg.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == wire.PathSignedJWKS {
			_, _ = w.Write([]byte(rg.keySet))
			return
		}
		rg.answer(w, r)
	}))
	t.Cleanup(rg.srv.Close)
	return rg
}

// signedBy answers body signed by key for the request as the protocol
// wants; nonce overrides the request's nonce (a replayed answer).
func signedBy(key testKey, body string, nonce func(r *http.Request) string) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		at := time.Now().Unix()
		jkt := ""
		if p := r.Header.Get(wire.HeaderDPoP); p != "" {
			u := "http://" + r.Host + r.URL.Path
			if _, k, err := wire.VerifyDPoPProof(p, r.Method, u, time.Now(), time.Hour); err == nil {
				jkt = k
			}
		}
		w.Header().Set(wire.HeaderKeyID, key.kid)
		w.Header().Set(wire.HeaderSignedAt, strconv.FormatInt(at, 10))
		w.Header().Set(wire.HeaderSignature, wire.SignAnswer(key.priv, r.Method, r.URL.Path, nonce(r), jkt, http.StatusOK, at, []byte(body)))
		_, _ = w.Write([]byte(body))
	}
}

// TestAttackRogueAuthority: the authority's address is no trust anchor.
// Changing it needs an administrator and https; a server that is not the
// pinned root's authority gets none of its tokens, key sets or answers
// accepted: not a self-signed token, not an unsigned pool answer raising
// capacity to a million devices, not an unsigned "valid" that would reset
// an expired offline window, not a genuinely signed answer replayed for
// another request.
func TestAttackRogueAuthority(t *testing.T) {
	ctx := context.Background()
	m, sess := newOfflineManager(t, newFakeClock(t0))
	rg := newRogue(t)

	t.Run("changing the address needs an administrator, https and the pinned root", func(t *testing.T) {
		if err := m.ChangeAuthority(nil, rg.srv.URL, nil, false); !errors.Is(err, ErrAdminRequired) {
			t.Fatalf("no session: %v", err)
		}
		if err := m.ChangeAuthority(sess, "http://licensing.example.com", nil, false); !errors.Is(err, ErrBadAuthorityURL) {
			t.Fatalf("plain http to another host: %v", err)
		}
		if err := m.ChangeAuthority(sess, rg.srv.URL, newTestKey(70).pub, false); !errors.Is(err, ErrRootMismatch) {
			t.Fatalf("another root without re-pin: %v", err)
		}
		if m.AuthorityURL() != testIssuer || !m.Root().Equal(rootKey.pub) {
			t.Fatal("a refused change changed the authority")
		}
	})
	// An administrator points the PC at the impostor (a typo, a phishing
	// mail): the pinned root still decides.
	mustNil(t, m.ChangeAuthority(sess, rg.srv.URL, nil, false))
	rogueKey, rogueRoot := newTestKey(71), newTestKey(72)

	t.Run("self-signed tokens and key sets", func(t *testing.T) {
		jws, err := wire.SignKeySet(rogueRoot.priv, rg.srv.URL, wire.JWKS{Keys: []wire.JWK{rogueKey.jwk()}}, t0)
		mustNil(t, err)
		rg.keySet = jws
		c := validClaims(t0)
		c.Issuer = rg.srv.URL
		before := StoreSnapshot(t, m.store)
		err = m.apply(ctx, Tokens{License: rogueKey.sign(t, c), Refresh: "r"}, EventAcquired)
		if !errors.Is(err, wire.ErrUntrustedKeySet) {
			t.Fatalf("rogue token: %v", err)
		}
		if !maps.Equal(before, StoreSnapshot(t, m.store)) || m.Status().State != Unlicensed {
			t.Fatal("a rogue token changed the store")
		}
	})

	// From here the rogue serves a key set the real root signed for it
	// (what it could copy from the real authority's page) but cannot sign
	// answers with those keys.
	rg.keySet = signedSetFor(t, rootKey, rg.srv.URL, keyA)
	p := NewPool(m)
	mustNil(t, p.store.putJSON(keyCustomer, customerRecord{ID: "5d0c3f7e-1a2b-4c3d-8e4f-a0b1c2d3e4f5", Name: "Shop"}))
	held := `{"activations":[{"licence":{"id":"CAP-1M","kind":"capacity","devices":1000000},"activation_id":"a1","activated_at":"2026-01-01T00:00:00Z"}]}`

	t.Run("unsigned pool answer", func(t *testing.T) {
		rg.answer = func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(held)) }
		err := p.ReconcilePool(ctx)
		tot, _ := p.TotalCapacity()
		if !errors.Is(err, wire.ErrUnsignedAnswer) || tot.Devices != 0 {
			t.Fatalf("unsigned held answer: %v, %d devices", err, tot.Devices)
		}
	})
	t.Run("pool answer signed by a key the root never vouched for", func(t *testing.T) {
		rg.answer = signedBy(rogueKey, held, func(r *http.Request) string { return r.Header.Get(wire.HeaderNonce) })
		err := p.ReconcilePool(ctx)
		tot, _ := p.TotalCapacity()
		if !errors.Is(err, wire.ErrUnsignedAnswer) || tot.Devices != 0 {
			t.Fatalf("rogue-signed held answer: %v, %d devices", err, tot.Devices)
		}
	})
	t.Run("genuinely signed answer replayed for another request", func(t *testing.T) {
		rg.answer = signedBy(keyA, held, func(*http.Request) string { return "an-earlier-request" })
		err := p.ReconcilePool(ctx)
		tot, _ := p.TotalCapacity()
		if !errors.Is(err, wire.ErrUnsignedAnswer) || tot.Devices != 0 {
			t.Fatalf("replayed held answer: %v, %d devices", err, tot.Devices)
		}
	})
	t.Run("unsigned verification does not reset an expired offline window", func(t *testing.T) {
		clock := newFakeClock(t0)
		m2, sess2 := newOfflineManager(t, clock)
		_, err := m2.ImportEntitlement(ctx, sess2, entFile(t, signEntitlement(t, keyA, entitlementClaims(t0.Add(-time.Hour), testInstall, "ent-1")), keyA))
		mustNil(t, err)
		clock.Add(31 * 24 * time.Hour)
		sess2, err = m2.Admins().AdminLogin("admin", "admin-password") // the first login has expired
		mustNil(t, err)
		mustNil(t, m2.ChangeAuthority(sess2, rg.srv.URL, nil, false))
		lic := m2.lic.Load()
		rg.answer = func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`{"result":"valid","licence_id":"` + lic.LicenseID + `","type":"perpetual","checked_at":"2026-01-01T00:00:00Z"}`))
		}
		before := StoreSnapshot(t, m2.store)
		st, err := m2.Verify(ctx)
		if !errors.Is(err, wire.ErrUnsignedAnswer) || st.State != ExpiredRequiresRenewal {
			t.Fatalf("unsigned valid: %v, state %v", err, st.State)
		}
		after := StoreSnapshot(t, m2.store)
		delete(before, keyClock)
		delete(after, keyClock)
		if !maps.Equal(before, after) {
			t.Fatal("an unsigned verification changed the store")
		}
	})
}
