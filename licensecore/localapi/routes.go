package localapi

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"licensedesk/licensecore"
	"licensedesk/licensecore/wire"
)

//go:embed openapi.yaml
var openAPI []byte

// OpenAPI is the API's OpenAPI 3 description, as GET /v1/openapi.yaml
// serves it.
func OpenAPI() []byte { return openAPI }

// Timeouts of answers that wait for the authority or a person.
const (
	authorityTimeout = 3 * time.Minute
	poolTimeout      = 15 * time.Minute // a whole activation batch
	deviceTimeout    = 30 * time.Minute // a user code lives 15 minutes
)

// routes is every operation of API version 1; openapi.yaml describes the
// same list (openapi_test.go checks both ways).
var routes = []route{
	// The license and the POS hand-off.
	{method: "GET", path: "/v1/status", answer: (*Server).getStatus},
	{method: "GET", path: "/v1/info", answer: (*Server).getInfo},
	{method: "GET", path: "/v1/token", answer: (*Server).getToken},
	{method: "GET", path: "/v1/jwks", answer: (*Server).getJWKS},
	{method: "POST", path: "/v1/verify", answer: (*Server).postVerify},
	{method: "GET", path: "/v1/openapi.yaml", stream: func(_ *Server, w http.ResponseWriter, _ *http.Request) error {
		w.Header().Set("Content-Type", "application/yaml")
		_, err := w.Write(openAPI)
		return err
	}},
	// Acquisition and refresh.
	{method: "POST", path: "/v1/device/start", timeout: authorityTimeout, answer: (*Server).startDevice},
	{method: "POST", path: "/v1/device/complete", timeout: deviceTimeout, answer: (*Server).completeDevice},
	{method: "POST", path: "/v1/refresh", timeout: authorityTimeout, answer: func(s *Server, r *http.Request) (any, error) {
		return s.status(s.opts.Refresh(r.Context()))
	}},
	// The lifecycle.
	{method: "POST", path: "/v1/license/verify", timeout: authorityTimeout, answer: func(s *Server, r *http.Request) (any, error) {
		return s.status(s.opts.Manager.Verify(r.Context()))
	}},
	{method: "POST", path: "/v1/license/download", timeout: authorityTimeout, answer: (*Server).download},
	{method: "POST", path: "/v1/license/remove", timeout: authorityTimeout, answer: (*Server).remove},
	{method: "GET", path: "/v1/switch", answer: func(s *Server, _ *http.Request) (any, error) {
		req, ok := s.opts.Manager.PendingSwitch()
		if !ok {
			return pendingDoc{}, nil
		}
		return pendingDoc{Pending: true, Request: &req}, nil
	}},
	{method: "POST", path: "/v1/switch", timeout: authorityTimeout, answer: (*Server).requestSwitch},
	{method: "POST", path: "/v1/switch/check", timeout: authorityTimeout, answer: (*Server).checkSwitch},
	// Offline activation.
	{method: "GET", path: "/v1/offline/challenge", answer: func(s *Server, _ *http.Request) (any, error) {
		return s.opts.Manager.GetChallenge()
	}},
	{method: "POST", path: "/v1/offline/response", answer: (*Server).applyResponse},
	{method: "POST", path: "/v1/offline/request", answer: (*Server).licenseRequest},
	{method: "POST", path: "/v1/offline/import", limit: maxFileBody, answer: (*Server).importFile},
	// Administrators.
	{method: "GET", path: "/v1/admin", answer: func(s *Server, _ *http.Request) (any, error) {
		has, err := s.opts.Admins.HasAdministrator()
		return hasAdminDoc{Has: has}, err
	}},
	{method: "POST", path: "/v1/admin", answer: func(s *Server, r *http.Request) (any, error) {
		var in credentialsDoc
		if err := decode(r, &in); err != nil {
			return nil, err
		}
		return nil, s.opts.Admins.CreateAdministrator(in.User, in.Password)
	}},
	{method: "POST", path: "/v1/admin/login", answer: (*Server).login},
	{method: "POST", path: "/v1/admin/logout", answer: func(s *Server, r *http.Request) (any, error) {
		sess, err := s.session(r)
		if err != nil || sess == nil {
			return nil, err // an unknown session is logged out already
		}
		s.opts.Admins.AdminLogout(sess)
		return nil, nil
	}},
	// The customer account and the cloud pool.
	{method: "GET", path: "/v1/account", answer: func(s *Server, _ *http.Request) (any, error) { return s.opts.Pool.Account() }},
	{method: "PUT", path: "/v1/account", timeout: authorityTimeout, answer: (*Server).setCustomer},
	{method: "GET", path: "/v1/pool", timeout: authorityTimeout, answer: func(s *Server, r *http.Request) (any, error) {
		return s.opts.Pool.PoolLicenses(r.Context())
	}},
	{method: "POST", path: "/v1/pool/activate", timeout: poolTimeout, stream: (*Server).activate},
	{method: "POST", path: "/v1/pool/transfer", timeout: poolTimeout, answer: (*Server).transfer},
	{method: "GET", path: "/v1/pool/activated", answer: func(s *Server, _ *http.Request) (any, error) {
		return s.opts.Pool.ActivatedLicenses()
	}},
	{method: "GET", path: "/v1/pool/totals", answer: func(s *Server, _ *http.Request) (any, error) { return s.opts.Pool.TotalCapacity() }},
	// The agent: notices for the tray, settings, stop.
	{method: "GET", path: "/v1/notices", answer: (*Server).getNotices},
	{method: "GET", path: "/v1/settings", answer: (*Server).getSettings},
	{method: "PUT", path: "/v1/settings", answer: (*Server).putSettings},
	{method: "POST", path: "/v1/settings/authority", timeout: authorityTimeout, answer: (*Server).changeAuthority},
	{method: "POST", path: "/v1/stop", answer: (*Server).stop},
	{method: "POST", path: "/v1/pool/plan", answer: func(s *Server, r *http.Request) (any, error) {
		var in idsDoc
		if err := decode(r, &in); err != nil {
			return nil, err
		}
		return s.opts.Pool.PlanTransfer(in.IDs)
	}},
}

// getStatus answers the status; with after=<revision> it first waits
// until the revision differs.
func (s *Server) getStatus(r *http.Request) (any, error) {
	if raw := r.URL.Query().Get("after"); raw != "" {
		after, err := strconv.ParseUint(raw, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: after=%q is not a revision", ErrBadRequest, raw)
		}
		d, err := s.waitParam(r)
		if err != nil {
			return nil, err
		}
		if err := s.wait(r.Context(), d, func() (bool, error) { rev, _ := s.revision(); return rev != after, nil }); err != nil {
			return nil, err
		}
	}
	rev, _ := s.revision()
	return statusDoc(s.opts.Manager.Status(), rev), nil
}

func (s *Server) getInfo(*http.Request) (any, error) {
	m := s.opts.Manager
	in := Info{AuthorityURL: m.AuthorityURL(), Policy: m.Policy()}
	in.DeviceName, in.InstallCode = m.DeviceIdentity()
	if root := m.Root(); root != nil {
		in.RootKey, in.RootFingerprint = wire.EncodeRootKey(root), wire.Fingerprint(root)
	}
	return in, nil
}

// getToken answers the license token; with after=<jti> it first waits
// until the token has another jti.
func (s *Server) getToken(r *http.Request) (any, error) {
	m := s.opts.Manager
	tok, err := s.opts.HandOff.CurrentToken()
	if err != nil {
		return nil, err
	}
	if after := r.URL.Query().Get("after"); after != "" && tok.ID == after {
		d, err := s.waitParam(r)
		if err != nil {
			return nil, err
		}
		err = s.wait(r.Context(), d, func() (bool, error) {
			tok, err = s.opts.HandOff.CurrentToken()
			return err == nil && tok.ID != after, err
		})
		if err != nil {
			return nil, err
		}
	}
	st := m.Status()
	return TokenDoc{Token: tok.Token, ID: tok.ID, ServerID: tok.ServerID, IssuedAt: tok.IssuedAt, Expiry: tok.Expiry,
		State: stateCodes[st.State], TokenState: tokenCodes[st.Token]}, nil
}

func (s *Server) getJWKS(*http.Request) (any, error) {
	m := s.opts.Manager
	jws, set, err := s.opts.HandOff.KeySet()
	if err != nil {
		return nil, err
	}
	root := m.Root()
	return KeySetDoc{JWS: jws, JWKS: set, Issuer: m.Client().Issuer(), Audience: wire.DefaultAudience,
		RootKey: wire.EncodeRootKey(root), RootFingerprint: wire.Fingerprint(root)}, nil
}

// dpopSkew is how far a peer's DPoP proof time may lie from the agent's.
const dpopSkew = 5 * time.Minute

// postVerify verifies a peer's token: a refused token is a 200 answer
// with valid false and the reason; only a request that cannot be read is
// an error answer.
func (s *Server) postVerify(r *http.Request) (any, error) {
	var in VerifyRequest
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	if in.Token == "" {
		return nil, fmt.Errorf("%w: token is required", ErrBadRequest)
	}
	jkt := ""
	var err error
	if in.DPoP != "" {
		_, jkt, err = wire.VerifyDPoPProof(in.DPoP, in.HTM, in.HTU, s.opts.Now(), dpopSkew)
	}
	var claims *wire.Claims
	if err == nil {
		claims, err = s.opts.HandOff.VerifyPeerToken(in.Token, jkt)
	}
	if err != nil {
		b, _ := encodeError(err)
		return VerifyDoc{Reason: &b}, nil
	}
	return VerifyDoc{Valid: true, Claims: claims}, nil
}

func (s *Server) startDevice(r *http.Request) (any, error) {
	da, err := s.opts.Manager.StartDeviceAuth(r.Context())
	if err != nil {
		return nil, err
	}
	now := s.opts.Now()
	s.mu.Lock()
	for code, old := range s.devices {
		if now.After(old.Expiry) {
			delete(s.devices, code)
		}
	}
	s.devices[da.UserCode] = da
	s.mu.Unlock()
	return deviceAuthDoc{UserCode: da.UserCode, VerificationURI: da.VerificationURI, VerificationURIComplete: da.VerificationURIComplete,
		Expiry: da.Expiry, IntervalNS: int64(da.Interval)}, nil
}

func (s *Server) completeDevice(r *http.Request) (any, error) {
	var in userCodeDoc
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	da := s.devices[in.UserCode]
	s.mu.Unlock()
	if da == nil {
		return nil, fmt.Errorf("%w: user code %q", ErrUnknownAuthorization, in.UserCode)
	}
	st, err := s.opts.Manager.CompleteDeviceAuth(r.Context(), da)
	if err == nil {
		s.mu.Lock()
		delete(s.devices, in.UserCode)
		s.mu.Unlock()
	}
	return s.status(st, err)
}

func (s *Server) download(r *http.Request) (any, error) {
	st, changes, err := s.opts.Manager.DownloadLicense(r.Context())
	doc, err := s.status(st, err)
	if err != nil {
		return nil, err
	}
	return downloadDoc{Status: doc.(StatusDoc), Changes: changes}, nil
}

// withSession runs a protected change with the request's session.
func (s *Server) withSession(r *http.Request, in any, do func(*licensecore.AdminSession) (any, error)) (any, error) {
	sess, err := s.session(r)
	if err != nil {
		return nil, err
	}
	if in != nil {
		if err := decode(r, in); err != nil {
			return nil, err
		}
	}
	return do(sess)
}

func (s *Server) remove(r *http.Request) (any, error) {
	var in removeDoc
	return s.withSession(r, &in, func(sess *licensecore.AdminSession) (any, error) {
		err := s.opts.Manager.Remove(r.Context(), sess, licensecore.RemoveOptions{Force: in.Force})
		return s.status(s.opts.Manager.Status(), err)
	})
}

func (s *Server) requestSwitch(r *http.Request) (any, error) {
	var in switchToDoc
	return s.withSession(r, &in, func(sess *licensecore.AdminSession) (any, error) {
		return s.opts.Manager.RequestSwitch(r.Context(), sess, in.To)
	})
}

func (s *Server) checkSwitch(r *http.Request) (any, error) {
	req, st, err := s.opts.Manager.CheckSwitch(r.Context())
	doc, err := s.status(st, err)
	if err != nil {
		return nil, err
	}
	return checkSwitchDoc{Request: req, Status: doc.(StatusDoc)}, nil
}

func (s *Server) applyResponse(r *http.Request) (any, error) {
	var in codeDoc
	return s.withSession(r, &in, func(sess *licensecore.AdminSession) (any, error) {
		return s.status(s.opts.Manager.ApplyResponse(r.Context(), sess, in.Code))
	})
}

func (s *Server) licenseRequest(r *http.Request) (any, error) {
	var in licenseRequestDoc
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	file, err := s.opts.Manager.LicenseRequest(in.Account, in.Serial)
	return fileDoc{File: file}, err
}

func (s *Server) importFile(r *http.Request) (any, error) {
	var in fileDoc
	return s.withSession(r, &in, func(sess *licensecore.AdminSession) (any, error) {
		return s.status(s.opts.Manager.ImportEntitlement(r.Context(), sess, in.File))
	})
}

func (s *Server) login(r *http.Request) (any, error) {
	var in credentialsDoc
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	sess, err := s.opts.Admins.AdminLogin(in.User, in.Password)
	if err != nil {
		return nil, err
	}
	return sessionDoc{User: sess.User(), Token: sess.Token(), Expires: sess.Expires()}, nil
}

func (s *Server) setCustomer(r *http.Request) (any, error) {
	var in customerDoc
	return s.withSession(r, &in, func(sess *licensecore.AdminSession) (any, error) {
		return s.opts.Pool.SetCustomerID(r.Context(), sess, in.CustomerID)
	})
}

func (s *Server) transfer(r *http.Request) (any, error) {
	var in idsDoc
	return s.withSession(r, &in, func(sess *licensecore.AdminSession) (any, error) {
		return s.opts.Pool.TransferToPool(r.Context(), sess, in.IDs)
	})
}

// activate streams NDJSON: a line per license done, then the final line
// with the result or the error, so the screen shows progress.
func (s *Server) activate(w http.ResponseWriter, r *http.Request) error {
	var in idsDoc
	sess, err := s.session(r)
	if err == nil {
		err = decode(r, &in)
	}
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	enc := json.NewEncoder(w)
	progress := func(done, total int) {
		_ = enc.Encode(activateLine{Done: &done, Total: total})
		_ = rc.Flush()
	}
	got, err := s.opts.Pool.ActivatePool(r.Context(), sess, in.IDs, progress)
	last := activateLine{Final: true, Activated: got}
	if err != nil {
		b, _ := encodeError(err)
		last.Error = &b
	}
	_ = enc.Encode(last)
	return nil
}
