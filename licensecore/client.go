package licensecore

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/oauth2"

	"licensedesk/licensecore/wire"
)

// DefaultClientID is the OAuth client id License Desk presents.
const DefaultClientID = "license-desk"

// DeviceAuthorization is a pending device-flow request: what the wizard
// shows while the person authorizes it on the authority's page.
type DeviceAuthorization struct {
	UserCode                string
	VerificationURI         string
	VerificationURIComplete string
	Expiry                  time.Time
	Interval                time.Duration

	resp *oauth2.DeviceAuthResponse
}

// ClientOptions configure a Client.
type ClientOptions struct {
	AuthorityURL string
	ClientID     string
	HTTPClient   *http.Client
	Logger       zerolog.Logger
	// RetryBase is the first back-off after a network error while polling
	// (default 1 s, doubled up to 30 s, with jitter).
	RetryBase time.Duration
	// Root is the pinned root key: key sets and signed answers chain to it.
	Root ed25519.PublicKey
	// InstallKey signs a DPoP proof on every request (nil: none).
	InstallKey ed25519.PrivateKey
	// Now is the PC's clock (default time.Now): the DPoP proofs' time,
	// corrected by ServerOffset.
	Now func() time.Time
	// OnKeySet hears every root-verified key set the client fetched.
	OnKeySet func(jws string, set wire.JWKS)
}

// Client talks to the Authorization server: device flow through
// golang.org/x/oauth2, refresh, key set and health.
type Client struct {
	base     *url.URL
	cfg      oauth2.Config
	http     *http.Client
	log      zerolog.Logger
	backoff  time.Duration
	anchor   *trustAnchor
	jkt      string         // the install key's thumbprint, bound into signed answers
	dpop     *dpopTransport // nil without an install key
	onKeySet func(jws string, set wire.JWKS)
}

// ParseAuthorityURL validates a base URL typed by a person or read from
// settings. Plain http is allowed only to this machine (loopback).
func ParseAuthorityURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: %q (expected something like https://licensing.example.com)", ErrBadAuthorityURL, raw)
	}
	if u.Scheme == "http" && !loopback(u.Hostname()) {
		return nil, fmt.Errorf("%w: %q must use https (plain http only to this PC)", ErrBadAuthorityURL, raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%w: %q must not contain a user name, query or fragment", ErrBadAuthorityURL, raw)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	return u, nil
}

// NewClient builds a client for the authority at opts.AuthorityURL.
func NewClient(opts ClientOptions) (*Client, error) {
	base, err := ParseAuthorityURL(opts.AuthorityURL)
	if err != nil {
		return nil, err
	}
	if opts.ClientID == "" {
		opts.ClientID = DefaultClientID
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 20 * time.Second}
	}
	if opts.RetryBase <= 0 {
		opts.RetryBase = time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	hc, jkt := opts.HTTPClient, ""
	var dpop *dpopTransport
	if opts.InstallKey != nil {
		base := hc.Transport
		if base == nil {
			base = http.DefaultTransport
		}
		cp := *hc
		dpop = &dpopTransport{key: opts.InstallKey, now: opts.Now, base: base}
		cp.Transport = dpop
		hc, jkt = &cp, wire.JWKThumbprint(opts.InstallKey.Public().(ed25519.PublicKey))
	}
	var anchor *trustAnchor
	if opts.Root != nil {
		anchor = &trustAnchor{root: opts.Root}
	}
	b := base.String()
	return &Client{
		anchor:   anchor,
		jkt:      jkt,
		dpop:     dpop,
		onKeySet: opts.OnKeySet,
		base:     base,
		cfg: oauth2.Config{
			ClientID: opts.ClientID,
			Endpoint: oauth2.Endpoint{
				DeviceAuthURL: b + "/device/authorize",
				TokenURL:      b + "/token",
				AuthStyle:     oauth2.AuthStyleInParams,
			},
		},
		http:    hc,
		log:     opts.Logger,
		backoff: opts.RetryBase,
	}, nil
}

// BaseURL is the authority's address.
func (c *Client) BaseURL() string { return c.base.String() }

// Issuer is the iss expected in this authority's tokens (its base URL).
func (c *Client) Issuer() string { return c.base.String() }

func (c *Client) ctx(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, c.http)
}

// Health checks connectivity: nil when /healthz answers 200.
func (c *Client) Health(ctx context.Context) error {
	_, err := c.getJSON(ctx, "/healthz", 4<<10, nil)
	return err
}

func (c *Client) getJSON(ctx context.Context, path string, limit int64, out any) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base.String()+path, nil)
	if err != nil {
		return nil, err
	}
	resp, body, err := c.roundTrip(req, limit)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: %s answered %s", ErrAuthorityBroken, path, resp.Status)
	}
	if !json.Valid(body) {
		return nil, fmt.Errorf("%w: %s did not answer JSON", ErrAuthorityBroken, path)
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrAuthorityBroken, err)
		}
	}
	return body, nil
}

// roundTrip sends one request to the authority and reads at most limit
// bytes of its answer. Every call outside x/oauth2 goes through it: no
// answer is ErrAuthorityDown (wrapping the transport's error), a longer
// answer ErrAuthorityBroken. Callers decode the status and body their way.
func (c *Client) roundTrip(req *http.Request, limit int64) (*http.Response, []byte, error) {
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrAuthorityDown, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrAuthorityDown, err)
	}
	if int64(len(body)) > limit {
		return nil, nil, fmt.Errorf("%w: %s answer is larger than %d bytes", ErrAuthorityBroken, req.URL.Path, limit)
	}
	return resp, body, nil
}

// StartDeviceAuth requests a device authorization (RFC 8628 §3.1). The
// device's name and install code travel with it so the authority's
// confirmation page can show which PC is asking.
func (c *Client) StartDeviceAuth(ctx context.Context, deviceName, installCode string) (*DeviceAuthorization, error) {
	resp, err := c.cfg.DeviceAuth(c.ctx(ctx),
		oauth2.SetAuthURLParam("device_name", deviceName),
		oauth2.SetAuthURLParam("install_code", installCode))
	if err != nil {
		return nil, c.mapError(err, ErrRefreshRejected)
	}
	if resp.UserCode == "" || resp.DeviceCode == "" || resp.VerificationURI == "" {
		return nil, fmt.Errorf("%w: device authorization lacks a code", ErrAuthorityBroken)
	}
	interval := time.Duration(resp.Interval) * time.Second
	if interval <= 0 {
		interval = 5 * time.Second
	}
	return &DeviceAuthorization{
		UserCode:                resp.UserCode,
		VerificationURI:         resp.VerificationURI,
		VerificationURIComplete: resp.VerificationURIComplete,
		Expiry:                  resp.Expiry,
		Interval:                interval,
		resp:                    resp,
	}, nil
}

// PollDeviceToken waits until the person authorizes (or denies) the code.
// x/oauth2 gives up on the first network error; a back-office PC on a
// flaky line must not, so network errors and 5xx answers are retried with
// back-off until the code's expiry (a context deadline).
func (c *Client) PollDeviceToken(ctx context.Context, da *DeviceAuthorization) (Tokens, error) {
	if da == nil || da.resp == nil {
		return Tokens{}, errors.New("no device authorization in progress")
	}
	if !da.Expiry.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, da.Expiry)
		defer cancel()
	}
	wait := c.backoff
	for {
		tok, err := c.cfg.DeviceAccessToken(c.ctx(ctx), da.resp)
		if err == nil {
			return tokensFrom(tok)
		}
		if ctx.Err() != nil {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) && !da.Expiry.IsZero() && !time.Now().Before(da.Expiry) {
				return Tokens{}, &AuthorityError{Code: wire.CodeExpiredToken, Kind: ErrDeviceCodeExpired}
			}
			return Tokens{}, ctx.Err()
		}
		mapped := c.mapError(err, ErrRefreshRejected)
		if !retryable(mapped) {
			return Tokens{}, mapped
		}
		c.log.Info().Err(mapped).Dur("retry_in", wait).Msg("polling the authorization server failed; retrying")
		if err := sleepCtx(ctx, jitter(wait)); err != nil {
			continue // the loop reports expiry or cancellation
		}
		wait = min(wait*2, 30*time.Second)
	}
}

// Refresh exchanges the refresh token for a new license token (and a
// rotated refresh token).
func (c *Client) Refresh(ctx context.Context, refreshToken string) (Tokens, error) {
	ts := c.cfg.TokenSource(c.ctx(ctx), &oauth2.Token{RefreshToken: refreshToken, Expiry: time.Unix(1, 0)})
	tok, err := ts.Token()
	if err != nil {
		return Tokens{}, c.mapError(err, ErrRefreshRejected)
	}
	t, err := tokensFrom(tok)
	if err == nil && t.Refresh == "" {
		t.Refresh = refreshToken // the server may keep the refresh token
	}
	return t, err
}

func tokensFrom(tok *oauth2.Token) (Tokens, error) {
	lic, _ := tok.Extra(wire.TokenResponseLicenseField).(string)
	if lic == "" {
		lic = tok.AccessToken
	}
	if lic == "" {
		return Tokens{}, fmt.Errorf("%w: token answer without a license token", ErrAuthorityBroken)
	}
	return Tokens{License: lic, Refresh: tok.RefreshToken}, nil
}

// mapError turns x/oauth2 and net/http errors into our sentinels: an OAuth
// error answer goes through decodeError like every other endpoint's.
func (c *Client) mapError(err error, grantKind error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status, path := 0, "the token endpoint"
		if re.Response != nil {
			status = re.Response.StatusCode
			if re.Response.Request != nil {
				path = re.Response.Request.URL.Path
			}
		}
		return decodeError(path, status, re.Body, grantKind, ErrAuthorityBroken)
	}
	var ne net.Error
	var ue *url.Error
	if errors.As(err, &ne) || errors.As(err, &ue) {
		return fmt.Errorf("%w: %v", ErrAuthorityDown, err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	// x/oauth2 reports undecodable bodies (an HTML error page) as plain
	// errors.
	return fmt.Errorf("%w: %v", ErrAuthorityBroken, err)
}

// decodeError is the one reader of the authority's error answers
// (wire.ErrorAnswer), keyed by the wire's codes and reasons, never by the
// description's words. grantKind is what invalid_grant means at this
// endpoint (ErrRefreshRejected, ErrTokenInvalid), fallback what any other
// refusal means there (ErrAuthorityBroken, or ErrPoolRefused for the pool).
// An answer that is not a JSON error is ErrAuthorityBroken.
func decodeError(path string, status int, body []byte, grantKind, fallback error) error {
	var ea wire.ErrorAnswer
	if json.Unmarshal(body, &ea) != nil || ea.Code == "" {
		return fmt.Errorf("%w: %s answered %d without a JSON error", ErrAuthorityBroken, path, status)
	}
	var kind error
	switch reason := reasonKinds[ea.Reason]; {
	case reason != nil:
		kind = reason
	default:
		kind = errorKinds(grantKind)[ea.Code]
		if kind == nil {
			kind = fallback
		}
	}
	return &AuthorityError{Code: ea.Code, Reason: ea.Reason, Description: ea.Description, Kind: kind}
}

// reasonKinds maps the wire's reasons to sentinels; a reason decides over
// the code.
var reasonKinds = map[wire.Reason]error{
	wire.ReasonLicenseRevoked:  ErrLicenseRevoked,
	wire.ReasonLicenseExpired:  ErrLicenseExpired,
	wire.ReasonLicenseMoved:    ErrLicenseMoved,
	wire.ReasonChainRevoked:    ErrChainRevoked,
	wire.ReasonKeyMismatch:     ErrKeyMismatch,
	wire.ReasonInstallMismatch: ErrInstallConflict,
	wire.ReasonStaleRequest:    ErrRequestStale,
}

// errorKinds maps the wire's error codes to sentinels.
func errorKinds(grantKind error) map[wire.ErrorCode]error {
	return map[wire.ErrorCode]error{
		wire.CodeAccessDenied:      ErrAccessDenied,
		wire.CodeExpiredToken:      ErrDeviceCodeExpired,
		wire.CodeInvalidGrant:      grantKind,
		wire.CodeNotFound:          ErrUnknownRequest,
		wire.CodeUnknownCustomer:   ErrUnknownCustomer,
		wire.CodeUnknownLicense:    ErrPoolLicenseUnavailable,
		wire.CodeNotAvailable:      ErrPoolLicenseUnavailable,
		wire.CodeSuperseded:        ErrPoolLicenseUnavailable,
		wire.CodeNotHeld:           ErrPoolLicenseUnavailable,
		wire.CodeInstallConflict:   ErrInstallConflict,
		wire.CodeInstallBusy:       ErrCustomerInUse,
		wire.CodeInstallUnlicensed: ErrInstallUnlicensed,
		wire.CodeSlowDown:          ErrAuthorityBusy,
	}
}

// Bounds of the authority's JSON answers.
const (
	maxLifecycleAnswer = 64 << 10
	maxPoolAnswer      = 1 << 20
)

// form sends one form (client_id added) or a GET (form nil) to a lifecycle
// endpoint and decodes the JSON answer into out.
func (c *Client) form(ctx context.Context, method, path string, form url.Values, grantKind error, out any) error {
	var body io.Reader
	if form != nil {
		form.Set("client_id", c.cfg.ClientID)
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base.String()+path, body)
	if err != nil {
		return err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	_, err = c.exchange(req, maxLifecycleAnswer, grantKind, ErrAuthorityBroken, out)
	return err
}

// exchange sends req with a fresh nonce, checks that the answer is signed
// for it (see trust.go), maps an error answer through decodeError and
// decodes a 200 answer into out (when not nil); it returns the answer's
// bytes. An unsigned or forged answer changes nothing: it is an error
// wrapping wire.ErrUnsignedAnswer, whatever it says.
func (c *Client) exchange(req *http.Request, limit int64, grantKind, fallback error, out any) ([]byte, error) {
	nonce, err := newNonce()
	if err != nil {
		return nil, err
	}
	req.Header.Set(wire.HeaderNonce, nonce)
	resp, body, err := c.roundTrip(req, limit)
	if err != nil {
		return nil, err
	}
	// A failing server or a proxy's error page is no answer at all: it is
	// reported as broken (nothing acts on it), signed or not.
	if resp.StatusCode >= 500 || !json.Valid(body) {
		return nil, fmt.Errorf("%w: %s answered %d without a JSON answer", ErrAuthorityBroken, req.URL.Path, resp.StatusCode)
	}
	if err := c.checkAnswer(req.Context(), resp, req, nonce, body); err != nil {
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, decodeError(req.URL.Path, resp.StatusCode, body, grantKind, fallback)
	}
	if !json.Valid(body) {
		return nil, fmt.Errorf("%w: %s answered %d without JSON", ErrAuthorityBroken, req.URL.Path, resp.StatusCode)
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrAuthorityBroken, req.URL.Path, err)
		}
	}
	return body, nil
}

// VerifyLicense asks the authority about the license of token.
func (c *Client) VerifyLicense(ctx context.Context, token string) (wire.VerifyAnswer, error) {
	var r wire.VerifyAnswer
	err := c.form(ctx, http.MethodPost, wire.PathVerify, url.Values{wire.FieldLicenseToken: {token}}, ErrTokenInvalid, &r)
	if err == nil && !r.Result.Known() {
		err = fmt.Errorf("%w: verification result %q", ErrAuthorityBroken, r.Result)
	}
	return r, err
}

// Release tells the authority this device gives its license up.
func (c *Client) Release(ctx context.Context, refresh string) error {
	var r wire.ReleaseAnswer
	err := c.form(ctx, http.MethodPost, wire.PathRelease, url.Values{wire.FieldRefreshToken: {refresh}}, ErrRefreshRejected, &r)
	if err == nil && !r.Released {
		err = fmt.Errorf("%w: the license was not released", ErrAuthorityBroken)
	}
	return err
}

// RequestSwitch asks for a perpetual/subscription switch.
func (c *Client) RequestSwitch(ctx context.Context, refresh string, to wire.LicenseType) (wire.SwitchAnswer, error) {
	var r wire.SwitchAnswer
	err := c.form(ctx, http.MethodPost, wire.PathSwitch, url.Values{wire.FieldRefreshToken: {refresh}, wire.FieldSwitchTo: {string(to)}}, ErrRefreshRejected, &r)
	if err == nil && (r.RequestID == "" || r.Status != wire.SwitchPending) {
		err = fmt.Errorf("%w: switch request answered without a pending request", ErrAuthorityBroken)
	}
	return r, err
}

// SwitchStatus asks about a switch request.
func (c *Client) SwitchStatus(ctx context.Context, id string) (wire.SwitchStatus, error) {
	var r wire.SwitchAnswer
	err := c.form(ctx, http.MethodGet, wire.PathSwitch+"/"+url.PathEscape(id), nil, ErrRefreshRejected, &r)
	if err == nil && !r.Status.Known() {
		err = fmt.Errorf("%w: switch status %q", ErrAuthorityBroken, r.Status)
	}
	return r.Status, err
}

// Customer checks a Customer ID with the authority.
func (c *Client) Customer(ctx context.Context, id string) (wire.CustomerAnswer, error) {
	var ans wire.CustomerAnswer
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.BaseURL()+"/customers/"+url.PathEscape(id), nil)
	if err != nil {
		return ans, err
	}
	_, err = c.exchange(req, maxPoolAnswer, ErrPoolRefused, ErrPoolRefused, &ans)
	if err == nil && ans.CustomerID != id {
		err = fmt.Errorf("%w: asked for customer %s, got %q", ErrAuthorityBroken, id, ans.CustomerID)
	}
	return ans, err
}

// PoolPost sends a signed envelope to /pool/{op}; with out it decodes the
// answer there, and it returns the answer's bytes.
func (c *Client) PoolPost(ctx context.Context, op string, env []byte, out any) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BaseURL()+"/pool/"+op, bytes.NewReader(env))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return c.exchange(req, maxPoolAnswer, ErrPoolRefused, ErrPoolRefused, out)
}

func retryable(err error) bool {
	if errors.Is(err, ErrAuthorityDown) {
		return true
	}
	var ae *AuthorityError
	return errors.Is(err, ErrAuthorityBroken) && !errors.As(err, &ae)
}

// jitter spreads retries of many PCs over ±20 % so they don't stampede the
// authority when it comes back.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
