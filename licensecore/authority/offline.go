package authority

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/dgraph-io/badger/v4"
	"github.com/golang-jwt/jwt/v5"

	"licensedesk/licensecore/wire"
)

// Offline licensing for PCs that cannot reach the authority (byte layouts
// and the app's side are in licensecore/challenge.go and offline.go).
//
//	GET/POST /upgrade  form#upgrade-form: select#device[name=device], input#challenge[name=challenge],
//	                   button#make-response; the answer page shows p#response-code and
//	                   span#response-device; mistakes come back as p#form-error
//	GET/POST /entitle  form#entitle-form (multipart): select#device[name=device] (empty = match the
//	                   request's install code), input#request-file[name=request_file] (file) or
//	                   textarea#request[name=request]; button#make-entitlement. Success is the
//	                   download license.ent (Content-Disposition: attachment); mistakes come back
//	                   as p#form-error
//
// `authority entitle` is the command-line form of /entitle (Server.Entitle).

// Grants recorded for offline issuance (issuedRecord.Grant).
const (
	grantOfflineResponse    = "offline-response"
	grantOfflineEntitlement = "offline-entitlement"
)

// offlinePage is what the offline pages show besides pageData's common
// fields.
type offlinePage struct {
	Challenge  string // as typed, shown again after a mistake
	Response   string // the answer
	DeviceName string
	Request    string // pasted request, shown again after a mistake
}

// activeKey is the key that signs now.
func (r *keyRing) activeKey() signingKey {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.active
}

// deviceLicense loads a device's license and refuses one that may not be used.
func (s *Server) deviceLicense(dev deviceRecord) (licenseRecord, error) {
	var lic licenseRecord
	err := s.db.View(func(txn *badger.Txn) error { return getJSON(txn, pLicense+dev.LicenseID, &lic) })
	if errors.Is(err, errNotFound) {
		return lic, fmt.Errorf("%w: %s has no license", ErrNotEntitled, dev.Name)
	}
	if err != nil {
		return lic, err
	}
	if e := licenseUsable(&lic, s.now()); e != nil {
		return lic, fmt.Errorf("%w: %s: %s", ErrNotEntitled, dev.Name, e.Description)
	}
	return lic, nil
}

// AnswerChallenge turns a challenge code typed on /upgrade into the
// response code for the device serverID.
func (s *Server) AnswerChallenge(serverID, challenge string) (string, error) {
	var code string
	err := s.guard(func() error {
		var dev deviceRecord
		if err := s.db.View(func(txn *badger.Txn) error { return getJSON(txn, pDevice+serverID, &dev) }); errors.Is(err, errNotFound) {
			return fmt.Errorf("%w: %q", ErrUnknownDevice, serverID)
		} else if err != nil {
			return err
		}
		var err error
		code, err = s.answerChallenge(dev, challenge, ActorCLI)
		return err
	})
	return code, err
}

func (s *Server) answerChallenge(dev deviceRecord, typed, by string) (string, error) {
	ch, err := wire.ParseChallenge(typed)
	if err != nil {
		return "", err
	}
	if dev.InstallCode != "" && wire.ChallengeBinding(dev.InstallCode) != ch.Binding {
		return "", fmt.Errorf("%w: this challenge was not made on %s", ErrInstallMismatch, dev.Name)
	}
	lic, err := s.deviceLicense(dev)
	if err != nil {
		return "", err
	}
	now := s.now()
	claims := claimsFor(&dev, &lic)
	key := s.keys.activeKey()
	code, err := wire.SignResponse(key.priv, key.kid, ch, dev.ServerID, lic.ID, wire.ResponseEntitlement{
		IssuedAt: now, Capacity: claims.Capacity, Users: claims.Users, RenewalDate: claims.Renewal(), Features: claims.Features,
	})
	if err != nil {
		return "", err
	}
	id := "response-" + hex.EncodeToString(ch.Nonce[:])
	rec := issuedRecord{JTI: id, ServerID: dev.ServerID, LicenseID: lic.ID, Kid: key.kid, Grant: grantOfflineResponse,
		IssuedAt: now.UTC(), ExpiresAt: now.Add(wire.OfflineWindow).UTC()}
	err = s.retryUpdate(func(txn *badger.Txn) error {
		if err := setJSON(txn, pIssued+id, &rec, 0); err != nil {
			return err
		}
		return s.appendAudit(txn, AuditEntry{Actor: by, Action: AuditOfflineIssued, Subject: lic.ID,
			Detail: "response code for " + dev.Name + " (" + dev.ServerID + ")"})
	})
	if err != nil {
		return "", err
	}
	s.log.Info().Str("sub", dev.ServerID).Str("lid", lic.ID).Str("kid", key.kid).Msg("offline response code issued")
	return code, nil
}

// Entitle turns a license request file into a license file (.ent) for the
// device serverID, or, when serverID is empty, for the device whose
// install code is the request's. A device without an install code is bound
// to the request's by its first license file; a request with another
// install code than the device's is ErrInstallMismatch. The file carries
// the root-signed key set. It is `authority entitle`.
func (s *Server) Entitle(request []byte, serverID string) ([]byte, error) {
	var out []byte
	err := s.guard(func() error {
		req, err := wire.ParseLicenseRequest(request)
		if err != nil {
			return err
		}
		var devices []deviceRecord
		err = s.db.View(func(txn *badger.Txn) error {
			return scanJSON(txn, pDevice, func(d *deviceRecord) error { devices = append(devices, *d); return nil })
		})
		if err != nil {
			return err
		}
		dev, err := chooseDevice(devices, serverID, req)
		if err != nil {
			return err
		}
		out, err = s.entitle(dev, req, ActorCLI)
		return err
	})
	return out, err
}

// chooseDevice picks the device a request is answered for, among devices.
func chooseDevice(devices []deviceRecord, serverID string, req wire.LicenseRequestFile) (deviceRecord, error) {
	want := wire.NormalizeInstallCode(req.InstallCode)
	var found []deviceRecord
	for _, d := range devices {
		if serverID != "" && d.ServerID == serverID {
			return d, nil
		}
		if serverID == "" && d.InstallCode != "" && wire.NormalizeInstallCode(d.InstallCode) == want {
			found = append(found, d)
		}
	}
	switch {
	case serverID != "":
		return deviceRecord{}, fmt.Errorf("%w: %q", ErrUnknownDevice, serverID)
	case len(found) == 0:
		return deviceRecord{}, fmt.Errorf("%w with install code %s; choose the device", ErrUnknownDevice, req.InstallCode)
	case len(found) > 1:
		return deviceRecord{}, fmt.Errorf("%w: several devices have install code %s; choose the device", ErrUnknownDevice, req.InstallCode)
	}
	return found[0], nil
}

// entitle signs the license file of dev for req and records its issue. A
// device without an install code is bound to the request's from now on.
func (s *Server) entitle(dev deviceRecord, req wire.LicenseRequestFile, by string) ([]byte, error) {
	if err := installMatches(dev, req.InstallCode); err != nil {
		return nil, err
	}
	lic, err := s.deviceLicense(dev)
	if err != nil {
		return nil, err
	}
	for _, f := range []struct{ name, have, asked string }{
		{"account number", lic.AccountNumber, req.AccountNumber},
		{"serial number", lic.SerialNumber, req.SerialNumber},
	} {
		if f.have != "" && !strings.EqualFold(f.have, f.asked) {
			return nil, fmt.Errorf("%w: the request's %s %q is not the license's", ErrNotEntitled, f.name, f.asked)
		}
	}
	jti, err := randomToken(16)
	if err != nil {
		return nil, err
	}
	now := s.now()
	exp := now.Add(wire.OfflineWindow)
	claims := claimsFor(&dev, &lic)
	if claims.AccountNumber == "" {
		claims.AccountNumber = req.AccountNumber
	}
	if claims.SerialNumber == "" {
		claims.SerialNumber = req.SerialNumber
	}
	claims.InstallCode = req.InstallCode
	claims.RegisteredClaims = jwt.RegisteredClaims{
		Issuer: s.opts.Issuer, Subject: dev.ServerID, Audience: jwt.ClaimStrings{wire.DefaultAudience},
		ExpiresAt: jwt.NewNumericDate(exp), NotBefore: jwt.NewNumericDate(now), IssuedAt: jwt.NewNumericDate(now), ID: jti,
	}
	key := s.keys.activeKey()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	tok.Header["kid"], tok.Header["typ"] = key.kid, wire.EntitlementType
	signed, err := tok.SignedString(key.priv)
	if err != nil {
		return nil, err
	}
	keySet, err := s.keys.signedSet(s.root, s.opts.Issuer, now)
	if err != nil {
		return nil, err
	}
	file, err := wire.NewEntitlementFile(signed, keySet)
	if err != nil {
		return nil, err
	}
	rec := issuedRecord{JTI: jti, ServerID: dev.ServerID, LicenseID: lic.ID, Kid: key.kid, Grant: grantOfflineEntitlement, IssuedAt: now.UTC(), ExpiresAt: exp.UTC()}
	err = s.retryUpdate(func(txn *badger.Txn) error {
		if err := s.bindInstall(txn, dev.ServerID, req.InstallCode); err != nil {
			return err
		}
		if err := setJSON(txn, pIssued+jti, &rec, 0); err != nil {
			return err
		}
		return s.appendAudit(txn, AuditEntry{Actor: by, Action: AuditOfflineIssued, Subject: lic.ID,
			Detail: "license file for " + dev.Name + " (" + dev.ServerID + "), install code " + req.InstallCode})
	})
	if err != nil {
		return nil, err
	}
	s.log.Info().Str("sub", dev.ServerID).Str("lid", lic.ID).Str("jti", jti).Str("kid", key.kid).Msg("license file issued")
	return file, nil
}

// offlineMessage is the sentence a page shows for a refused code or request.
func offlineMessage(err error) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "authority: ")
	if msg != "" {
		msg = strings.ToUpper(msg[:1]) + msg[1:]
	}
	if errors.Is(err, wire.ErrCodeTypo) || errors.Is(err, wire.ErrCodeInvalid) {
		msg += ". Check the code shown on the PC."
	}
	return msg
}

// ---- pages ----

func (s *Server) offlinePage(w http.ResponseWriter, r *http.Request, page, title string) {
	sess, ok := s.currentSession(w, r, true)
	if !ok {
		s.renderError(w, http.StatusServiceUnavailable, session{}, "Please try again.")
		return
	}
	if _, ok := s.vendorOnly(w, r, sess); !ok {
		return
	}
	dc, ok := s.orgDevices(w, r, sess)
	if !ok {
		return
	}
	s.render(w, http.StatusOK, page, dc.page(title))
}

func (s *Server) handleUpgradePage(w http.ResponseWriter, r *http.Request) {
	s.offlinePage(w, r, "upgrade", "Upgrade offline")
}

func (s *Server) handleEntitlePage(w http.ResponseWriter, r *http.Request) {
	s.offlinePage(w, r, "entitle", "License file")
}

// offlinePost checks an offline page's POST (CSRF, sign-in, organization)
// and starts its page data with the chosen device.
func (s *Server) offlinePost(w http.ResponseWriter, r *http.Request, title string) (deviceContext, pageData, bool) {
	sess, ok := s.postForm(w, r)
	if !ok {
		return deviceContext{}, pageData{}, false
	}
	if _, ok := s.vendorOnly(w, r, sess); !ok {
		return deviceContext{}, pageData{}, false
	}
	dc, ok := s.orgDevices(w, r, sess)
	if !ok {
		return deviceContext{}, pageData{}, false
	}
	d := dc.page(title)
	d.SelectedDevice = r.PostFormValue("device")
	return dc, d, true
}

func (s *Server) handleUpgrade(w http.ResponseWriter, r *http.Request) {
	dc, d, ok := s.offlinePost(w, r, "Upgrade offline")
	if !ok {
		return
	}
	d.Offline.Challenge = cleanLabel(r.PostFormValue("challenge"), 64)
	dev, ok := dc.device(d.SelectedDevice)
	if !ok {
		d.Error = "Choose a device from the list."
		s.render(w, http.StatusBadRequest, "upgrade", d)
		return
	}
	code, err := s.answerChallenge(dev, r.PostFormValue("challenge"), dc.sess.user)
	if err != nil {
		d.Error = offlineMessage(err)
		s.render(w, http.StatusBadRequest, "upgrade", d)
		return
	}
	d.Offline.Response, d.Offline.DeviceName = code, dev.Name
	s.render(w, http.StatusOK, "upgrade", d)
}

func (s *Server) handleEntitle(w http.ResponseWriter, r *http.Request) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "multipart/form-data" {
		// postForm's ParseForm does not read multipart bodies.
		r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
		if err := r.ParseMultipartForm(s.opts.MaxBodyBytes); err != nil {
			s.renderError(w, http.StatusBadRequest, session{}, "The form could not be read; the request file may be too large.")
			return
		}
		defer r.MultipartForm.RemoveAll()
	}
	dc, d, ok := s.offlinePost(w, r, "License file")
	if !ok {
		return
	}
	request := []byte(r.PostFormValue("request"))
	if f, _, err := r.FormFile("request_file"); err == nil {
		data, rerr := io.ReadAll(io.LimitReader(f, wire.MaxRequestFile+1))
		f.Close()
		if rerr == nil && len(data) > 0 {
			request = data
		}
	}
	d.Offline.Request = cleanLabel(string(request), wire.MaxRequestFile)
	fail := func(msg string) {
		d.Error = msg
		s.render(w, http.StatusBadRequest, "entitle", d)
	}
	req, err := wire.ParseLicenseRequest(request)
	if err != nil {
		fail(offlineMessage(err))
		return
	}
	dev, err := chooseDevice(dc.devices, d.SelectedDevice, req)
	if err != nil {
		fail(offlineMessage(err))
		return
	}
	file, err := s.entitle(dev, req, dc.sess.user)
	if err != nil {
		fail(offlineMessage(err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/vnd.licensedesk.entitlement+json")
	h.Set("Content-Disposition", `attachment; filename="license.ent"`)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(file)
}
