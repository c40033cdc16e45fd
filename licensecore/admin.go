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

	"golang.org/x/crypto/argon2"
)

// Administrator errors.
var (
	ErrAdminRequired   = errors.New("this change needs a System Administrator")
	ErrAdminExists     = errors.New("an administrator account already exists")
	ErrBadCredentials  = errors.New("the user name or password is wrong")
	ErrLoginThrottled  = errors.New("too many failed logins; wait before trying again")
	ErrWeakPassword    = errors.New("the password must have at least 8 characters")
	ErrInvalidUserName = errors.New("the user name must be 1 to 64 letters, digits, dots, dashes or underscores")
)

// Administrator accounts and their login throttle live in the store.
const (
	prefixOperator = "op/"
	prefixOpFail   = "opfail/"
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
// Manager that issued it accepts it, and only until it expires.
type AdminSession struct {
	user    string
	token   string
	expires time.Time
}

// User is the administrator's name.
func (s *AdminSession) User() string { return s.user }

// adminState is the Manager's set of live sessions.
type adminState struct {
	mu       sync.Mutex
	sessions map[string]time.Time // token → expiry
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
func (m *Manager) HasAdministrator() (bool, error) {
	found := false
	err := m.store.scan(prefixOperator, func(string, []byte) error { found = true; return errStopScan })
	return found, err
}

// CreateAdministrator creates the first administrator account. Once one
// exists, further accounts need AddAdministrator with a session.
func (m *Manager) CreateAdministrator(user, password string) error {
	has, err := m.HasAdministrator()
	if err != nil {
		return err
	}
	if has {
		return ErrAdminExists
	}
	return m.putOperator(user, password)
}

// AddAdministrator creates another administrator; it needs a session.
func (m *Manager) AddAdministrator(sess *AdminSession, user, password string) error {
	if err := m.requireAdmin(sess); err != nil {
		return err
	}
	if _, err := m.store.get(prefixOperator + strings.ToLower(user)); err == nil {
		return fmt.Errorf("%w: %s", ErrAdminExists, user)
	}
	return m.putOperator(user, password)
}

func (m *Manager) putOperator(user, password string) error {
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
	rec := operatorRecord{User: user, Salt: salt, Params: p, Created: m.clock.Now(),
		Hash: argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, 32)}
	raw, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := m.store.put(prefixOperator+strings.ToLower(user), raw); err != nil {
		return err
	}
	m.audit("admin_created", "administrator "+user)
	return nil
}

// AdminLogin checks an administrator's password and returns a session for
// AdminSessionTTL. Failed attempts are throttled per user name, and the
// throttle survives restarts.
func (m *Manager) AdminLogin(user, password string) (*AdminSession, error) {
	key := strings.ToLower(user)
	now := m.clock.Now()
	var fails loginFailures
	if err := m.store.getJSON(prefixOpFail+key, &fails); err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	if now.Before(fails.LockedUntil) {
		return nil, fmt.Errorf("%w (about %s)", ErrLoginThrottled, fails.LockedUntil.Sub(now).Round(time.Second))
	}
	var rec operatorRecord
	err := m.store.getJSON(prefixOperator+key, &rec)
	ok := false
	if err == nil {
		got := argon2.IDKey([]byte(password), rec.Salt, rec.Params.Time, rec.Params.Memory, rec.Params.Threads, uint32(len(rec.Hash)))
		ok = subtle.ConstantTimeCompare(got, rec.Hash) == 1
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	if !ok {
		fails.Count++
		if fails.Count > loginFreeFailures {
			lock := loginBaseLock << min(fails.Count-loginFreeFailures-1, 10)
			fails.LockedUntil = now.Add(min(lock, loginMaxLock))
		}
		if raw, merr := json.Marshal(fails); merr == nil {
			_ = m.store.put(prefixOpFail+key, raw)
		}
		m.audit("admin_login_failed", "user "+user)
		return nil, ErrBadCredentials
	}
	if fails.Count > 0 {
		_ = m.store.delete(prefixOpFail + key)
	}
	tok := make([]byte, 24)
	if _, err := rand.Read(tok); err != nil {
		return nil, err
	}
	s := &AdminSession{user: rec.User, token: base64.RawURLEncoding.EncodeToString(tok), expires: now.Add(AdminSessionTTL)}
	m.admin.mu.Lock()
	if m.admin.sessions == nil {
		m.admin.sessions = map[string]time.Time{}
	}
	for t, exp := range m.admin.sessions {
		if !now.Before(exp) {
			delete(m.admin.sessions, t)
		}
	}
	m.admin.sessions[s.token] = s.expires
	m.admin.mu.Unlock()
	return s, nil
}

// AdminLogout ends a session early.
func (m *Manager) AdminLogout(s *AdminSession) {
	if s == nil {
		return
	}
	m.admin.mu.Lock()
	delete(m.admin.sessions, s.token)
	m.admin.mu.Unlock()
}

// requireAdmin is the gate every protected operation passes first: the
// check lives here, not in hidden buttons.
func (m *Manager) requireAdmin(s *AdminSession) error {
	if s == nil {
		return ErrAdminRequired
	}
	m.admin.mu.Lock()
	exp, ok := m.admin.sessions[s.token]
	m.admin.mu.Unlock()
	if !ok || exp != s.expires {
		return fmt.Errorf("%w: the login is not valid", ErrAdminRequired)
	}
	if !m.clock.Now().Before(exp) {
		return fmt.Errorf("%w: the login has expired, log in again", ErrAdminRequired)
	}
	return nil
}
