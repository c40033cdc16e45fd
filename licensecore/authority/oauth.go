package authority

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/dgraph-io/badger/v4"
	"github.com/golang-jwt/jwt/v5"

	"licensedesk/licensecore/wire"
)

// Grant types of the token endpoint.
const (
	grantDeviceCode = wire.GrantDeviceCode
	grantRefresh    = wire.GrantRefreshToken
)

// oauthError is an error answer (wire.ErrorAnswer) with its HTTP status
// and, for a 429, the seconds of its Retry-After header.
type oauthError struct {
	status     int
	retryAfter int
	wire.ErrorAnswer
}

func oerr(status int, code wire.ErrorCode, desc string) *oauthError {
	return &oauthError{status: status, ErrorAnswer: wire.ErrorAnswer{Code: code, Description: desc}}
}

func badRequest(code wire.ErrorCode, desc string) *oauthError {
	return oerr(http.StatusBadRequest, code, desc)
}

// refused is a 400 whose reason the client acts on (a revoked or expired
// license), beyond the OAuth code.
func withReason(code wire.ErrorCode, reason wire.Reason, desc string) *oauthError {
	e := badRequest(code, desc)
	e.Reason = reason
	return e
}

var errServer = oerr(http.StatusInternalServerError, wire.CodeServerError, "the authorization server failed; try again")

// writeJSON answers with no-store caching, as RFC 6749 §5.1 requires of
// token responses.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeOAuthError(w http.ResponseWriter, e *oauthError) {
	if e.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="License Desk authority"`)
	}
	if e.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.retryAfter))
	}
	writeJSON(w, e.status, e)
}

// oauthForm validates the envelope of an OAuth POST — method, media type,
// size, repeated parameters (RFC 6749 §3.2) — and identifies the public
// client by its client_id.
func (s *Server) oauthForm(w http.ResponseWriter, r *http.Request) (url.Values, string, *oauthError) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return nil, "", oerr(http.StatusMethodNotAllowed, wire.CodeInvalidRequest, "use POST")
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		return nil, "", badRequest(wire.CodeInvalidRequest, "the body must be application/x-www-form-urlencoded")
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, "", oerr(http.StatusRequestEntityTooLarge, wire.CodeInvalidRequest, "request body too large")
		}
		return nil, "", badRequest(wire.CodeInvalidRequest, "malformed form body")
	}
	form := r.PostForm
	for k, v := range form {
		if len(v) > 1 {
			return nil, "", badRequest(wire.CodeInvalidRequest, "parameter "+k+" is repeated")
		}
	}
	if r.Header.Get("Authorization") != "" {
		return nil, "", oerr(http.StatusUnauthorized, wire.CodeInvalidClient,
			"this is a public client: send client_id in the request body, without HTTP authentication")
	}
	id := form.Get("client_id")
	if id == "" {
		return nil, "", badRequest(wire.CodeInvalidRequest, "client_id is required")
	}
	s.clientsMu.RLock()
	known := s.clients[id]
	s.clientsMu.RUnlock()
	if !known {
		return nil, "", oerr(http.StatusUnauthorized, wire.CodeInvalidClient, "unknown client_id")
	}
	return form, id, nil
}

// deviceAuthResponse is RFC 8628 §3.2.
type deviceAuthResponse struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresIn               int64  `json:"expires_in"`
	Interval                int64  `json:"interval"`
}

// oauthEndpoint adapts an OAuth endpoint: fn gets the validated form, the
// client and the thumbprint of the request's DPoP key ("" without a proof)
// and returns the JSON answer or an RFC 6749 error.
func (s *Server) oauthEndpoint(fn func(form url.Values, clientID, jkt string) (any, *oauthError)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		form, clientID, e := s.oauthForm(w, r)
		var resp any
		if e == nil {
			resp, e = fn(form, clientID, proofOf(r))
		}
		if e != nil {
			writeOAuthError(w, e)
			return
		}
		writeJSON(w, http.StatusOK, resp)
	}
}

// handleDeviceAuthorize starts an authorization. A DPoP proof is optional
// here; when there is one, only its key may redeem the device code. The
// live codes of the caller's IP address and of the client (its DPoP key,
// else its install code) are bounded, and so are all live codes: over a
// bound the answer is 429 slow_down with Retry-After, and nothing is made.
func (s *Server) handleDeviceAuthorize(w http.ResponseWriter, r *http.Request) {
	form, clientID, e := s.oauthForm(w, r)
	var resp *deviceAuthResponse
	if e == nil {
		installCode := cleanLabel(form.Get("install_code"), 64)
		client := proofOf(r)
		if client == "" && installCode != "" {
			client = "install\x00" + wire.NormalizeInstallCode(installCode)
		}
		var undo func()
		if undo, e = s.admitCode(clientIP(r), client); e == nil {
			if resp, e = s.newDeviceCode(clientID, cleanLabel(form.Get("device_name"), 100), installCode, proofOf(r)); e != nil {
				undo()
			}
		}
	}
	if e != nil {
		writeOAuthError(w, e)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// admitCode counts a new device code against the live limits of ip, of
// client ("" when the caller is anonymous) and of the authority; undo
// takes it back when the code is not made after all.
func (s *Server) admitCode(ip, client string) (undo func(), e *oauthError) {
	now := s.now()
	exp := now.Add(s.opts.DeviceCodeTTL)
	type limit struct {
		l   *liveLimiter
		key string
		who string
	}
	limits := []limit{{s.liveByClient, client, "this installation has"}, {s.liveByIP, ip, "this address has"}, {s.liveAll, "", "the authority has"}}
	var done []limit
	undo = func() {
		for _, d := range done {
			d.l.undo(d.key)
		}
	}
	for _, l := range limits {
		if l.l == s.liveByClient && client == "" {
			continue
		}
		if ok, wait := l.l.admit(l.key, now, exp); !ok {
			undo()
			return nil, slowDown(wait, l.who+" too many authorizations waiting; wait until one of them ends")
		}
		done = append(done, l)
	}
	return undo, nil
}

// slowDown is the 429 answer of a rate limit: slow_down (RFC 8628 §3.5's
// word for it) and, in Retry-After, the whole seconds to wait.
func slowDown(wait time.Duration, why string) *oauthError {
	e := oerr(http.StatusTooManyRequests, wire.CodeSlowDown, why)
	e.retryAfter = max(1, int((wait+time.Second-1)/time.Second))
	return e
}

// limitAuthorizeRate refuses /device/authorize beyond the per-IP request
// rate before anything else runs: no form parsing, no DPoP verification,
// nothing in the proof replay cache.
func (s *Server) limitAuthorizeRate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ok, wait := s.authRate.take(clientIP(r), s.now()); !ok {
			writeOAuthError(w, slowDown(wait, "too many authorization requests from this address"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// cleanLabel keeps a client-supplied label displayable: valid UTF-8, no
// control characters, bounded length. html/template does the escaping.
func cleanLabel(s string, max int) string {
	s = strings.ToValidUTF8(s, "")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	for utf8.RuneCountInString(s) > max {
		_, n := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-n]
	}
	return s
}

func (s *Server) newDeviceCode(clientID, deviceName, installCode, jkt string) (*deviceAuthResponse, *oauthError) {
	deviceCode, err := randomToken(32) // 256 bits
	if err != nil {
		return nil, errServer
	}
	now := s.now()
	rec := codeRecord{
		Hash: secretHash(deviceCode), ClientID: clientID, DeviceName: deviceName, InstallCode: installCode,
		IssuedAt: now.UTC(), ExpiresAt: now.Add(s.opts.DeviceCodeTTL).UTC(),
		Interval: int64(s.opts.PollInterval / time.Second), Status: codePending, JKT: jkt,
	}
	s.codesMu.Lock()
	for {
		if rec.UserCode, err = newUserCode(); err != nil {
			s.codesMu.Unlock()
			return nil, errServer
		}
		if _, taken := s.byUser[rec.UserCode]; !taken {
			break
		}
	}
	live := &liveCode{rec: rec}
	s.addCodeLocked(live)
	s.codesMu.Unlock()
	// Stored in the background (writeCodes); the queue only blocks when
	// the store falls a whole queue behind.
	s.codeQueue <- live
	s.log.Debug().Str("client_id", clientID).Str("device_name", deviceName).Msg("device authorization started")
	display := formatUserCode(rec.UserCode)
	return &deviceAuthResponse{
		DeviceCode:              deviceCode,
		UserCode:                display,
		VerificationURI:         s.opts.Issuer + "/device",
		VerificationURIComplete: s.opts.Issuer + "/device?user_code=" + url.QueryEscape(display),
		ExpiresIn:               int64(s.opts.DeviceCodeTTL / time.Second),
		Interval:                rec.Interval,
	}, nil
}

// putCode writes a change of a device code record in txn.
func (s *Server) putCode(txn *badger.Txn, rec *codeRecord, now time.Time) error {
	e, err := codeEntry(rec, now)
	if err != nil {
		return err
	}
	return txn.SetEntry(e)
}

// tokenResponse is RFC 6749 §5.1 plus the license token.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	LicenseToken string `json:"licence_token"`
}

// token is the token endpoint. Both grants need a DPoP proof: the license
// token is bound to its key (cnf.jkt), and so is the refresh token.
func (s *Server) token(form url.Values, clientID, jkt string) (any, *oauthError) {
	switch form.Get("grant_type") {
	case grantDeviceCode:
		return nilIfError(s.redeemDeviceCode(clientID, form.Get("device_code"), jkt))
	case grantRefresh:
		return nilIfError(s.redeemRefresh(clientID, form.Get("refresh_token"), jkt))
	case "":
		return nil, badRequest(wire.CodeInvalidRequest, "grant_type is required")
	default:
		return nil, badRequest(wire.CodeUnsupportedGrantType, "grant_type must be "+grantDeviceCode+" or "+grantRefresh)
	}
}

// nilIfError keeps a typed nil *tokenResponse out of an interface.
func nilIfError(resp *tokenResponse, e *oauthError) (any, *oauthError) {
	if e != nil {
		return nil, e
	}
	return resp, nil
}

// redeemDeviceCode answers one poll (RFC 8628 §3.4-3.5). Pending polls are
// answered from memory; only the redemption writes. The redemption starts
// the device's chain of refresh tokens, bound to the proof's key, and
// revokes the chain of the PC that held the license before.
func (s *Server) redeemDeviceCode(clientID, deviceCode, jkt string) (*tokenResponse, *oauthError) {
	if deviceCode == "" {
		return nil, badRequest(wire.CodeInvalidRequest, "device_code is required")
	}
	if jkt == "" {
		return nil, badRequest(wire.CodeInvalidDPoPProof, "a DPoP proof (RFC 9449) made with this installation's key is required")
	}
	now := s.now()
	s.codesMu.Lock()
	c := s.codes[secretHash(deviceCode)]
	if e := s.pollLocked(c, clientID, jkt, now); e != nil {
		s.codesMu.Unlock()
		return nil, e
	}
	// Approved: claim it in memory first so a concurrent poll cannot redeem
	// it twice, then make the redemption durable together with the token.
	c.rec.Status = codeRedeemed
	rec := c.rec
	s.codesMu.Unlock()
	c.wmu.Lock()
	defer c.wmu.Unlock()

	var resp *tokenResponse
	var denied *oauthError
	err := s.retryUpdate(func(txn *badger.Txn) error {
		ch, err := newChain(rec, jkt, now)
		if err != nil {
			return err
		}
		if resp, denied, err = s.issue(txn, rec.ServerID, clientID, grantDeviceCode, now, ch); err != nil {
			return err
		}
		if denied == nil {
			if err := s.startChain(txn, ch, now); err != nil {
				return err
			}
		}
		return s.putCode(txn, &rec, now)
	})
	if err != nil {
		s.codesMu.Lock()
		c.rec.Status = codeApproved // not redeemed after all: the client may poll again
		s.codesMu.Unlock()
		s.log.Error().Err(err).Msg("redeem device code")
		return nil, errServer
	}
	return resp, denied
}

// pollLocked decides every answer but success. The order matters: a used
// code is invalid_grant, and an expired code is never pending.
func (s *Server) pollLocked(c *liveCode, clientID, jkt string, now time.Time) *oauthError {
	switch {
	case c == nil:
		return badRequest(wire.CodeInvalidGrant, "unknown device_code")
	case c.rec.ClientID != clientID:
		return badRequest(wire.CodeInvalidGrant, "device_code was issued to another client")
	case c.rec.JKT != "" && c.rec.JKT != jkt:
		return keyMismatch(wire.CodeInvalidGrant, "the authorization was started with another DPoP key")
	case c.rec.Status == codeRedeemed:
		return badRequest(wire.CodeInvalidGrant, "device_code has already been used")
	case !now.Before(c.rec.ExpiresAt):
		return badRequest(wire.CodeExpiredToken, "the device code has expired; start the authorization again")
	case c.rec.Status == codeDenied:
		return badRequest(wire.CodeAccessDenied, "the authorization request was denied")
	case c.rec.Status == codeApproved:
		return nil
	}
	interval := time.Duration(c.rec.Interval) * time.Second
	// A tenth of the interval absorbs scheduling jitter of clients that
	// poll on a ticker (x/oauth2 does).
	tooSoon := !c.lastPoll.IsZero() && now.Sub(c.lastPoll) < interval-interval/10
	c.lastPoll = now
	if tooSoon {
		c.rec.Interval += 5 // RFC 8628 §3.5: for this and all later requests
		return badRequest(wire.CodeSlowDown, "polling too fast; wait the interval between requests")
	}
	return badRequest(wire.CodeAuthorizationPending, "the user has not yet approved this device")
}

// licensed loads a device and its license and refuses a license that may
// not be used; a refusal comes back as the third result with a nil error.
func licensed(txn *badger.Txn, serverID string, now time.Time) (*deviceRecord, *licenseRecord, *oauthError, error) {
	var dev deviceRecord
	var lic licenseRecord
	if err := getJSON(txn, pDevice+serverID, &dev); errors.Is(err, errNotFound) {
		return nil, nil, badRequest(wire.CodeInvalidGrant, "the device is no longer registered"), nil
	} else if err != nil {
		return nil, nil, nil, err
	}
	if err := getJSON(txn, pLicense+dev.LicenseID, &lic); errors.Is(err, errNotFound) {
		return nil, nil, badRequest(wire.CodeAccessDenied, "the device has no license"), nil
	} else if err != nil {
		return nil, nil, nil, err
	}
	if e := licenseUsable(&lic, now); e != nil {
		return nil, nil, e, nil
	}
	return &dev, &lic, nil, nil
}

// issue checks the device's license and, if it may be used, signs a license
// token bound to the chain's key and stores a new refresh token of the
// chain and the issuance record in txn. A refusal comes back as the second
// result with a nil error.
func (s *Server) issue(txn *badger.Txn, serverID, clientID, grant string, now time.Time, ch chainRecord) (*tokenResponse, *oauthError, error) {
	dev, lic, refused, err := licensed(txn, serverID, now)
	if refused != nil || err != nil {
		return nil, refused, err
	}
	jti, err := randomToken(16)
	if err != nil {
		return nil, nil, err
	}
	refresh, err := randomToken(32)
	if err != nil {
		return nil, nil, err
	}
	exp := now.Add(s.opts.TokenLifetime)
	claims := claimsFor(dev, lic)
	claims.Confirmation = &wire.Confirmation{JKT: ch.JKT}
	claims.RegisteredClaims = jwt.RegisteredClaims{
		Issuer:    s.opts.Issuer,
		Subject:   dev.ServerID,
		Audience:  jwt.ClaimStrings{wire.DefaultAudience},
		ExpiresAt: jwt.NewNumericDate(exp),
		NotBefore: jwt.NewNumericDate(now),
		IssuedAt:  jwt.NewNumericDate(now),
		ID:        jti,
	}
	token, kid, err := s.keys.sign(claims)
	if err != nil {
		return nil, nil, err
	}
	rt := refreshRecord{ServerID: dev.ServerID, ClientID: clientID, IssuedAt: now.UTC(), ExpiresAt: now.Add(s.opts.RefreshTokenLifetime).UTC(),
		Chain: ch.ID, JKT: ch.JKT}
	if err := setJSON(txn, pRefresh+secretHash(refresh), &rt, s.opts.RefreshTokenLifetime); err != nil {
		return nil, nil, err
	}
	rec := issuedRecord{JTI: jti, ServerID: dev.ServerID, LicenseID: lic.ID, Kid: kid, Grant: grant, IssuedAt: now.UTC(), ExpiresAt: exp.UTC()}
	if err := setJSON(txn, pIssued+jti, &rec, 0); err != nil {
		return nil, nil, err
	}
	s.log.Info().Str("sub", dev.ServerID).Str("lid", lic.ID).Str("jti", jti).Str("kid", kid).Str("grant", grant).Msg("license token issued")
	return &tokenResponse{
		AccessToken: token, TokenType: "Bearer", ExpiresIn: int64(s.opts.TokenLifetime / time.Second),
		RefreshToken: refresh, LicenseToken: token,
	}, nil, nil
}

// licenseUsable refuses revoked licenses and licenses past renewal.
func licenseUsable(lic *licenseRecord, now time.Time) *oauthError {
	if lic.Revoked {
		return withReason(wire.CodeAccessDenied, wire.ReasonLicenseRevoked, "license revoked")
	}
	if !lic.RenewalDate.IsZero() && !now.Before(lic.RenewalDate) {
		return withReason(wire.CodeInvalidGrant, wire.ReasonLicenseExpired, "license expired — requires renewal")
	}
	return nil
}

func claimsFor(dev *deviceRecord, lic *licenseRecord) *wire.Claims {
	c := &wire.Claims{
		LicenseID:     lic.ID,
		Type:          lic.Type,
		Customer:      lic.Customer,
		Features:      append([]string{}, dev.Features...),
		HubServerName: dev.HubServerName,
		HubServerURL:  dev.HubServerURL,
		Capacity:      lic.Capacity,
		TransactionID: lic.TransactionID,
		DeviceName:    dev.Name,
		Modules:       append([]string(nil), lic.Modules...),
		Users:         lic.Users,
		AccountNumber: lic.AccountNumber,
		SerialNumber:  lic.SerialNumber,
	}
	if !lic.RenewalDate.IsZero() {
		c.RenewalDate = lic.RenewalDate.Unix()
	}
	return c
}

func (s *Server) handleJWKS(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=60")
	_ = json.NewEncoder(w).Encode(s.JWKS())
}

func (s *Server) handleSignedJWKS(w http.ResponseWriter, _ *http.Request) {
	jws, err := s.SignedKeySet()
	if err != nil {
		s.log.Error().Err(err).Msg("signed key set")
		http.Error(w, "the key set could not be signed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/jose")
	w.Header().Set("Cache-Control", "public, max-age=60")
	_, _ = w.Write([]byte(jws))
}

func (s *Server) handleHealth(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}
