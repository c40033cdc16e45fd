package authority_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"licensedesk/licensecore/authority"
	"licensedesk/licensecore/wire"
)

var responseCodeRE = regexp.MustCompile(`id="response-code" class="code">([^<]+)<`)

func challengeFor(t *testing.T, installCode string, nonce byte) wire.Challenge {
	t.Helper()
	ch, err := wire.NewChallenge(bytes.NewReader(bytes.Repeat([]byte{nonce}, 7)), installCode, t0)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

func (e *env) keys() wire.JWKS { return e.srv.JWKS() }

func TestUpgradePage(t *testing.T) {
	e := newEnv(t)
	b := e.login(alice, alicePW, orgAcme)
	if st, body := b.get("/upgrade"); st != http.StatusOK || !strings.Contains(body, `id="upgrade-form"`) || !strings.Contains(body, `id="nav-upgrade"`) {
		t.Fatalf("upgrade page: %d %s", st, body)
	}
	ch := challengeFor(t, "ic-1", 5) // devMain's install code, typed in lower case
	st, body := b.post("/upgrade", url.Values{"device": {devMain}, "challenge": {strings.ToLower(ch.String())}})
	m := responseCodeRE.FindStringSubmatch(body)
	if st != http.StatusOK || m == nil || !strings.Contains(body, `id="response-device">Main Store<`) {
		t.Fatalf("answer: %d %s", st, body)
	}
	keys, _ := e.keys().PublicKeys()
	got, err := wire.VerifyResponse(m[1], ch, devMain, "LIC-MAIN", keys)
	if err != nil {
		t.Fatal(err)
	}
	if got.Capacity != 12 || strings.Join(got.Features, ",") != "xms" || !got.RenewalDate.Equal(t0.AddDate(1, 0, 0).Truncate(24*time.Hour)) ||
		!got.IssuedAt.Equal(t0) {
		t.Fatalf("entitlement %+v", got)
	}
	typo := []byte(ch.String())
	typo[6] = map[bool]byte{true: 'B', false: 'C'}[typo[6] != 'B']
	cases := []struct {
		name, device, challenge string
		status                  int
		want                    string
	}{
		{"typo in group 2", devMain, string(typo), http.StatusBadRequest, "typing mistake"},
		{"made on another PC", devMain, challengeFor(t, "IC-2", 5).String(), http.StatusBadRequest, "was not made on Main Store"},
		{"device without install code takes any", devPerpetual, challengeFor(t, "IC-2", 6).String(), http.StatusOK, `id="response-code"`},
		{"expired license", devExpired, ch.String(), http.StatusBadRequest, "cannot be used"},
		{"revoked license", devRevoked, ch.String(), http.StatusBadRequest, "revoked"},
		{"other organization's device", devBeta, ch.String(), http.StatusBadRequest, "Choose a device from the list."},
		{"empty", devMain, "", http.StatusBadRequest, "typing mistake"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, body := b.post("/upgrade", url.Values{"device": {tc.device}, "challenge": {tc.challenge}})
			if st != tc.status || !strings.Contains(body, tc.want) {
				t.Fatalf("%d, want %d with %q:\n%s", st, tc.status, tc.want, body)
			}
			if tc.status != http.StatusOK && !strings.Contains(body, `id="form-error"`) {
				t.Fatal("no form error")
			}
		})
	}
	if st, body := b.post("/upgrade", url.Values{"device": {devMain}, "challenge": {ch.String()}, "csrf_token": {"forged"}}); st != http.StatusForbidden {
		t.Fatalf("forged CSRF: %d %s", st, body)
	}
	if st, body := e.newBrowser().get("/upgrade"); st != http.StatusOK || !strings.Contains(body, `id="login-form"`) {
		t.Fatalf("signed out: %d %s", st, body)
	}
	if _, err := e.srv.AnswerChallenge("NOPE", ch.String()); !errors.Is(err, authority.ErrUnknownDevice) {
		t.Fatalf("unknown device: %v", err)
	}
}

func licenseRequest(t *testing.T, installCode string) []byte {
	t.Helper()
	req, err := json.Marshal(wire.LicenseRequestFile{Version: 1, Type: "licence-request", AccountNumber: "ACC-7",
		SerialNumber: "SER-7", InstallCode: installCode, DeviceName: "Till PC", Nonce: "AAAAAAAAAAAAAAAAAAAAAA", CreatedAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// postFile submits /entitle as a browser does: multipart, with the request
// as an uploaded file.
func (b *browser) postFile(device string, request []byte) *http.Response {
	b.e.t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	_ = w.WriteField("csrf_token", b.csrf)
	_ = w.WriteField("device", device)
	fw, _ := w.CreateFormFile("request_file", "license-request.json")
	_, _ = fw.Write(request)
	_ = w.Close()
	resp, err := b.c.Post(b.e.url+"/entitle", w.FormDataContentType(), &body)
	if err != nil {
		b.e.t.Fatal(err)
	}
	return resp
}

func TestEntitlePage(t *testing.T) {
	e := newEnv(t)
	b := e.login(alice, alicePW, orgAcme)
	if st, body := b.get("/entitle"); st != http.StatusOK || !strings.Contains(body, `id="entitle-form"`) {
		t.Fatalf("entitle page: %d %s", st, body)
	}
	resp := b.postFile("", licenseRequest(t, "ic-1")) // matched to devMain by install code
	st, body := b.keep(resp)
	if st != http.StatusOK || resp.Header.Get("Content-Disposition") != `attachment; filename="license.ent"` {
		t.Fatalf("download: %d %v %s", st, resp.Header, body)
	}
	var f wire.EntitlementFile
	if err := json.Unmarshal([]byte(body), &f); err != nil || f.JWKS != nil {
		t.Fatalf("license file %s: %v", body, err)
	}
	if _, _, err := wire.VerifyKeySet(f.KeySet, e.srv.RootPublicKey()); err != nil {
		t.Fatalf("the file's key set is not signed by the root: %v", err)
	}
	claims, err := e.verifier().Verify(f.Entitlement) // registers accept it as a license token
	if err != nil {
		t.Fatal(err)
	}
	if claims.Subject != devMain || claims.InstallCode != "ic-1" || claims.AccountNumber != "ACC-7" ||
		claims.ExpiresAt.Sub(claims.IssuedAt.Time) != wire.OfflineWindow {
		t.Fatalf("claims %+v", claims)
	}
	// Pasted instead of uploaded, for a device chosen by hand.
	st, body = b.post("/entitle", url.Values{"device": {devPerpetual}, "request": {string(licenseRequest(t, "IC-77"))}})
	if st != http.StatusOK || !strings.Contains(body, `"entitlement"`) {
		t.Fatalf("pasted: %d %s", st, body)
	}
	cases := []struct {
		name, device string
		request      []byte
		want         string
	}{
		{"install code of another device", devMain, licenseRequest(t, "IC-9"), "another install code"},
		{"no device with the install code", "", licenseRequest(t, "IC-9"), "No such device"},
		{"not a request", "", []byte(`{"hello":1}`), "incomplete or damaged"},
		{"expired license", devExpired, licenseRequest(t, "IC-9"), "cannot be used"},
		{"other organization's device", devBeta, licenseRequest(t, "IC-9"), "No such device"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, body := b.keep(b.postFile(tc.device, tc.request))
			if st != http.StatusBadRequest || !strings.Contains(body, tc.want) || !strings.Contains(body, `id="form-error"`) {
				t.Fatalf("%d, want 400 with %q:\n%s", st, tc.want, body)
			}
		})
	}
}

func TestEntitleAccountMustMatch(t *testing.T) {
	e := newEnv(t)
	seed := testSeed()
	seed.Organizations[0].Devices[1].License.AccountNumber = "ACC-1"
	if err := e.srv.Seed(seed); err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.Entitle(licenseRequest(t, "IC-5"), devPerpetual); !errors.Is(err, authority.ErrNotEntitled) {
		t.Fatalf("wrong account number: %v", err)
	}
	if _, err := e.srv.Entitle([]byte("nope"), devPerpetual); !errors.Is(err, wire.ErrRequestInvalid) {
		t.Fatalf("bad request: %v", err)
	}
}
