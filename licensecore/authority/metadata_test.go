package authority_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"licensedesk/licensecore/authority"
	"licensedesk/licensecore/wire"
)

// TestMetadata: the RFC 8414 document names this issuer, and every
// endpoint it names is served here, as the document says: the device
// authorization and token endpoints answer POSTs as OAuth endpoints, the
// JWKS URI a key set.
func TestMetadata(t *testing.T) {
	e := newEnv(t)
	resp, err := http.Get(e.url + wire.PathMetadata)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var md wire.AuthorizationServerMetadata
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET %s: %d %s", wire.PathMetadata, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if err := json.NewDecoder(resp.Body).Decode(&md); err != nil {
		t.Fatal(err)
	}
	if md.Issuer != e.url {
		t.Fatalf("issuer %q, want %q (RFC 8414 §3.3)", md.Issuer, e.url)
	}
	for _, g := range []string{wire.GrantDeviceCode, wire.GrantRefreshToken} {
		if !slices.Contains(md.GrantTypesSupported, g) {
			t.Errorf("grant_types_supported %v lacks %s", md.GrantTypesSupported, g)
		}
	}
	if !slices.Equal(md.DPoPSigningAlgValuesSupported, []string{"EdDSA"}) {
		t.Errorf("dpop_signing_alg_values_supported %v", md.DPoPSigningAlgValuesSupported)
	}
	for name, u := range map[string]string{"device_authorization_endpoint": md.DeviceAuthorizationEndpoint,
		"token_endpoint": md.TokenEndpoint, "jwks_uri": md.JWKSURI, "signed_jwks_uri": md.SignedJWKSURI} {
		if !strings.HasPrefix(u, e.url+"/") {
			t.Errorf("%s %q is not under the issuer", name, u)
		}
	}
	// The device authorization endpoint starts an authorization.
	da := e.pc.postOAuth(strings.TrimPrefix(md.DeviceAuthorizationEndpoint, e.url), url.Values{"client_id": {authority.DefaultClientID}})
	if da.status != http.StatusOK || da.str("device_code") == "" {
		t.Fatalf("device_authorization_endpoint: %d %v", da.status, da.body)
	}
	// The token endpoint answers the device code grant.
	tok := e.pc.postOAuth(strings.TrimPrefix(md.TokenEndpoint, e.url), url.Values{"client_id": {authority.DefaultClientID},
		"grant_type": {md.GrantTypesSupported[0]}, "device_code": {da.str("device_code")}})
	wantError(t, tok, http.StatusBadRequest, string(wire.CodeAuthorizationPending))
	// The JWKS URI is the key set.
	if _, _, err := wire.ParseJWKS([]byte(mustGet(t, md.JWKSURI))); err != nil {
		t.Fatalf("jwks_uri: %v", err)
	}
	if want := e.srv.Metadata(); md.TokenEndpoint != want.TokenEndpoint || !slices.Equal(md.GrantTypesSupported, want.GrantTypesSupported) {
		t.Fatalf("served %+v, Server.Metadata %+v", md, want)
	}
}

// TestAuditLog: approvals, denials, switch decisions, revocation, key
// rotation and a chain revoked by a moved license are in the audit log,
// in order, with who did them; the chain verifies, the export is JSON
// lines of the same entries, and the Audit page is the vendor's.
func TestAuditLog(t *testing.T) {
	e := newEnv(t)
	refresh := e.acquire(devMain).str("refresh_token") // approved by alice
	da := e.authorize()
	e.login(carol, carolPW, orgAcme).decide(da.str("user_code"), devMain, "deny")
	id := e.lifecycle("/licence/switch", "refresh_token", refresh, "to", "perpetual").str("request_id")
	if err := e.srv.DecideSwitch(id, "", true, alice); err != nil {
		t.Fatal(err)
	}
	other := e.newPC("IC-1", "Second PC") // the license moves: the first chain is revoked
	da = other.authorize("device_name", other.name)
	e.login(alice, alicePW, orgAcme).decide(da.str("user_code"), devMain, "approve")
	other.poll(da.str("device_code"))
	if err := e.srv.RevokeLicense("LIC-PERP"); err != nil {
		t.Fatal(err)
	}
	vendor := e.login(alice, alicePW, orgAcme)
	vendor.get("/licenses")
	if st, page := vendor.post("/keys/rotate", url.Values{}); st != http.StatusOK || !strings.Contains(page, `id="vendor-message"`) {
		t.Fatalf("rotate from the page: %d", st)
	}

	n, err := e.srv.VerifyAudit()
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	if err := e.srv.ExportAudit(&sb); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(sb.String()), "\n")
	var got []string
	for i, line := range lines {
		var entry authority.AuditEntry
		if err := json.Unmarshal([]byte(line), &entry); err != nil || entry.Seq != uint64(i+1) || entry.Hash == "" {
			t.Fatalf("line %d: %q (%v)", i+1, line, err)
		}
		got = append(got, entry.Actor+" "+entry.Action)
	}
	want := []string{alice + " " + authority.AuditDeviceApproved, carol + " " + authority.AuditDeviceDenied,
		alice + " " + authority.AuditSwitchApproved, authority.ActorAuthority + " " + authority.AuditChainRevoked,
		alice + " " + authority.AuditDeviceApproved, authority.ActorCLI + " " + authority.AuditLicenseRevoked,
		alice + " " + authority.AuditKeyRotated}
	// The chain is revoked in the transaction that redeems the second
	// approval, after the approval itself.
	want[3], want[4] = want[4], want[3]
	if n != len(want) || !slices.Equal(got, want) {
		t.Fatalf("audit log (%d entries):\n%s\nwant:\n%s", n, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	st, page := vendor.get("/audit")
	if st != http.StatusOK || !strings.Contains(page, `id="audit-verified"`) || strings.Count(page, `class="audit-entry"`) != len(want) {
		t.Fatalf("audit page: %d", st)
	}
	resp, err := vendor.c.Get(e.url + "/audit.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	st, body := vendor.keep(resp)
	if st != http.StatusOK || body != sb.String() {
		t.Fatalf("export from the page: %d, %d bytes, want the %d of ExportAudit", st, len(body), sb.Len())
	}
}
