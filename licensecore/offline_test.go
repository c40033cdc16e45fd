package licensecore_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"licensedesk/licensecore"
	"licensedesk/licensecore/authority"
	"licensedesk/licensecore/wire"
)

// offlinePC is a License Desk installation with an administrator logged in.
type offlinePC struct {
	m     *licensecore.Manager
	store *licensecore.Store
	sess  *licensecore.AdminSession
}

func newOfflinePC(t *testing.T, base string, root ed25519.PublicKey, installCode string, now func() time.Time) *offlinePC {
	t.Helper()
	store, err := licensecore.OpenStore(licensecore.StoreOptions{Dir: t.TempDir() + "/store", Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	m, err := licensecore.NewManager(licensecore.Options{Store: store, AuthorityURL: base, Now: now, Logger: zerolog.Nop(), Root: root,
		DeviceName: "Till PC", InstallCode: installCode, HTTPClient: &http.Client{Timeout: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Admins().CreateAdministrator("admin", "admin-password"); err != nil {
		t.Fatal(err)
	}
	sess, err := m.Admins().AdminLogin("admin", "admin-password")
	if err != nil {
		t.Fatal(err)
	}
	return &offlinePC{m: m, store: store, sess: sess}
}

// snapshot is the raw stored license, tokens, key set and offline records.
func (pc *offlinePC) snapshot(t *testing.T) map[string]string {
	return licensecore.StoreSnapshot(t, pc.store)
}

// request makes this PC's license request file.
func (pc *offlinePC) request(t *testing.T) []byte {
	t.Helper()
	req, err := pc.m.LicenseRequest("ACC-1", "SER-1")
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// entitle uploads a request on the authority's /entitle page and returns
// the downloaded license file.
func (p *person) entitle(request []byte, device string) []byte {
	p.t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	_ = w.WriteField("csrf_token", p.csrf)
	_ = w.WriteField("device", device)
	fw, _ := w.CreateFormFile("request_file", "license-request.json")
	_, _ = fw.Write(request)
	_ = w.Close()
	resp, err := p.c.Post(p.base+"/entitle", w.FormDataContentType(), &body)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") {
		p.t.Fatalf("/entitle: %d %.600s", resp.StatusCode, data)
	}
	return data
}

var responseCode = regexp.MustCompile(`id="response-code" class="code">([^<]+)<`)

// upgrade answers a challenge on the authority's /upgrade page.
func (p *person) upgrade(challenge, device string) string {
	p.t.Helper()
	form := url.Values{"device": {device}, "challenge": {challenge}, "csrf_token": {p.csrf}}
	resp, err := p.c.PostForm(p.base+"/upgrade", form)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	m := responseCode.FindSubmatch(page)
	if m == nil {
		p.t.Fatalf("/upgrade: %d %.600s", resp.StatusCode, page)
	}
	return string(m[1])
}

// reseedT1 changes POS-T1's entitlement on the authority.
func reseedT1(t *testing.T, ra *realAuthority, capacity int, features ...string) {
	t.Helper()
	err := ra.srv.Seed(authority.Seed{Organizations: []authority.OrganizationSeed{{
		ID: "org1", Name: "Test Stores",
		Users: []authority.UserSeed{{Username: "alice", Password: "pw-alice", Role: authority.RoleVendor}},
		Devices: []authority.DeviceSeed{{ServerID: "POS-T1", Name: "Till server", Features: features,
			License: &authority.LicenseSeed{ID: "LIC-T1", Type: wire.Subscription, Customer: "Test Stores",
				Capacity: capacity, RenewalDate: time.Now().AddDate(0, 6, 0).UTC(), TransactionID: "TXN-T1"}}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
}

func TestOfflineFlowsAgainstAuthority(t *testing.T) {
	ra := startAuthority(t, time.Hour)
	pc := newOfflinePC(t, ra.ts.URL, ra.srv.RootPublicKey(), "BCDF-GHJK-LMNP-QRST", nil)
	ctx := context.Background()
	p := newPerson(t, ra.ts.URL)

	// License request → license file → import, never online.
	req := pc.request(t)
	if parsed, err := wire.ParseLicenseRequest(req); err != nil || parsed.InstallCode != "BCDF-GHJK-LMNP-QRST" || parsed.DeviceName != "Till PC" {
		t.Fatalf("request %s: %v", req, err)
	}
	st, err := pc.m.ImportEntitlement(ctx, pc.sess, p.entitle(req, "POS-T1"))
	if err != nil {
		t.Fatal(err)
	}
	l := st.License
	if st.State != licensecore.Licensed || st.Token != licensecore.TokenOK || l.ServerID != "POS-T1" || l.AccountNumber != "ACC-1" ||
		!l.Offline || st.OfflineDaysLeft != 30 || st.OfflineExpiring {
		t.Fatalf("after import: %+v %+v", st, l)
	}
	// The stored token is what registers verify, with the authority's keys.
	v, _ := licensecore.NewVerifier(licensecore.VerifierOptions{Issuer: ra.ts.URL, Audience: wire.DefaultAudience})
	if err := v.SetKeySet(ra.srv.JWKS()); err != nil {
		t.Fatal(err)
	}
	toks, _ := pc.store.Tokens()
	if _, err := v.Verify(toks.License); err != nil {
		t.Fatalf("registers refuse the imported token: %v", err)
	}

	// Challenge → response: the authority raises capacity and adds a feature.
	reseedT1(t, ra, 9, "xms", "loyalty")
	ch, err := pc.m.GetChallenge()
	if err != nil {
		t.Fatal(err)
	}
	code := p.upgrade(ch.String(), "POS-T1")
	st, err = pc.m.ApplyResponse(ctx, pc.sess, code)
	if err != nil {
		t.Fatal(err)
	}
	if l := st.License; l.Capacity != 9 || strings.Join(l.Features, ",") != "xms,loyalty" || !l.Offline || st.OfflineDaysLeft != 30 {
		t.Fatalf("after response: %+v", l)
	}
	if _, err := pc.m.ApplyResponse(ctx, pc.sess, code); !errors.Is(err, licensecore.ErrNoChallenge) {
		t.Fatalf("response applied twice: %v", err)
	}
	if next, _ := pc.m.GetChallenge(); next == ch {
		t.Fatal("the answered challenge is still pending")
	}
	log, _ := pc.store.AuditLog()
	var kinds []string
	for _, e := range log {
		kinds = append(kinds, e.Kind)
	}
	if k := strings.Join(kinds, ","); !strings.Contains(k, licensecore.EventImportedOffline) || !strings.Contains(k, licensecore.EventUpgradedOffline) {
		t.Fatalf("audit %s", k)
	}

	// Contact with the authority restarts the offline window; a new
	// online license ends offline mode.
	time.Sleep(10 * time.Millisecond)
	before := st.License.OfflineSince
	if st, err = pc.m.Verify(ctx); err != nil || !st.License.OfflineSince.After(before) || !st.License.Offline {
		t.Fatalf("verify while offline: %v %+v", err, st.License)
	}
	st, err = acquire(t, pc.m, ra.ts.URL, "approve")
	if err != nil {
		t.Fatal(err)
	}
	if st.License.Offline || !st.OfflineGraceEnd.IsZero() || time.Since(st.License.OfflineSince) > time.Minute {
		t.Fatalf("after online acquisition: %+v", st.License)
	}
}

// tamperToken changes one character in the middle of the file's token.
func tamperToken(t *testing.T, file []byte) []byte {
	t.Helper()
	var f wire.EntitlementFile
	if err := json.Unmarshal(file, &f); err != nil {
		t.Fatal(err)
	}
	b := []byte(f.Entitlement)
	i := strings.IndexByte(f.Entitlement, '.') + 10
	b[i] = map[bool]byte{true: 'A', false: 'B'}[b[i] != 'A']
	f.Entitlement = string(b)
	out, _ := json.Marshal(f)
	return out
}

// swapKey replaces the value of the file's key with another key's inside
// its root-signed key set (the root's signature then no longer matches).
func swapKey(t *testing.T, file []byte) []byte {
	t.Helper()
	var f wire.EntitlementFile
	if err := json.Unmarshal(file, &f); err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(f.KeySet, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c wire.KeySetClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, 32)).Public().(ed25519.PublicKey)
	c.Keys[0].X = base64.RawURLEncoding.EncodeToString(other)
	payload, _ = json.Marshal(c)
	parts[1] = base64.RawURLEncoding.EncodeToString(payload)
	f.KeySet = strings.Join(parts, ".")
	out, _ := json.Marshal(f)
	return out
}

func TestOfflineRefusals(t *testing.T) {
	ra := startAuthority(t, time.Hour)
	p := newPerson(t, ra.ts.URL)
	ctx := context.Background()
	pc := newOfflinePC(t, ra.ts.URL, ra.srv.RootPublicKey(), "BCDF-GHJK-LMNP-QRST", nil)
	req := pc.request(t)
	older := p.entitle(req, "POS-T1")
	time.Sleep(1100 * time.Millisecond) // a later iat
	current := p.entitle(req, "POS-T1")
	if _, err := pc.m.ImportEntitlement(ctx, pc.sess, current); err != nil {
		t.Fatal(err)
	}
	other := newOfflinePC(t, ra.ts.URL, ra.srv.RootPublicKey(), "ZZZZ-ZZZZ-ZZZZ-ZZZZ", nil)
	// The authority binds POS-T1 to the first install code it entitled, so
	// the only way another PC gets a file for it is a copy of this one.

	type fileCase struct {
		name string
		pc   *offlinePC
		sess *licensecore.AdminSession
		data []byte
		want error
	}
	files := []fileCase{
		{"replayed", pc, pc.sess, current, licensecore.ErrEntitlementReplayed},
		{"older than the stored license", pc, pc.sess, older, licensecore.ErrEntitlementReplayed},
		{"tampered", pc, pc.sess, tamperToken(t, current), licensecore.ErrEntitlementTampered},
		{"truncated", pc, pc.sess, current[:len(current)/2], licensecore.ErrEntitlementTampered},
		{"not a license file", pc, pc.sess, []byte(`{"entitlement":"x"}`), licensecore.ErrEntitlementTampered},
		{"oversized", pc, pc.sess, bytes.Repeat([]byte(" "), wire.MaxEntitlementFile+1), licensecore.ErrFileTooLarge},
		{"another PC's", other, other.sess, current, licensecore.ErrEntitlementForeign},
		{"key swapped in the file", pc, pc.sess, swapKey(t, current), wire.ErrUntrustedKeySet},
		{"no administrator", pc, nil, current, licensecore.ErrAdminRequired},
		{"forged session", pc, &licensecore.AdminSession{}, current, licensecore.ErrAdminRequired},
	}
	late := newOfflinePC(t, ra.ts.URL, ra.srv.RootPublicKey(), "BCDF-GHJK-LMNP-QRST", func() time.Time { return time.Now().Add(31 * 24 * time.Hour) })
	files = append(files, fileCase{"expired", late, late.sess, current, licensecore.ErrEntitlementExpired})
	elsewhere := newOfflinePC(t, "https://another-authority.example", ra.srv.RootPublicKey(), "BCDF-GHJK-LMNP-QRST", nil)
	files = append(files, fileCase{"from another authority", elsewhere, elsewhere.sess, current, licensecore.ErrEntitlementForeign})
	for _, tc := range files {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.pc.snapshot(t)
			_, err := tc.pc.m.ImportEntitlement(ctx, tc.sess, tc.data)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if !maps.Equal(before, tc.pc.snapshot(t)) {
				t.Fatal("a refused file changed the stored license")
			}
		})
	}

	// Response codes. The authority answers challenges only from the PC
	// POS-T1 is bound to, so "another challenge" comes from a second
	// installation on that PC.
	twin := newOfflinePC(t, ra.ts.URL, ra.srv.RootPublicKey(), "BCDF-GHJK-LMNP-QRST", nil)
	otherCh, err := twin.m.GetChallenge()
	if err != nil {
		t.Fatal(err)
	}
	otherCode := p.upgrade(otherCh.String(), "POS-T1")
	ch, err := pc.m.GetChallenge()
	if err != nil {
		t.Fatal(err)
	}
	code := p.upgrade(ch.String(), "POS-T1")
	typo := []byte(code)
	typo[6*4] = map[bool]byte{true: 'B', false: 'C'}[typo[6*4] != 'B'] // group 5
	codes := []struct {
		name string
		sess *licensecore.AdminSession
		code string
		want error
		msg  string
	}{
		{"no administrator", nil, code, licensecore.ErrAdminRequired, ""},
		{"forged session", &licensecore.AdminSession{}, code, licensecore.ErrAdminRequired, ""},
		{"typo", pc.sess, string(typo), wire.ErrCodeTypo, "group 5"},
		{"missing group", pc.sess, code[6:], wire.ErrCodeTypo, "should have 160"},
		{"another challenge's response", pc.sess, otherCode, wire.ErrResponseMismatch, ""},
	}
	for _, tc := range codes {
		t.Run("response "+tc.name, func(t *testing.T) {
			before := pc.snapshot(t)
			_, err := pc.m.ApplyResponse(ctx, tc.sess, tc.code)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, want %v (%q)", err, tc.want, tc.msg)
			}
			if !maps.Equal(before, pc.snapshot(t)) {
				t.Fatal("a refused code changed the store")
			}
		})
	}
	// After a key rotation the PC, never online, learns the new key from
	// the file's root-signed key set: the root it ships with vouches for it.
	if err := ra.srv.RotateKey(); err != nil {
		t.Fatal(err)
	}
	if _, err := pc.m.ImportEntitlement(ctx, pc.sess, p.entitle(req, "POS-T1")); err != nil {
		t.Fatalf("a file signed with the rotated-in key: %v", err)
	}
	if _, err := pc.m.ApplyResponse(ctx, pc.sess, code); err != nil {
		t.Fatalf("the genuine response after all the refusals: %v", err)
	}
}
