package licensecore

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/crypto/argon2"
)

// Administrator accounts and their login throttle live in the store.
const (
	prefixAdmin     = "admin/user/"
	prefixAdminFail = "admin/fail/"
	// AdminSessionTTL is how long an administrator login lasts.
	AdminSessionTTL = 15 * time.Minute
	// loginFreeFailures: failures allowed before the throttle starts;
	// each further one doubles the wait, up to loginMaxLock.
	loginFreeFailures = 3
	loginBaseLock     = 30 * time.Second
	loginMaxLock      = 15 * time.Minute
)

// argon2id parameters for operator passwords (OWASP's minimum: 19 MiB,
// two passes). Stored hashes carry them, so they can change later.
type argonParams struct {
	Time    uint32 `json:"t"`
	Memory  uint32 `json:"m"`
	Threads uint8  `json:"p"`
}

var operatorArgon = argonParams{Time: 2, Memory: 19 * 1024, Threads: 1}

type operatorRecord struct {
	User    string      `json:"user"`
	Salt    []byte      `json:"salt"`
	Hash    []byte      `json:"hash"`
	Params  argonParams `json:"params"`
	Created time.Time   `json:"created"`
}

type loginFailures struct {
	Count       int       `json:"count"`
	LockedUntil time.Time `json:"locked_until"`
}

// AdminSession proves a recent administrator login. It is opaque: only the
// Admins that issued it accepts it, and only until it expires.
type AdminSession struct {
	user    string
	token   string
	expires time.Time
}

// User is the administrator's name.
func (s *AdminSession) User() string { return s.user }

// Token is the session's bearer secret, for a client of the local API to
// send back with protected requests. Treat it as a password.
func (s *AdminSession) Token() string { return s.token }

// Expires is when the session ends.
func (s *AdminSession) Expires() time.Time { return s.expires }

// RemoteAdminSession rebuilds a session a client of the local API was
// given (its user, token and expiry) so it can be handed back; only the
// Admins that issued the token accepts it, and only while it lives.
func RemoteAdminSession(user, token string, expires time.Time) *AdminSession {
	return &AdminSession{user: user, token: token, expires: expires}
}

// Admins owns the administrator accounts (in the store), their login
// throttle and the live sessions. Manager and Pool ask it to Check a
// session before every protected change.
type Admins struct {
	store *Store
	clock *TrustedClock
	audit auditor

	mu       sync.Mutex              // guards sessions
	sessions map[string]AdminSession // by token

	// login serializes AdminLogin's read-check-record of the throttle, so
	// parallel guesses cannot all read the same count and all be checked.
	login sync.Mutex
}

// NewAdmins builds the administrator role over the store.
func NewAdmins(store *Store, clock *TrustedClock, log zerolog.Logger) *Admins {
	return &Admins{store: store, clock: clock, audit: auditor{store: store, clock: clock, log: log}, sessions: map[string]AdminSession{}}
}

func validUserName(u string) bool {
	if u == "" || len(u) > 64 {
		return false
	}
	for _, r := range u {
		if !(r == '.' || r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// HasAdministrator reports whether an administrator account exists. The
// first protected action creates one when it does not.
func (a *Admins) HasAdministrator() (bool, error) {
	found := false
	err := a.store.scan(prefixAdmin, func(string, []byte) error { found = true; return errStopScan })
	return found, err
}

// CreateAdministrator creates the first administrator account. Once one
// exists, further accounts need AddAdministrator with a session.
func (a *Admins) CreateAdministrator(user, password string) error {
	has, err := a.HasAdministrator()
	if err != nil {
		return err
	}
	if has {
		return ErrAdminExists
	}
	return a.putAdmin(user, password)
}

// AddAdministrator creates another administrator; it needs a session.
func (a *Admins) AddAdministrator(sess *AdminSession, user, password string) error {
	if err := a.Check(sess); err != nil {
		return err
	}
	if _, err := a.store.get(prefixAdmin + strings.ToLower(user)); err == nil {
		return fmt.Errorf("%w: %s", ErrAdminExists, user)
	}
	return a.putAdmin(user, password)
}

func (a *Admins) putAdmin(user, password string) error {
	if !validUserName(user) {
		return ErrInvalidUserName
	}
	if len([]rune(password)) < 8 {
		return ErrWeakPassword
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return err
	}
	p := operatorArgon
	rec := operatorRecord{User: user, Salt: salt, Params: p, Created: a.clock.Now(),
		Hash: argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, 32)}
	raw, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := a.store.put(prefixAdmin+strings.ToLower(user), raw); err != nil {
		return err
	}
	a.audit.record("admin_created", "administrator "+user)
	return nil
}

// AdminLogin checks an administrator's password and returns a session for
// AdminSessionTTL. Failed attempts are throttled per user name, and the
// throttle survives restarts. Attempts are serialized, and each one is
// recorded as a failure before its password is checked (a success then
// clears it), so no burst of parallel guesses, nor a crash in the middle
// of one, gets more guesses checked than the throttle allows.
func (a *Admins) AdminLogin(user, password string) (*AdminSession, error) {
	a.login.Lock()
	defer a.login.Unlock()
	key := strings.ToLower(user)
	now := a.clock.Now()
	var fails loginFailures
	if err := a.store.getJSON(prefixAdminFail+key, &fails); err != nil && !errors.Is(err, ErrNotStored) {
		return nil, err
	}
	if now.Before(fails.LockedUntil) {
		return nil, fmt.Errorf("%w (about %s)", ErrLoginThrottled, fails.LockedUntil.Sub(now).Round(time.Second))
	}
	var rec operatorRecord
	err := a.store.getJSON(prefixAdmin+key, &rec)
	if err != nil && !errors.Is(err, ErrNotStored) {
		return nil, err
	}
	found := err == nil
	fails.Count++
	if fails.Count > loginFreeFailures {
		lock := loginBaseLock << min(fails.Count-loginFreeFailures-1, 10)
		fails.LockedUntil = now.Add(min(lock, loginMaxLock))
	}
	raw, err := json.Marshal(fails)
	if err == nil {
		err = a.store.put(prefixAdminFail+key, raw)
	}
	if err != nil {
		return nil, err // a guess is checked only once it counts
	}
	ok := false
	if found {
		got := argon2.IDKey([]byte(password), rec.Salt, rec.Params.Time, rec.Params.Memory, rec.Params.Threads, uint32(len(rec.Hash)))
		ok = subtle.ConstantTimeCompare(got, rec.Hash) == 1
	}
	if !ok {
		a.audit.record("admin_login_failed", "user "+user)
		return nil, ErrBadCredentials
	}
	if err := a.store.delete(prefixAdminFail + key); err != nil {
		return nil, err
	}
	tok := make([]byte, 24)
	if _, err := rand.Read(tok); err != nil {
		return nil, err
	}
	s := &AdminSession{user: rec.User, token: base64.RawURLEncoding.EncodeToString(tok), expires: now.Add(AdminSessionTTL)}
	a.mu.Lock()
	for t, live := range a.sessions {
		if !now.Before(live.expires) {
			delete(a.sessions, t)
		}
	}
	a.sessions[s.token] = *s
	a.mu.Unlock()
	return s, nil
}

// AdminLogout ends a session early.
func (a *Admins) AdminLogout(s *AdminSession) {
	if s == nil {
		return
	}
	a.mu.Lock()
	delete(a.sessions, s.token)
	a.mu.Unlock()
}

// Check is the gate every protected operation passes first: the check
// lives here, not in hidden buttons. nil means s is a live session.
func (a *Admins) Check(s *AdminSession) error {
	if s == nil {
		return ErrAdminRequired
	}
	_, err := a.live(s.token, s.expires)
	return err
}

// Session returns the live session whose token is token (a client of the
// local API presents it), else ErrAdminRequired.
func (a *Admins) Session(token string) (*AdminSession, error) {
	return a.live(token, time.Time{})
}

// live looks a session up by token; a non-zero expires must match too.
func (a *Admins) live(token string, expires time.Time) (*AdminSession, error) {
	a.mu.Lock()
	s, ok := a.sessions[token]
	a.mu.Unlock()
	if !ok || token == "" || !expires.IsZero() && !s.expires.Equal(expires) {
		return nil, fmt.Errorf("%w: the login is not valid", ErrAdminRequired)
	}
	if !a.clock.Now().Before(s.expires) {
		return nil, fmt.Errorf("%w: the login has expired, log in again", ErrAdminRequired)
	}
	return &s, nil
}
