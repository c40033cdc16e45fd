package authority_test

// One test per attack of the trust review that the authority answers,
// each reproducing the attack against the real server.

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"licensedesk/licensecore/authority"
	"licensedesk/licensecore/wire"
)

// TestAttackSigningKeysAtRest: whoever copies the data directory opens it
// with stock Badger and no key, and reads the signing keys; the root key
// file lies beside it.
func TestAttackSigningKeysAtRest(t *testing.T) {
	e := newEnv(t)
	e.acquire(devMain) // a refresh token and an issuance on disk too
	if err := e.srv.RotateKey(); err != nil {
		t.Fatal(err)
	}
	root := e.srv.RootPublicKey()
	if err := e.srv.Close(); err != nil {
		t.Fatal(err)
	}
	dir := e.opts.DataDir

	db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil).WithReadOnly(true))
	if err == nil {
		var found []string
		_ = db.View(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte("key/")})
			defer it.Close()
			for it.Rewind(); it.Valid(); it.Next() {
				found = append(found, string(it.Item().Key()))
			}
			return nil
		})
		_ = db.Close()
		t.Fatalf("stock Badger opened the data directory without a key; signing key records: %v", found)
	}
	t.Logf("stock Badger without the key: %v", err)

	// Nor does any file of the directory hold a key record in clear.
	_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, marker := range []string{`"seed":`, `"refresh_token":`, "key/"} {
			if bytes.Contains(data, []byte(marker)) {
				t.Errorf("%s holds %q in clear", filepath.Base(path), marker)
			}
		}
		return nil
	})

	// The root key file is not the root's seed in any encoding.
	rootFile, err := os.ReadFile(dir + ".root")
	if err != nil {
		t.Fatal(err)
	}
	if holdsSeedOf(rootFile, root) {
		t.Fatal("the root key file holds the root's private key in clear")
	}
	if _, err := os.Stat(filepath.Join(dir, "..", filepath.Base(dir)+".key")); err != nil {
		t.Fatalf("the store key is not beside the data directory: %v", err)
	}
}

// holdsSeedOf reports whether data contains, raw or in base64 of either
// alphabet, an Ed25519 seed whose public key is pub.
func holdsSeedOf(data []byte, pub ed25519.PublicKey) bool {
	blobs := [][]byte{data}
	for _, field := range strings.FieldsFunc(string(data), func(r rune) bool { return strings.ContainsRune(" \t\r\n\":,{}[]", r) }) {
		for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.StdEncoding} {
			if raw, err := enc.DecodeString(field); err == nil {
				blobs = append(blobs, raw)
			}
		}
	}
	for _, b := range blobs {
		for i := 0; i+ed25519.SeedSize <= len(b); i++ {
			if pub.Equal(ed25519.NewKeyFromSeed(b[i : i+ed25519.SeedSize]).Public()) {
				return true
			}
		}
	}
	return false
}

// TestAttackKeyRotationVsLicenseFiles: a license file lasts 30 days, but
// the key that signed it used to leave the published set 72 h after a
// rotation, so registers rejected it as signed by an unknown key.
func TestAttackKeyRotationVsLicenseFiles(t *testing.T) {
	e := newEnv(t)
	file := e.entitle("IC-1", devMain)
	e.clock.Advance(time.Minute)
	if err := e.srv.RotateKey(); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(29 * 24 * time.Hour)

	set, claims := e.signedSet()
	if claims.Issuer != e.url || len(set.Keys) != 2 {
		t.Fatalf("published set 29 days after the rotation: iss %q, %d keys", claims.Issuer, len(set.Keys))
	}
	c, err := e.verifierFor(set).Verify(file.Entitlement)
	if err != nil {
		t.Fatalf("a license file issued before the rotation, 29 days later: %v", err)
	}
	if c.Subject != devMain || c.InstallCode != "IC-1" {
		t.Fatalf("claims %+v", c)
	}
	// The set inside the file verifies with the root too, and only with it.
	if _, _, err := wire.VerifyKeySet(file.KeySet, e.srv.RootPublicKey()); err != nil {
		t.Fatal(err)
	}
	other, _, _ := ed25519.GenerateKey(nil)
	if _, _, err := wire.VerifyKeySet(file.KeySet, other); !errors.Is(err, wire.ErrUntrustedKeySet) {
		t.Fatalf("the file's key set with another root: %v", err)
	}
}

// TestAttackSecondApproval: the same device approved a second time from a
// PC with another install code, and both PCs refresh.
func TestAttackSecondApproval(t *testing.T) {
	e := newEnv(t)
	first := e.acquire(devMain) // e.pc: install code IC-1, "Till PC"

	other := e.newPC("IC-2", "Back Room PC")
	da := other.authorize("device_name", other.name)
	b := e.login(alice, alicePW, orgAcme)
	for _, path := range []string{"/device", "/device/confirm"} {
		st, body := b.post(path, url.Values{"user_code": {da.str("user_code")}, "device": {devMain}, "action": {"approve"}})
		if st != http.StatusConflict || !strings.Contains(body, `id="error-message"`) ||
			!strings.Contains(body, "Main Store is licensed to the PC with install code IC-1, not to the PC with install code IC-2") {
			t.Fatalf("%s for a PC with another install code: %d\n%s", path, st, body)
		}
	}
	wantError(t, other.poll(da.str("device_code")), 400, "authorization_pending") // nothing was approved
	if r := e.refresh(first.str("refresh_token")); r.status != http.StatusOK {
		t.Fatalf("the licensed PC after the refused approval: %v", r.body)
	}
	first = e.refresh(first.str("refresh_token")) // within grace: the same pair

	// The same install code with a new device code (the license taken to a
	// reinstalled PC): the new PC gets it, the old chain is told so.
	e.clock.Advance(48 * time.Hour)
	moved := e.newPC("IC-1", "New Till")
	second := moved.acquire(devMain)
	r := e.refresh(first.str("refresh_token"))
	wantError(t, r, 400, "invalid_grant")
	if r.str("reason") != string(wire.ReasonLicenseMoved) || r.str("error_description") != "This license was moved to New Till on 3 Mar 2027" {
		t.Fatalf("the old PC's refresh: %v", r.body)
	}
	if again := e.refresh(first.str("refresh_token")); again.str("reason") != string(wire.ReasonLicenseMoved) {
		t.Fatalf("the reason must stay: %v", again.body)
	}
	if r := moved.refresh(second.str("refresh_token")); r.status != http.StatusOK {
		t.Fatalf("the new PC: %v", r.body)
	}
}

// TestAttackRefreshReplayRevokesChain: replaying a rotated refresh token
// was refused, but the newer token of its chain kept working.
func TestAttackRefreshReplayRevokesChain(t *testing.T) {
	t.Run("within the grace window", func(t *testing.T) {
		e := newEnv(t)
		r0 := e.acquire(devMain)
		r1 := e.refresh(r0.str("refresh_token"))
		again := e.refresh(r0.str("refresh_token")) // the answer was lost: same PC, same key
		if again.status != http.StatusOK || again.str("refresh_token") != r1.str("refresh_token") || again.str("licence_token") != r1.str("licence_token") {
			t.Fatalf("replay within the grace window: %v, want the same pair", again.body)
		}
		thief := e.newPC("IC-1", "Copy")
		r := thief.refresh(r0.str("refresh_token"))
		wantError(t, r, 400, "invalid_grant")
		if r.str("reason") != string(wire.ReasonKeyMismatch) {
			t.Fatalf("replay within the grace window with another key: %v", r.body)
		}
		if r := e.refresh(r1.str("refresh_token")); r.status != http.StatusOK {
			t.Fatalf("the chain after the refused replay: %v", r.body)
		}
	})
	t.Run("after the window, the new pair never used", func(t *testing.T) {
		e := newEnv(t)
		r0 := e.acquire(devMain)
		r1 := e.refresh(r0.str("refresh_token")) // this answer never reaches the PC
		e.clock.Advance(3 * time.Hour)           // the shop's line was down
		r2 := e.refresh(r0.str("refresh_token"))
		if r2.status != http.StatusOK || r2.str("refresh_token") == r1.str("refresh_token") || r2.str("refresh_token") == "" {
			t.Fatalf("retry of a lost answer after the grace window: %v, want a new pair", r2.body)
		}
		if again := e.refresh(r0.str("refresh_token")); again.str("refresh_token") != r2.str("refresh_token") {
			t.Fatalf("the retry's answer lost too, retried at once: %v", again.body)
		}
		if r := e.refresh(r1.str("refresh_token")); r.str("error_description") != "unknown refresh token" {
			t.Fatalf("the withdrawn pair: %v", r.body)
		}
		if thief := e.newPC("IC-1", "Copy"); thief.refresh(r0.str("refresh_token")).str("reason") != string(wire.ReasonKeyMismatch) {
			t.Fatal("a lost answer must be recoverable only with the chain's key")
		}
		r3 := e.refresh(r2.str("refresh_token"))
		if r3.status != http.StatusOK {
			t.Fatalf("the recovered chain: %v", r3.body)
		}
		if r := e.refresh(r0.str("refresh_token")); r.str("reason") != string(wire.ReasonChainRevoked) {
			t.Fatalf("the spent token after its successor was used: %v", r.body)
		}
	})
	for name, outside := range map[string]func(e *env, r1 oauthReply){
		"after the new token was used": func(e *env, r1 oauthReply) {
			if r := e.refresh(r1.str("refresh_token")); r.status != http.StatusOK {
				e.t.Fatal(r.body)
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			r0 := e.acquire(devMain)
			r1 := e.refresh(r0.str("refresh_token"))
			outside(e, r1)
			for i, rt := range []string{r0.str("refresh_token"), r1.str("refresh_token"), r0.str("refresh_token")} {
				r := e.refresh(rt)
				wantError(t, r, 400, "invalid_grant")
				if r.str("reason") != string(wire.ReasonChainRevoked) {
					t.Fatalf("request %d after the replay: %v", i, r.body)
				}
			}
			if r := e.lifecycle("/licence/release", "refresh_token", r1.str("refresh_token")); r.str("reason") != string(wire.ReasonChainRevoked) {
				t.Fatalf("release with a revoked chain: %v", r.body)
			}
			// The PC authorizes again and is licensed again.
			if r := e.acquire(devMain); r.str("refresh_token") == "" {
				t.Fatal("no new chain")
			}
		})
	}
}

// TestAttackRefreshTokenWithoutKey: a refresh token copied to another PC
// (with store.key) refreshed there.
func TestAttackRefreshTokenWithoutKey(t *testing.T) {
	e := newEnv(t)
	tok := e.acquire(devMain)
	stolen := tok.str("refresh_token")
	thief := e.newPC("IC-1", "Copied PC") // even with the same install code
	for name, r := range map[string]oauthReply{
		"refresh with another key": thief.refresh(stolen),
		"refresh without a proof": e.postWithoutProof("/token", url.Values{"client_id": {authority.DefaultClientID},
			"grant_type": {"refresh_token"}, "refresh_token": {stolen}}),
		"release with another key": thief.postOAuth("/licence/release", url.Values{"client_id": {authority.DefaultClientID}, "refresh_token": {stolen}}),
		"switch with another key": thief.postOAuth("/licence/switch", url.Values{"client_id": {authority.DefaultClientID},
			"refresh_token": {stolen}, "to": {"perpetual"}}),
	} {
		wantError(t, r, 400, "invalid_grant")
		if r.str("reason") != string(wire.ReasonKeyMismatch) {
			t.Errorf("%s: %v", name, r.body)
		}
	}
	// The PC that holds the key still refreshes, and its token names the key.
	next := e.refresh(stolen)
	if next.status != http.StatusOK {
		t.Fatalf("the rightful PC: %v", next.body)
	}
	c, err := e.verifier().Verify(next.str("licence_token"))
	if err != nil || c.Confirmation == nil || c.Confirmation.JKT != e.pc.jkt() {
		t.Fatalf("cnf of the refreshed token: %+v %v", c, err)
	}
}

// TestAttackUnboundDeviceAnyInstallCode: a device with no install code on
// record got license files for any install code.
func TestAttackUnboundDeviceAnyInstallCode(t *testing.T) {
	e := newEnv(t)
	f := e.entitle("IC-77", devPerpetual)
	if c, err := e.verifier().Verify(f.Entitlement); err != nil || c.InstallCode != "IC-77" {
		t.Fatalf("first license file: %+v %v", c, err)
	}
	if _, err := e.srv.Entitle(licenseRequest(t, "IC-88"), devPerpetual); !errors.Is(err, authority.ErrInstallMismatch) {
		t.Fatalf("a second PC's request for the same device: %v", err)
	}
	if _, err := e.srv.Entitle(licenseRequest(t, "ic-77"), devPerpetual); err != nil {
		t.Fatalf("the first PC again: %v", err)
	}
	// Matching by install code finds the device now, and the approval page
	// holds to the binding too.
	if _, err := e.srv.Entitle(licenseRequest(t, "IC-77"), ""); err != nil {
		t.Fatalf("matched by install code: %v", err)
	}
	other := e.newPC("IC-88", "Other PC")
	da := other.authorize()
	if st, body := e.login(alice, alicePW, orgAcme).post("/device", url.Values{"user_code": {da.str("user_code")}, "device": {devPerpetual}}); st != http.StatusConflict {
		t.Fatalf("approval page for another PC: %d\n%s", st, body)
	}
}

// entitle makes a license file for a request from installCode.
func (e *env) entitle(installCode, serverID string) wire.EntitlementFile {
	e.t.Helper()
	raw, err := e.srv.Entitle(licenseRequest(e.t, installCode), serverID)
	if err != nil {
		e.t.Fatal(err)
	}
	var f wire.EntitlementFile
	if err := json.Unmarshal(raw, &f); err != nil {
		e.t.Fatal(err)
	}
	return f
}
