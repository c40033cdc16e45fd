package localapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"licensedesk/licensecore"
	"licensedesk/licensecore/wire"
)

// callTimeout bounds the calls whose interface method takes no context.
const callTimeout = 30 * time.Second

// Client talks to the agent's local API. It implements the screens'
// service interfaces with the Manager's signatures, so the window can use
// it in place of an in-process Manager, and adds the POS hand-off calls.
type Client struct {
	hc   *http.Client
	base string
	last atomic.Pointer[licensecore.Status] // for Status when the agent is away
}

// Dial returns a client of the agent listening on the socket at path and
// checks that it answers (else ErrAgentUnreachable).
func Dial(path string) (*Client, error) {
	tr := &http.Transport{
		DialContext:  func(ctx context.Context, _, _ string) (net.Conn, error) { return dialAgent(ctx, path) },
		MaxIdleConns: 64, MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute,
	}
	c := NewClient(&http.Client{Transport: tr}, "http://licensedesk")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.Info(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// NewClient is a client over hc of the API at base (scheme and host; the
// paths start with /v1/). hc must not set a Timeout: long polls wait.
func NewClient(hc *http.Client, base string) *Client {
	return &Client{hc: hc, base: base}
}

// do sends one request: in as JSON (none when nil), out decoded from the
// answer (ignored when nil), sess as the bearer.
func (c *Client) do(ctx context.Context, method, path string, sess *licensecore.AdminSession, in, out any) error {
	resp, err := c.send(ctx, method, path, sess, in)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%w: %s %s: unreadable answer: %v", ErrAgentUnreachable, method, path, err)
	}
	return nil
}

// send returns a 2xx answer, or the agent's error.
func (c *Client) send(ctx context.Context, method, path string, sess *licensecore.AdminSession, in any) (*http.Response, error) {
	var body io.Reader
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if sess != nil {
		req.Header.Set("Authorization", "Bearer "+sess.Token())
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: %v", ErrAgentUnreachable, err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	var b errorBody
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(&b); err != nil || b.Code == "" {
		return nil, fmt.Errorf("%w: %s %s answered %s", ErrAgentUnreachable, method, path, resp.Status)
	}
	return nil, decodeError(b, resp.StatusCode)
}

// background is the context of a call whose method takes none.
func background() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), callTimeout)
}

// statusCall runs a call answering a status and remembers it.
func (c *Client) statusCall(ctx context.Context, method, path string, sess *licensecore.AdminSession, in any) (licensecore.Status, error) {
	var doc StatusDoc
	if err := c.do(ctx, method, path, sess, in, &doc); err != nil {
		return c.Status(), err
	}
	return c.remember(doc), nil
}

func (c *Client) remember(doc StatusDoc) licensecore.Status {
	st := doc.status()
	c.last.Store(&st)
	return st
}

// Status is the agent's current status; the last one known when the
// agent does not answer.
func (c *Client) Status() licensecore.Status {
	ctx, cancel := background()
	defer cancel()
	var doc StatusDoc
	if err := c.do(ctx, "GET", "/v1/status", nil, nil, &doc); err != nil {
		if st := c.last.Load(); st != nil {
			return *st
		}
		return licensecore.Status{}
	}
	return c.remember(doc)
}

// WaitStatus waits, up to wait (0: the agent's default), until the status
// revision differs from after, then returns the status and its revision;
// the tray and the window loop on it.
func (c *Client) WaitStatus(ctx context.Context, after uint64, wait time.Duration) (licensecore.Status, uint64, error) {
	var doc StatusDoc
	q := url.Values{"after": {strconv.FormatUint(after, 10)}, "wait": {wait.String()}}
	if err := c.do(ctx, "GET", "/v1/status?"+q.Encode(), nil, nil, &doc); err != nil {
		return licensecore.Status{}, after, err
	}
	return c.remember(doc), doc.Revision, nil
}

// Info is this installation's identity, trust anchor and policy.
func (c *Client) Info(ctx context.Context) (Info, error) {
	var in Info
	err := c.do(ctx, "GET", "/v1/info", nil, nil, &in)
	return in, err
}

func (c *Client) info() Info {
	ctx, cancel := background()
	defer cancel()
	in, _ := c.Info(ctx)
	return in
}

// DeviceIdentity is this PC's name and install code ("" when the agent
// does not answer).
func (c *Client) DeviceIdentity() (name, installCode string) {
	in := c.info()
	return in.DeviceName, in.InstallCode
}

// AuthorityURL is the configured authority's address.
func (c *Client) AuthorityURL() string { return c.info().AuthorityURL }

// Policy is the thresholds in force (the defaults when the agent does not
// answer).
func (c *Client) Policy() licensecore.Policy {
	if in := c.info(); in.Policy != (licensecore.Policy{}) {
		return in.Policy
	}
	return licensecore.DefaultPolicy()
}

// StartDeviceAuth asks the agent for a user code.
func (c *Client) StartDeviceAuth(ctx context.Context) (*licensecore.DeviceAuthorization, error) {
	var doc deviceAuthDoc
	if err := c.do(ctx, "POST", "/v1/device/start", nil, nil, &doc); err != nil {
		return nil, err
	}
	return &licensecore.DeviceAuthorization{UserCode: doc.UserCode, VerificationURI: doc.VerificationURI,
		VerificationURIComplete: doc.VerificationURIComplete, Expiry: doc.Expiry, Interval: time.Duration(doc.IntervalNS)}, nil
}

// CompleteDeviceAuth waits while the agent polls for the authorization of
// da's user code.
func (c *Client) CompleteDeviceAuth(ctx context.Context, da *licensecore.DeviceAuthorization) (licensecore.Status, error) {
	return c.statusCall(ctx, "POST", "/v1/device/complete", nil, userCodeDoc{UserCode: da.UserCode})
}

// RefreshNow has the agent renew the license token.
func (c *Client) RefreshNow(ctx context.Context) (licensecore.Status, error) {
	return c.statusCall(ctx, "POST", "/v1/refresh", nil, nil)
}

// Verify has the agent verify the license online.
func (c *Client) Verify(ctx context.Context) (licensecore.Status, error) {
	return c.statusCall(ctx, "POST", "/v1/license/verify", nil, nil)
}

// DownloadLicense has the agent download the license again.
func (c *Client) DownloadLicense(ctx context.Context) (licensecore.Status, []licensecore.Change, error) {
	var doc downloadDoc
	if err := c.do(ctx, "POST", "/v1/license/download", nil, nil, &doc); err != nil {
		return c.Status(), nil, err
	}
	return c.remember(doc.Status), doc.Changes, nil
}

// Remove gives the license up (an administrator's change).
func (c *Client) Remove(ctx context.Context, sess *licensecore.AdminSession, opts licensecore.RemoveOptions) error {
	_, err := c.statusCall(ctx, "POST", "/v1/license/remove", sess, removeDoc{Force: opts.Force})
	return err
}

// RequestSwitch asks for the other license type (an administrator's
// change).
func (c *Client) RequestSwitch(ctx context.Context, sess *licensecore.AdminSession, to wire.LicenseType) (licensecore.SwitchRequest, error) {
	var req licensecore.SwitchRequest
	err := c.do(ctx, "POST", "/v1/switch", sess, switchToDoc{To: to}, &req)
	return req, err
}

// PendingSwitch is the switch request waiting for approval, if any.
func (c *Client) PendingSwitch() (licensecore.SwitchRequest, bool) {
	ctx, cancel := background()
	defer cancel()
	var doc pendingDoc
	if err := c.do(ctx, "GET", "/v1/switch", nil, nil, &doc); err != nil || !doc.Pending || doc.Request == nil {
		return licensecore.SwitchRequest{}, false
	}
	return *doc.Request, true
}

// CheckSwitch asks the authority, through the agent, whether the pending
// switch was decided.
func (c *Client) CheckSwitch(ctx context.Context) (licensecore.SwitchRequest, licensecore.Status, error) {
	var doc checkSwitchDoc
	if err := c.do(ctx, "POST", "/v1/switch/check", nil, nil, &doc); err != nil {
		return licensecore.SwitchRequest{}, c.Status(), err
	}
	return doc.Request, c.remember(doc.Status), nil
}

// GetChallenge is this PC's offline challenge.
func (c *Client) GetChallenge() (wire.Challenge, error) {
	ctx, cancel := background()
	defer cancel()
	var ch wire.Challenge
	err := c.do(ctx, "GET", "/v1/offline/challenge", nil, nil, &ch)
	return ch, err
}

// ApplyResponse applies an offline response code (an administrator's
// change).
func (c *Client) ApplyResponse(ctx context.Context, sess *licensecore.AdminSession, code string) (licensecore.Status, error) {
	return c.statusCall(ctx, "POST", "/v1/offline/response", sess, codeDoc{Code: code})
}

// LicenseRequest makes the license request file for account and serial.
func (c *Client) LicenseRequest(account, serial string) ([]byte, error) {
	ctx, cancel := background()
	defer cancel()
	var doc fileDoc
	err := c.do(ctx, "POST", "/v1/offline/request", nil, licenseRequestDoc{Account: account, Serial: serial}, &doc)
	return doc.File, err
}

// ImportEntitlement imports a license file (an administrator's change).
func (c *Client) ImportEntitlement(ctx context.Context, sess *licensecore.AdminSession, data []byte) (licensecore.Status, error) {
	return c.statusCall(ctx, "POST", "/v1/offline/import", sess, fileDoc{File: data})
}

// HasAdministrator reports whether an administrator account exists.
func (c *Client) HasAdministrator() (bool, error) {
	ctx, cancel := background()
	defer cancel()
	var doc hasAdminDoc
	err := c.do(ctx, "GET", "/v1/admin", nil, nil, &doc)
	return doc.Has, err
}

// CreateAdministrator creates the first administrator account.
func (c *Client) CreateAdministrator(user, password string) error {
	ctx, cancel := background()
	defer cancel()
	return c.do(ctx, "POST", "/v1/admin", nil, credentialsDoc{User: user, Password: password}, nil)
}

// AdminLogin logs an administrator in at the agent; the session carries
// its token back with every protected call.
func (c *Client) AdminLogin(user, password string) (*licensecore.AdminSession, error) {
	ctx, cancel := background()
	defer cancel()
	var doc sessionDoc
	if err := c.do(ctx, "POST", "/v1/admin/login", nil, credentialsDoc{User: user, Password: password}, &doc); err != nil {
		return nil, err
	}
	return licensecore.RemoteAdminSession(doc.User, doc.Token, doc.Expires), nil
}

// AdminLogout ends a session at the agent.
func (c *Client) AdminLogout(sess *licensecore.AdminSession) error {
	ctx, cancel := background()
	defer cancel()
	return c.do(ctx, "POST", "/v1/admin/logout", sess, nil, nil)
}

// Account is the customer account of this server.
func (c *Client) Account() (licensecore.Account, error) {
	ctx, cancel := background()
	defer cancel()
	var a licensecore.Account
	err := c.do(ctx, "GET", "/v1/account", nil, nil, &a)
	return a, err
}

// SetCustomerID sets the Customer ID (an administrator's change).
func (c *Client) SetCustomerID(ctx context.Context, sess *licensecore.AdminSession, id string) (licensecore.Account, error) {
	var a licensecore.Account
	err := c.do(ctx, "PUT", "/v1/account", sess, customerDoc{CustomerID: id}, &a)
	return a, err
}

// PoolLicenses lists the customer's cloud pool.
func (c *Client) PoolLicenses(ctx context.Context) ([]wire.PoolLicense, error) {
	var out []wire.PoolLicense
	err := c.do(ctx, "GET", "/v1/pool", nil, nil, &out)
	return out, err
}

// ActivatePool activates pool licenses here (an administrator's change),
// calling progress as the agent reports each one done.
func (c *Client) ActivatePool(ctx context.Context, sess *licensecore.AdminSession, ids []string, progress func(done, total int)) ([]licensecore.ActivatedLicense, error) {
	resp, err := c.send(ctx, "POST", "/v1/pool/activate", sess, idsDoc{IDs: ids})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		var line activateLine
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			return nil, fmt.Errorf("%w: pool activation: unreadable line: %v", ErrAgentUnreachable, err)
		}
		switch {
		case line.Final && line.Error != nil:
			return line.Activated, decodeError(*line.Error, http.StatusOK)
		case line.Final:
			return line.Activated, nil
		case line.Done != nil && progress != nil:
			progress(*line.Done, line.Total)
		}
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return nil, fmt.Errorf("%w: pool activation: the answer ended early: %v", ErrAgentUnreachable, errors.Join(sc.Err(), io.ErrUnexpectedEOF))
}

// TransferToPool returns activated licenses to the pool (an
// administrator's change).
func (c *Client) TransferToPool(ctx context.Context, sess *licensecore.AdminSession, ids []string) (licensecore.TransferResult, error) {
	var out licensecore.TransferResult
	err := c.do(ctx, "POST", "/v1/pool/transfer", sess, idsDoc{IDs: ids}, &out)
	return out, err
}

// ActivatedLicenses lists the pool licenses activated here.
func (c *Client) ActivatedLicenses() ([]licensecore.ActivatedLicense, error) {
	ctx, cancel := background()
	defer cancel()
	var out []licensecore.ActivatedLicense
	err := c.do(ctx, "GET", "/v1/pool/activated", nil, nil, &out)
	return out, err
}

// TotalCapacity is what the active pool licenses add up to.
func (c *Client) TotalCapacity() (licensecore.PoolTotals, error) {
	ctx, cancel := background()
	defer cancel()
	var out licensecore.PoolTotals
	err := c.do(ctx, "GET", "/v1/pool/totals", nil, nil, &out)
	return out, err
}

// PlanTransfer tells what returning ids would change.
func (c *Client) PlanTransfer(ids []string) (licensecore.TransferPlan, error) {
	ctx, cancel := background()
	defer cancel()
	var out licensecore.TransferPlan
	err := c.do(ctx, "POST", "/v1/pool/plan", nil, idsDoc{IDs: ids}, &out)
	return out, err
}

// Token is the current license token. With after (a jti) the agent first
// waits, up to wait (0: its default), for a token with another jti.
func (c *Client) Token(ctx context.Context, after string, wait time.Duration) (TokenDoc, error) {
	path := "/v1/token"
	if after != "" {
		q := url.Values{"after": {after}}
		if wait > 0 {
			q.Set("wait", wait.String())
		}
		path += "?" + q.Encode()
	}
	var doc TokenDoc
	err := c.do(ctx, "GET", path, nil, nil, &doc)
	return doc, err
}

// JWKS is the root-signed key set the agent trusts.
func (c *Client) JWKS(ctx context.Context) (KeySetDoc, error) {
	var doc KeySetDoc
	err := c.do(ctx, "GET", "/v1/jwks", nil, nil, &doc)
	return doc, err
}

// VerifyToken has the agent verify a peer's token offline; a refused
// token is an *Error matching the reason's sentinels.
func (c *Client) VerifyToken(ctx context.Context, req VerifyRequest) (*wire.Claims, error) {
	var doc VerifyDoc
	if err := c.do(ctx, "POST", "/v1/verify", nil, req, &doc); err != nil {
		return nil, err
	}
	if !doc.Valid {
		if doc.Reason == nil {
			return nil, fmt.Errorf("%w: refused without a reason", licensecore.ErrTokenInvalid)
		}
		return nil, decodeError(*doc.Reason, http.StatusOK)
	}
	return doc.Claims, nil
}
