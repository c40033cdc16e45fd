package localapi

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"licensedesk/licensecore"
	"licensedesk/licensecore/wire"
)

func TestTokenAndRotation(t *testing.T) {
	a := startAgent(t, time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := a.c.Token(ctx, "", 0); !errors.Is(err, licensecore.ErrNotLicensed) {
		t.Fatalf("token before licensing: %v, want ErrNotLicensed", err)
	}
	st := a.license(t)
	tok, err := a.c.Token(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if tok.ID != st.License.TokenID || tok.ServerID != "POS-T1" || tok.State != "licensed" || tok.TokenState != "ok" || strings.Count(tok.Token, ".") != 2 {
		t.Fatalf("token = %+v, license %+v", tok, st.License)
	}
	// A register waiting on the current jti gets the next token as soon
	// as the refresh stores it; the wait bound (a minute) is far above the
	// context's, so only a wake-up can answer in time.
	got := make(chan TokenDoc, 1)
	go func() {
		next, err := a.c.Token(ctx, tok.ID, time.Minute)
		if err != nil {
			t.Error(err)
		}
		got <- next
	}()
	time.Sleep(50 * time.Millisecond) // let the poll start waiting
	refreshed, err := a.c.RefreshNow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case next := <-got:
		if next.ID == tok.ID || next.ID != refreshed.License.TokenID || next.Token == tok.Token {
			t.Fatalf("long poll answered %q, refreshed to %q (was %q)", next.ID, refreshed.License.TokenID, tok.ID)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the long poll did not wake on the rotation")
	}
	// A stale jti answers at once.
	if again, err := a.c.Token(ctx, tok.ID, time.Minute); err != nil || again.ID != refreshed.License.TokenID {
		t.Fatalf("token after a stale jti = %+v, %v", again, err)
	}
}

func TestStatusLongPoll(t *testing.T) {
	a := startAgent(t, time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, rev, err := a.c.WaitStatus(ctx, 1<<60, 0) // another revision: at once
	if err != nil {
		t.Fatal(err)
	}
	woke := make(chan uint64, 1)
	go func() {
		_, next, err := a.c.WaitStatus(ctx, rev, time.Minute)
		if err != nil {
			t.Error(err)
		}
		woke <- next
	}()
	time.Sleep(50 * time.Millisecond)
	a.srv.Publish(a.m.Status())
	if next := <-woke; next != rev+1 {
		t.Fatalf("revision after Publish = %d, want %d", next, rev+1)
	}
	// Shutdown answers a waiting poll instead of waiting for it.
	go func() { _, _, _ = a.c.WaitStatus(ctx, rev+1, 5*time.Minute) }()
	time.Sleep(50 * time.Millisecond)
	sctx, scancel := context.WithTimeout(ctx, 3*time.Second)
	defer scancel()
	if err := a.srv.Shutdown(sctx); err != nil {
		t.Fatalf("shutdown with a waiting long poll: %v", err)
	}
}

func TestJWKS(t *testing.T) {
	a := startAgent(t, time.Hour)
	ctx := context.Background()
	if _, err := a.c.JWKS(ctx); !errors.Is(err, licensecore.ErrNotStored) {
		t.Fatalf("key set before contact: %v, want ErrNotStored", err)
	}
	a.license(t)
	doc, err := a.c.JWKS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	set, claims, err := wire.VerifyKeySet(doc.JWS, a.ra.RootPublicKey())
	if err != nil || claims.Issuer != a.ra.URL || doc.Issuer != a.ra.URL {
		t.Fatalf("the JWS does not chain to the root: %v (issuer %q)", err, claims.Issuer)
	}
	if len(set.Keys) == 0 || len(doc.JWKS.Keys) != len(set.Keys) || doc.JWKS.Keys[0] != set.Keys[0] {
		t.Fatalf("plain keys %+v differ from the signed ones %+v", doc.JWKS, set)
	}
	if doc.RootKey != wire.EncodeRootKey(a.ra.RootPublicKey()) || doc.Audience != wire.DefaultAudience {
		t.Fatalf("root or audience wrong: %+v", doc)
	}
}

func TestVerifyPeerToken(t *testing.T) {
	a := startAgent(t, time.Hour)
	a.license(t)
	ctx := context.Background()
	tok, err := a.c.Token(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	claims, err := a.c.VerifyToken(ctx, VerifyRequest{Token: tok.Token})
	if err != nil || claims.Subject != "POS-T1" || claims.ID != tok.ID {
		t.Fatalf("verify own token = %+v, %v", claims, err)
	}
	ik, err := a.store.InstallKey()
	if err != nil {
		t.Fatal(err)
	}
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	proof := func(key ed25519.PrivateKey, htu string) string {
		p, err := wire.NewDPoPProof(key, "POST", htu, "jti-"+htu, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	const htu = "https://pos.example/session"
	if claims, err := a.c.VerifyToken(ctx, VerifyRequest{Token: tok.Token, DPoP: proof(ik, htu), HTM: "POST", HTU: htu}); err != nil || claims.ID != tok.ID {
		t.Fatalf("verify with the holder's proof = %+v, %v", claims, err)
	}
	sig := tok.Token[strings.LastIndexByte(tok.Token, '.')+1:]
	swap := "A"
	if sig[0] == 'A' {
		swap = "B"
	}
	flipped := tok.Token[:len(tok.Token)-len(sig)] + swap + sig[1:]
	for _, tc := range []struct {
		name string
		req  VerifyRequest
		want []error
	}{
		{"tampered", VerifyRequest{Token: flipped}, []error{licensecore.ErrBadSignature, licensecore.ErrTokenInvalid}},
		{"garbage", VerifyRequest{Token: "not.a.token"}, []error{licensecore.ErrMalformedToken, licensecore.ErrTokenInvalid}},
		{"another holder", VerifyRequest{Token: tok.Token, DPoP: proof(other, htu), HTM: "POST", HTU: htu}, []error{licensecore.ErrWrongHolder, licensecore.ErrTokenInvalid}},
		{"proof for another request", VerifyRequest{Token: tok.Token, DPoP: proof(ik, htu), HTM: "GET", HTU: htu}, []error{wire.ErrBadDPoP}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			claims, err := a.c.VerifyToken(ctx, tc.req)
			var re *licensecore.RejectedError
			for _, want := range tc.want {
				if claims != nil || !errors.Is(err, want) {
					t.Fatalf("VerifyToken = %+v, %v; want %v", claims, err, want)
				}
			}
			if errors.Is(tc.want[0], licensecore.ErrTokenInvalid) && !errors.As(err, &re) {
				t.Fatalf("%v is not a RejectedError", err)
			}
		})
	}
	a.offset.Store(int64(2 * time.Hour)) // past the token's expiry
	if _, err := a.c.VerifyToken(ctx, VerifyRequest{Token: tok.Token}); !errors.Is(err, licensecore.ErrTokenExpired) {
		t.Fatalf("expired token: %v, want ErrTokenExpired", err)
	}
	if tok, err := a.c.Token(ctx, "", 0); err != nil || tok.TokenState != "expired" {
		t.Fatalf("held token two hours on = %+v, %v", tok, err)
	}
}

func TestAdminGatedActions(t *testing.T) {
	a := startAgent(t, time.Hour)
	a.license(t)
	ctx := context.Background()
	if err := a.c.Remove(ctx, nil, licensecore.RemoveOptions{}); !errors.Is(err, licensecore.ErrAdminRequired) {
		t.Fatalf("remove without a session: %v", err)
	}
	forged := licensecore.RemoteAdminSession("root", "forged-token", time.Now().Add(time.Hour))
	if err := a.c.Remove(ctx, forged, licensecore.RemoveOptions{}); !errors.Is(err, licensecore.ErrAdminRequired) {
		t.Fatalf("remove with a forged session: %v", err)
	}
	if has, err := a.c.HasAdministrator(); err != nil || has {
		t.Fatalf("HasAdministrator before = %v, %v", has, err)
	}
	sess := a.admin(t)
	if has, err := a.c.HasAdministrator(); err != nil || !has {
		t.Fatalf("HasAdministrator after = %v, %v", has, err)
	}
	if err := a.c.CreateAdministrator("second", "long enough"); !errors.Is(err, licensecore.ErrAdminExists) {
		t.Fatalf("second first administrator: %v", err)
	}
	if _, err := a.c.AdminLogin("root", "wrong password"); !errors.Is(err, licensecore.ErrBadCredentials) {
		t.Fatalf("wrong password: %v", err)
	}
	if sess.User() != "root" || sess.Token() == "" || time.Until(sess.Expires()) < 10*time.Minute {
		t.Fatalf("session = %q %q %v", sess.User(), sess.Token(), sess.Expires())
	}
	// The session from the client is the agent's: in-process checks take
	// it as well.
	if err := a.m.Admins().Check(sess); err != nil {
		t.Fatalf("the agent refuses its own session: %v", err)
	}
	if err := a.c.Remove(ctx, sess, licensecore.RemoveOptions{}); err != nil {
		t.Fatalf("remove with a session: %v", err)
	}
	if st := a.c.Status(); st.State != licensecore.Unlicensed {
		t.Fatalf("status after remove: %v", st.State)
	}
	if _, err := a.c.ActivatePool(ctx, sess, []string{"CAP-1"}, nil); !errors.Is(err, licensecore.ErrNoCustomerID) {
		t.Fatalf("pool activation without a customer: %v", err)
	}
	if err := a.c.AdminLogout(sess); err != nil {
		t.Fatal(err)
	}
	if _, err := a.c.SetCustomerID(ctx, sess, "8f14e45f-ceea-467f-a0e6-1b2c3d4e5f60"); !errors.Is(err, licensecore.ErrAdminRequired) {
		t.Fatalf("a logged-out session still works: %v", err)
	}
}
