package localapi

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"licensedesk/licensecore"
	"licensedesk/licensecore/wire"
)

// The agent's own operations, beside the license's: the notices the tray
// shows, the settings the window edits, and stopping the agent.

// SettingsService keeps the app's settings; the agent passes its own.
// Without one the settings routes answer ErrNoRoute.
type SettingsService interface {
	Settings() (Settings, error)
	// SaveSettings stores the thresholds and the start-up choice; the
	// authority's address and root key are left to ChangeAuthority.
	SaveSettings(Settings) error
	// ChangeAuthority changes the trust anchor; licensecore checks the
	// administrator session.
	ChangeAuthority(sess *licensecore.AdminSession, url string, root ed25519.PublicKey, repin bool) error
}

// Settings are the values the Settings window shows.
type Settings struct {
	AuthorityURL      string `json:"authority_url"`
	RootKey           string `json:"root_key,omitempty"`
	RenewalWindowDays int    `json:"renewal_window_days"`
	TokenWarnHours    int    `json:"token_warn_hours"`
	TokenWarnPercent  int    `json:"token_warn_percent"`
	StartMinimized    bool   `json:"start_minimized"`
	// KeyStorage says where the agent keeps its keys (shown only).
	KeyStorage string `json:"key_storage,omitempty"`
	// DemoAuthority is the built-in Authorization server's address in demo
	// mode ("" otherwise); the trust anchor cannot change then.
	DemoAuthority string `json:"demo_authority,omitempty"`
}

// authorityDoc asks to change the trust anchor.
type authorityDoc struct {
	URL     string `json:"url"`
	RootKey string `json:"root_key,omitempty"`
	Repin   bool   `json:"repin,omitempty"`
}

// Notice is one desktop notification the agent decided on; the tray shows
// it.
type Notice struct {
	Seq   uint64    `json:"seq"`
	Title string    `json:"title"`
	Body  string    `json:"body"`
	At    time.Time `json:"at"`
}

// NoticesDoc answers GET /v1/notices: the notices after the one asked
// for, and the sequence number to ask after next.
type NoticesDoc struct {
	Notices []Notice `json:"notices"`
	Next    uint64   `json:"next"`
}

// keepNotices is how many recent notices the agent keeps for a tray that
// connects late.
const keepNotices = 16

// Notify queues a notification for the tray and wakes its long poll.
func (s *Server) Notify(title, body string) {
	s.mu.Lock()
	s.noticeSeq++
	s.notices = append(s.notices, Notice{Seq: s.noticeSeq, Title: title, Body: body, At: s.opts.Now().UTC()})
	if len(s.notices) > keepNotices {
		s.notices = s.notices[len(s.notices)-keepNotices:]
	}
	s.mu.Unlock()
	s.Publish(licensecore.Status{})
}

// noticesAfter are the kept notices after seq, and the newest sequence.
func (s *Server) noticesAfter(seq uint64) ([]Notice, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Notice
	for _, n := range s.notices {
		if n.Seq > seq {
			out = append(out, n)
		}
	}
	return out, s.noticeSeq
}

func (s *Server) getNotices(r *http.Request) (any, error) {
	var after uint64
	if raw := r.URL.Query().Get("after"); raw != "" {
		var err error
		if after, err = strconv.ParseUint(raw, 10, 64); err != nil {
			return nil, fmt.Errorf("%w: after=%q is not a notice number", ErrBadRequest, raw)
		}
	}
	d, err := s.waitParam(r)
	if err != nil {
		return nil, err
	}
	if err := s.wait(r.Context(), d, func() (bool, error) { ns, _ := s.noticesAfter(after); return len(ns) > 0, nil }); err != nil {
		return nil, err
	}
	ns, next := s.noticesAfter(after)
	return NoticesDoc{Notices: ns, Next: max(next, after)}, nil
}

func (s *Server) settings() (SettingsService, error) {
	if s.opts.Settings == nil {
		return nil, fmt.Errorf("%w: this agent keeps no settings", ErrNoRoute)
	}
	return s.opts.Settings, nil
}

func (s *Server) getSettings(*http.Request) (any, error) {
	svc, err := s.settings()
	if err != nil {
		return nil, err
	}
	return svc.Settings()
}

func (s *Server) putSettings(r *http.Request) (any, error) {
	svc, err := s.settings()
	if err != nil {
		return nil, err
	}
	var in Settings
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	return nil, svc.SaveSettings(in)
}

func (s *Server) changeAuthority(r *http.Request) (any, error) {
	svc, err := s.settings()
	if err != nil {
		return nil, err
	}
	var in authorityDoc
	return s.withSession(r, &in, func(sess *licensecore.AdminSession) (any, error) {
		var root ed25519.PublicKey
		if in.RootKey != "" {
			if root, err = wire.ParseRootKey(in.RootKey); err != nil {
				return nil, err
			}
		}
		return nil, svc.ChangeAuthority(sess, in.URL, root, in.Repin)
	})
}

// stop ends the agent (`licensedesk stop`), for its own user and root
// only: the group that may read tokens must not be able to stop them.
func (s *Server) stop(r *http.Request) (any, error) {
	if s.opts.Stop == nil {
		return nil, fmt.Errorf("%w: this agent is stopped by its service manager", ErrNoRoute)
	}
	if !peerIsOwner(r.Context()) {
		return nil, fmt.Errorf("%w: only the agent's own user may stop it", licensecore.ErrAdminRequired)
	}
	s.opts.Stop()
	return nil, nil
}

// peerKey carries the connection into the request's context (ConnContext),
// for the peer credential check.
type peerKey struct{}

func withConn(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, peerKey{}, c)
}

func peerIsOwner(ctx context.Context) bool {
	c, _ := ctx.Value(peerKey{}).(net.Conn)
	return c != nil && connIsOwner(c)
}

// Notices waits up to wait for notices after seq; it returns them and the
// number to ask after next.
func (c *Client) Notices(ctx context.Context, after uint64, wait time.Duration) ([]Notice, uint64, error) {
	var doc NoticesDoc
	q := url.Values{"after": {strconv.FormatUint(after, 10)}, "wait": {wait.String()}}
	if err := c.do(ctx, "GET", "/v1/notices?"+q.Encode(), nil, nil, &doc); err != nil {
		return nil, after, err
	}
	return doc.Notices, doc.Next, nil
}

// Settings are the agent's settings.
func (c *Client) Settings(ctx context.Context) (Settings, error) {
	var out Settings
	err := c.do(ctx, "GET", "/v1/settings", nil, nil, &out)
	return out, err
}

// SaveSettings stores the thresholds and the start-up choice.
func (c *Client) SaveSettings(ctx context.Context, v Settings) error {
	return c.do(ctx, "PUT", "/v1/settings", nil, v, nil)
}

// ChangeAuthority changes the Authorization server (and its root key when
// root is set; repin confirms a new root).
func (c *Client) ChangeAuthority(ctx context.Context, sess *licensecore.AdminSession, url string, root ed25519.PublicKey, repin bool) error {
	in := authorityDoc{URL: url, Repin: repin}
	if root != nil {
		in.RootKey = wire.EncodeRootKey(root)
	}
	return c.do(ctx, "POST", "/v1/settings/authority", sess, in, nil)
}

// Stop asks the agent to end.
func (c *Client) Stop(ctx context.Context) error { return c.do(ctx, "POST", "/v1/stop", nil, nil, nil) }

// Ping checks that the agent answers.
func (c *Client) Ping(ctx context.Context) error {
	_, err := c.Info(ctx)
	return err
}
