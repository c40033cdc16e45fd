package licensecore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"licensedesk/licensecore"
	"licensedesk/licensecore/wire"
)

// TestHandOff: the token, key set and peer verification a POS server gets
// from the agent, before and after licensing and across a refresh.
func TestHandOff(t *testing.T) {
	ra := startAuthority(t, time.Hour)
	m, _ := newManager(t, ra.ts.URL, ra.srv.RootPublicKey(), nil)
	h := licensecore.NewHandOff(m)
	if _, err := h.CurrentToken(); !errors.Is(err, licensecore.ErrNotLicensed) {
		t.Fatalf("CurrentToken unlicensed = %v", err)
	}
	if _, _, err := h.KeySet(); !errors.Is(err, licensecore.ErrNotStored) {
		t.Fatalf("KeySet before contact = %v", err)
	}
	st, err := acquire(t, m, ra.ts.URL, "approve")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := h.CurrentToken()
	if err != nil || tok.ID != st.License.TokenID || tok.ServerID != "POS-T1" || !tok.Expiry.Equal(st.License.TokenExpiry) {
		t.Fatalf("CurrentToken = %+v, %v; license %+v", tok, err, st.License)
	}
	claims, err := h.VerifyPeerToken(tok.Token, "")
	if err != nil || claims.ID != tok.ID {
		t.Fatalf("VerifyPeerToken = %+v, %v", claims, err)
	}
	if _, err := h.VerifyPeerToken(tok.Token, "another-key"); !errors.Is(err, licensecore.ErrWrongHolder) {
		t.Fatalf("VerifyPeerToken by another holder = %v", err)
	}
	jws, set, err := h.KeySet()
	if err != nil || len(set.Keys) == 0 {
		t.Fatalf("KeySet = %v, %v", set, err)
	}
	if _, _, err := wire.VerifyKeySet(jws, ra.srv.RootPublicKey()); err != nil {
		t.Fatalf("the key set does not chain to the root: %v", err)
	}
	st, err = m.RefreshNow(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if next, err := h.CurrentToken(); err != nil || next.ID == tok.ID || next.ID != st.License.TokenID {
		t.Fatalf("CurrentToken after refresh = %+v, %v", next, err)
	}
}
