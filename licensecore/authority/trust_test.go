package authority_test

import (
	"crypto/ed25519"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"licensedesk/licensecore/authority"
	"licensedesk/licensecore/wire"
)

func TestSignedJWKS(t *testing.T) {
	e := newEnv(t)
	get := func() string {
		t.Helper()
		resp, err := http.Get(e.url + wire.PathSignedJWKS)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return string(data)
	}
	set, claims := e.signedSet()
	if claims.Issuer != e.url || claims.IssuedAt != t0.Unix() || len(set.Keys) != 1 || set.Keys[0].Kid != e.srv.JWKS().Keys[0].Kid {
		t.Fatalf("signed set %+v, claims %+v", set, claims)
	}
	first := get()
	e.clock.Advance(time.Hour)
	if again := get(); again != first {
		t.Fatal("the signed set was signed again although the keys did not change")
	}
	if jws, err := e.srv.SignedKeySet(); err != nil || jws != first {
		t.Fatalf("SignedKeySet: %v", err)
	}
	other, _, _ := ed25519.GenerateKey(nil)
	if _, _, err := wire.VerifyKeySet(first, other); !errors.Is(err, wire.ErrUntrustedKeySet) {
		t.Fatalf("verified with another root: %v", err)
	}

	if err := e.srv.RotateKey(); err != nil {
		t.Fatal(err)
	}
	set, claims = e.signedSet()
	if len(set.Keys) != 2 || claims.IssuedAt != t0.Add(time.Hour).Unix() {
		t.Fatalf("after a rotation: %d keys, iat %d", len(set.Keys), claims.IssuedAt)
	}
	// The retirement of the old key changes the set again.
	e.clock.Advance(wire.OfflineWindow + 24*time.Hour)
	if set, _ = e.signedSet(); len(set.Keys) != 1 {
		t.Fatalf("after the retirement: %d keys", len(set.Keys))
	}
	// The same root across a restart; the bare JWKS stays for registers.
	root := e.srv.RootPublicKey()
	e.restart()
	if !root.Equal(e.srv.RootPublicKey()) {
		t.Fatal("the root changed across a restart")
	}
	if _, _, err := wire.ParseJWKS([]byte(mustGet(t, e.url+"/.well-known/jwks.json"))); err != nil {
		t.Fatal(err)
	}
}

func mustGet(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return string(data)
}

// TestAnswerSignatures: every answer of the lifecycle, customer and pool
// endpoints, success or error, is signed over the request and the answer.
func TestAnswerSignatures(t *testing.T) {
	e := newPoolEnv(t)
	tok := e.acquire(devMain)
	form := func(kv ...string) string {
		v := url.Values{"client_id": {authority.DefaultClientID}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v.Encode()
	}
	const formType = "application/x-www-form-urlencoded"
	sw := e.send(e.pc, http.MethodPost, "/licence/switch", formType, form("refresh_token", tok.str("refresh_token"), "to", "perpetual"))
	in := newInstall("SIGN-1", custAcme)
	envelope, _ := wire.SignPoolRequest(in.key, wire.PoolRequest{Op: wire.PoolOpList, CustomerID: custAcme, InstallCode: in.code, IssuedAt: t0})
	poolPC := &pc{e: e, key: in.key}

	exchanges := []exchange{
		e.send(e.pc, http.MethodPost, "/licence/verify", formType, form("licence_token", tok.str("licence_token"))),
		e.send(nil, http.MethodPost, "/licence/verify", formType, form("licence_token", tok.str("licence_token"))),
		e.send(e.pc, http.MethodPost, "/licence/verify", formType, form("licence_token", "forged")),
		sw,
		e.send(e.pc, http.MethodGet, "/licence/switch/"+jsonField(t, sw.body, "request_id"), "", ""),
		e.send(e.pc, http.MethodGet, "/licence/switch/unknown", "", ""),
		e.send(e.pc, http.MethodGet, "/customers/"+custAcme, "", ""),
		e.send(nil, http.MethodGet, "/customers/11111111-2222-4333-8444-555555555555", "", ""),
		e.send(poolPC, http.MethodPost, "/pool/list", "application/json", string(envelope)),
		e.send(e.pc, http.MethodPost, "/pool/list", "application/json", string(envelope)), // key mismatch
		e.send(e.pc, http.MethodPost, "/token", formType, form("grant_type", "refresh_token", "refresh_token", "unknown")),
		e.send(e.pc, http.MethodPost, "/licence/release", formType, form("refresh_token", tok.str("refresh_token"))),
	}
	// The second verify has no proof: a token bound to a key (cnf) is
	// verified only for its holder.
	wantStatus := []int{200, 400, 400, 202, 200, 404, 200, 404, 200, 400, 400, 200}
	for i, x := range exchanges {
		if x.status != wantStatus[i] {
			t.Errorf("%s %s: %d %s, want %d", x.method, x.path, x.status, x.body, wantStatus[i])
			continue
		}
		pub := e.checkSigned(x)
		// Tampering with anything the signature covers breaks it.
		sig, at := x.header.Get(wire.HeaderSignature), t0.Unix()
		for name, bad := range map[string]exchange{
			"body":   {method: x.method, path: x.path, nonce: x.nonce, jkt: x.jkt, status: x.status, body: append([]byte(" "), x.body...)},
			"status": {method: x.method, path: x.path, nonce: x.nonce, jkt: x.jkt, status: 200 + x.status%2 + 1, body: x.body},
			"nonce":  {method: x.method, path: x.path, nonce: "replayed", jkt: x.jkt, status: x.status, body: x.body},
			"jkt":    {method: x.method, path: x.path, nonce: x.nonce, jkt: "another-key", status: x.status, body: x.body},
			"path":   {method: x.method, path: x.path + "x", nonce: x.nonce, jkt: x.jkt, status: x.status, body: x.body},
		} {
			if err := wire.CheckAnswerSignature(pub, sig, bad.method, bad.path, bad.nonce, bad.jkt, bad.status, at, bad.body); !errors.Is(err, wire.ErrUnsignedAnswer) {
				t.Errorf("%s %s with another %s: %v", x.method, x.path, name, err)
			}
		}
		if err := wire.CheckAnswerSignature(pub, sig, x.method, x.path, x.nonce, x.jkt, x.status, at+1, x.body); err == nil {
			t.Errorf("%s %s: another signing time verifies", x.method, x.path)
		}
	}
	// After a rotation the new key signs, and its kid says so.
	if err := e.srv.RotateKey(); err != nil {
		t.Fatal(err)
	}
	x := e.send(e.pc, http.MethodGet, "/customers/"+custAcme, "", "")
	e.checkSigned(x)
	if kid := x.header.Get(wire.HeaderKeyID); kid == exchanges[6].header.Get(wire.HeaderKeyID) {
		t.Fatal("the rotated-out key still signs answers")
	}
}

func jsonField(t *testing.T, body []byte, key string) string {
	t.Helper()
	v, _ := decodeJSON(body)[key].(string)
	if v == "" {
		t.Fatalf("no %s in %s", key, body)
	}
	return v
}

// TestDPoPProofs: the proof must be made for this request, now, once.
func TestDPoPProofs(t *testing.T) {
	e := newEnv(t)
	tok := e.acquire(devMain)
	verifyWith := func(proofs ...string) oauthReply {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, e.url+"/licence/verify",
			strings.NewReader(url.Values{"client_id": {authority.DefaultClientID}, "licence_token": {tok.str("licence_token")}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for _, p := range proofs {
			req.Header.Add(wire.HeaderDPoP, p)
		}
		return e.reply(http.DefaultClient.Do(req))
	}
	proofAt := func(method, path string, at time.Time) string {
		return dpopProof(t, e.pc.key, method, e.url+path, at)
	}
	now := e.clock.Now()
	once := proofAt(http.MethodPost, "/licence/verify", now)
	if r := verifyWith(once); r.status != http.StatusOK {
		t.Fatalf("a fresh proof: %v", r.body)
	}
	if r := verifyWith(once); r.str("error") != "invalid_dpop_proof" || !strings.Contains(r.str("error_description"), "used before") {
		t.Fatalf("a replayed proof: %v", r.body)
	}
	for name, tc := range map[string][]string{
		"six minutes old":       {proofAt(http.MethodPost, "/licence/verify", now.Add(-6*time.Minute))},
		"six minutes ahead":     {proofAt(http.MethodPost, "/licence/verify", now.Add(6*time.Minute))},
		"made for another path": {proofAt(http.MethodPost, "/token", now)},
		"made for another verb": {proofAt(http.MethodGet, "/licence/verify", now)},
		"made for another host": {dpopProof(t, e.pc.key, http.MethodPost, "http://elsewhere.example/licence/verify", now)},
		"two proofs":            {proofAt(http.MethodPost, "/licence/verify", now), proofAt(http.MethodPost, "/licence/verify", now)},
		"not a JWS":             {"not-a-proof"},
		"tampered":              {once[:len(once)-4] + "AAAA"},
	} {
		t.Run(name, func(t *testing.T) {
			wantError(t, verifyWith(tc...), 400, "invalid_dpop_proof")
		})
	}
	for name, at := range map[string]time.Time{"four minutes old": now.Add(-4 * time.Minute), "four minutes ahead": now.Add(4 * time.Minute)} {
		if r := verifyWith(proofAt(http.MethodPost, "/licence/verify", at)); r.status != http.StatusOK {
			t.Errorf("%s (within the skew): %v", name, r.body)
		}
	}
	// A jti is forgotten once its proof is too old to be accepted anyway;
	// the proof itself stays refused.
	e.clock.Advance(6 * time.Minute)
	wantError(t, verifyWith(once), 400, "invalid_dpop_proof")
	// A token bound to a key is verified only for its holder: without a
	// proof, the copy of a data folder that lacks the key learns nothing.
	if r := verifyWith(); r.status != http.StatusBadRequest || r.body["reason"] != string(wire.ReasonKeyMismatch) {
		t.Fatalf("verify without a proof: %d %v", r.status, r.body)
	}
}

// TestDPoPRequired: which endpoints need a proof, and by which key.
func TestDPoPRequired(t *testing.T) {
	e := newPoolEnv(t)
	client := url.Values{"client_id": {authority.DefaultClientID}}
	// Starting an authorization needs none …
	da := e.postWithoutProof("/device/authorize", url.Values{"client_id": {authority.DefaultClientID}, "install_code": {"IC-1"}})
	if da.status != http.StatusOK {
		t.Fatalf("device authorization without a proof: %v", da.body)
	}
	poll := url.Values{"client_id": {authority.DefaultClientID}, "grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {da.str("device_code")}}
	e.login(alice, alicePW, orgAcme).decide(da.str("user_code"), devMain, "approve")
	// … redeeming it does.
	wantError(t, e.postWithoutProof("/token", poll), 400, "invalid_dpop_proof")
	tok := e.pc.postOAuth("/token", poll)
	if tok.status != http.StatusOK {
		t.Fatalf("redeemed with a proof: %v", tok.body)
	}

	// A code started with a proof is redeemed only with that key.
	da = e.authorize()
	e.login(alice, alicePW, orgAcme).decide(da.str("user_code"), devPerpetual, "approve")
	r := e.newPC("IC-1", "Other").poll(da.str("device_code"))
	wantError(t, r, 400, "invalid_grant")
	if r.str("reason") != string(wire.ReasonKeyMismatch) {
		t.Fatalf("redeemed with another key: %v", r.body)
	}
	if r := e.poll(da.str("device_code")); r.status != http.StatusOK {
		t.Fatalf("redeemed with the key that started it: %v", r.body)
	}

	// Release and switch need the refresh token's key.
	for _, path := range []string{"/licence/release", "/licence/switch"} {
		f := url.Values{"refresh_token": {tok.str("refresh_token")}, "to": {"perpetual"}}
		for k, v := range client {
			f[k] = v
		}
		r := e.postWithoutProof(path, f)
		wantError(t, r, 400, "invalid_grant")
		if r.str("reason") != string(wire.ReasonKeyMismatch) {
			t.Errorf("%s without a proof: %v", path, r.body)
		}
	}
	// The switch status needs the key that asked for the switch.
	id := e.lifecycle("/licence/switch", "refresh_token", tok.str("refresh_token"), "to", "perpetual").str("request_id")
	if st := e.switchStatus(id); st.status != http.StatusOK {
		t.Fatalf("status with the key that asked: %v", st.body)
	}
	for name, r := range map[string]oauthReply{
		"no proof":    e.reply(http.Get(e.url + "/licence/switch/" + id)),
		"another key": e.newPC("IC-1", "Other").get("/licence/switch/" + id),
	} {
		wantError(t, r, 400, "invalid_request")
		if r.str("reason") != string(wire.ReasonKeyMismatch) {
			t.Errorf("switch status, %s: %v", name, r.body)
		}
	}

	// Pool calls need a proof by the install key of the envelope.
	in := newInstall("DPOP-1", custAcme)
	envelope, _ := wire.SignPoolRequest(in.key, wire.PoolRequest{Op: wire.PoolOpList, CustomerID: custAcme, InstallCode: in.code, IssuedAt: t0})
	_, other, _ := ed25519.GenerateKey(nil)
	for name, x := range map[string]exchange{
		"no proof":    e.send(nil, http.MethodPost, "/pool/list", "application/json", string(envelope)),
		"another key": e.send(&pc{e: e, key: other}, http.MethodPost, "/pool/list", "application/json", string(envelope)),
	} {
		body := decodeJSON(x.body)
		if x.status != 400 || body["error"] != "invalid_request" || body["reason"] != string(wire.ReasonKeyMismatch) {
			t.Errorf("pool list, %s: %d %s", name, x.status, x.body)
		}
	}
	e.pool(in, wire.PoolOpList, "", "", "").want(t, 200, "")
}

// TestRefreshRace: two refreshes with one token and one key at once (a
// retry racing the first attempt) both get the same new pair.
func TestRefreshRace(t *testing.T) {
	e := newEnv(t)
	rt := e.acquire(devMain).str("refresh_token")
	var wg sync.WaitGroup
	got := make([]oauthReply, 4)
	for i := range got {
		wg.Go(func() { got[i] = e.refresh(rt) })
	}
	wg.Wait()
	for i, r := range got {
		if r.status != http.StatusOK || r.str("refresh_token") != got[0].str("refresh_token") {
			t.Fatalf("refresh %d: %d %v, first %v", i, r.status, r.body, got[0].body)
		}
	}
}
