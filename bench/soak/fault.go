package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"licensedesk/licensecore/wire"
)

// faultKind is one way a call to the authority goes wrong on the way.
type faultKind int

const (
	faultNone         faultKind = iota
	faultDropRequest            // the request never reaches the server
	faultDropAnswer             // the server processed it; the answer is lost
	faultHTML500                // a proxy answers 500 with an HTML page; the server never sees it
	faultResetMidBody           // the server processed it; the connection resets half-way through the body
	faultTimeout                // the server processed it; the answer comes after the client's timeout
	numFaultKinds
)

var faultNames = [numFaultKinds]string{"none", "drop-request", "drop-answer", "500-html", "reset-mid-body", "timeout"}

func (k faultKind) String() string { return faultNames[k] }

// timeoutError is what net/http reports when the answer is later than the
// client's timeout; returning it simulates a 30 s delay without sleeping.
type timeoutError struct{}

func (timeoutError) Error() string {
	return "soak: simulated delay beyond the client's timeout (Client.Timeout exceeded while awaiting headers)"
}
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

var _ net.Error = timeoutError{}

// resetBody yields part of an answer and then a connection reset.
type resetBody struct{ r io.Reader }

func (b *resetBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if errors.Is(err, io.EOF) {
		return n, &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	}
	return n, err
}
func (b *resetBody) Close() error { return nil }

// faultTransport is one installation's HTTP transport: it draws a fault for
// each call at the run's probability and watches the token endpoint's
// answers to check the chain invariants. Each installation's calls run on
// the goroutine doing its attempt, so its state needs no lock.
type faultTransport struct {
	sim  *sim
	in   *install
	base http.RoundTripper
}

func (t *faultTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	s, in := t.sim, t.in
	now := s.clock.Now()
	in.lastAttempt = now
	s.calls.Add(1)
	kind := faultNone
	if s.faultsOn.Load() && in.rng.Float64() < s.cfg.fault {
		kind = faultKind(1 + in.rng.IntN(int(numFaultKinds)-1))
		s.faults[kind].Add(1)
	}
	var form url.Values
	if req.URL.Path == "/token" && req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(b))
		form, _ = url.ParseQuery(string(b))
		in.tokenFault, in.tokenCalled = kind, true
	}
	switch kind {
	case faultDropRequest:
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	case faultHTML500:
		page := "<html><head><title>500 Internal Server Error</title></head><body><h1>Internal Server Error</h1><hr>nginx</body></html>"
		return &http.Response{StatusCode: http.StatusInternalServerError, Status: "500 Internal Server Error",
			Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header:        http.Header{"Content-Type": {"text/html"}},
			Body:          io.NopCloser(strings.NewReader(page)),
			ContentLength: int64(len(page)), Request: req}, nil
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if s.cfg.trace == in.serverID {
		fmt.Printf("  trace %s %s %s fault=%s -> %d\n", s.clock.Now().Format(time.RFC3339), in.serverID, req.URL.Path, kind, resp.StatusCode)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if form != nil {
		t.observe(form, resp.StatusCode, body)
	}
	switch kind {
	case faultDropAnswer:
		return nil, &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	case faultTimeout:
		return nil, timeoutError{}
	case faultResetMidBody:
		resp.Body = &resetBody{r: bytes.NewReader(body[:len(body)/2])}
		return resp, nil
	}
	in.lastDelivered = now
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// observe checks one answer of the token endpoint that the server gave
// (delivered or not): a spent refresh token presented again within the
// grace window must get the same pair (one live chain per Server ID), and
// never "already used".
func (t *faultTransport) observe(form url.Values, status int, body []byte) {
	s, in := t.sim, t.in
	now := s.clock.Now()
	grant := form.Get("grant_type")
	presented := form.Get("refresh_token")
	if status == http.StatusOK {
		var ans struct {
			AccessToken  string `json:"access_token"`
			RefreshToken string `json:"refresh_token"`
		}
		if err := json.Unmarshal(body, &ans); err != nil || ans.RefreshToken == "" {
			s.violation(in, "token endpoint answered 200 without a refresh token")
			return
		}
		if sub := tokenSubject(ans.AccessToken); sub != in.serverID {
			s.violation(in, "token for server "+sub+" issued to installation of "+in.serverID)
		}
		if grant == "refresh_token" {
			if prev, ok := in.issued[presented]; ok {
				switch {
				case prev == ans.RefreshToken:
					s.graceReplays.Add(1)
				case now.Sub(in.spentAt[presented]) < s.cfg.grace:
					s.violation(in, "fork: a spent refresh token was answered with a different pair within the grace window")
				default:
					// Past the window the authority rotates again and
					// withdraws prev; final() checks that it did.
					in.withdrawn = append(in.withdrawn, prev)
					in.issued[presented], in.spentAt[presented] = ans.RefreshToken, now
					s.reRotations.Add(1)
				}
			} else {
				in.issued[presented] = ans.RefreshToken
				in.spentAt[presented] = now
				s.rotations.Add(1)
			}
		}
		in.head = ans.RefreshToken
		return
	}
	var e wire.ErrorAnswer
	if json.Unmarshal(body, &e) != nil || grant != "refresh_token" {
		return
	}
	if e.Reason == wire.ReasonChainRevoked {
		spent, ok := in.spentAt[presented]
		switch {
		case ok && now.Sub(spent) < s.cfg.grace:
			s.violation(in, "\"already used\" refusal of a retry within the grace window")
		case !in.chainRevoked:
			s.lateRetryRefusals.Add(1)
			in.chainRevoked = true
		}
	}
}

// tokenSubject reads the sub claim of a JWT without verifying it (the
// Manager verifies; this only checks which server the authority named).
func tokenSubject(jwt string) string {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return ""
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		Sub string `json:"sub"`
	}
	_ = json.Unmarshal(raw, &c)
	return c.Sub
}
