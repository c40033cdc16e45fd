package licensecore

import (
	"bytes"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func newAdminManager(t *testing.T, s *Store, now func() time.Time) *Manager {
	t.Helper()
	m, err := NewManager(Options{Store: s, AuthorityURL: "http://127.0.0.1:1", Now: now, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestAdministratorAccounts(t *testing.T) {
	s := newTestStore(t)
	m := newAdminManager(t, s, nil)
	if has, err := m.Admins().HasAdministrator(); err != nil || has {
		t.Fatalf("fresh store has an administrator: %v %v", has, err)
	}
	for _, tc := range []struct {
		user, pw string
		want     error
	}{
		{"", "long-enough", ErrInvalidUserName},
		{"bad name", "long-enough", ErrInvalidUserName},
		{"admin", "short", ErrWeakPassword},
	} {
		if err := m.Admins().CreateAdministrator(tc.user, tc.pw); !errors.Is(err, tc.want) {
			t.Errorf("CreateAdministrator(%q, %q) = %v, want %v", tc.user, tc.pw, err, tc.want)
		}
	}
	if err := m.Admins().CreateAdministrator("Admin", "correct horse"); err != nil {
		t.Fatal(err)
	}
	if err := m.Admins().CreateAdministrator("other", "correct horse"); !errors.Is(err, ErrAdminExists) {
		t.Fatalf("second first-administrator: %v", err)
	}
	if err := m.Admins().AddAdministrator(nil, "other", "correct horse"); !errors.Is(err, ErrAdminRequired) {
		t.Fatalf("adding without a session: %v", err)
	}
	sess, err := m.Admins().AdminLogin("admin", "correct horse") // user names ignore case
	if err != nil || sess.User() != "Admin" {
		t.Fatalf("login: %v", err)
	}
	if err := m.Admins().AddAdministrator(sess, "other", "battery staple"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Admins().AdminLogin("other", "battery staple"); err != nil {
		t.Fatal(err)
	}
	if log, _ := s.AuditLog(); len(log) != 2 || log[0].Kind != "admin_created" {
		t.Fatalf("audit: %+v", log)
	}
	raw, _ := s.get(prefixAdmin + "admin")
	if len(raw) == 0 || bytes.Contains(raw, []byte("correct horse")) {
		t.Fatal("password stored in clear or not at all")
	}
}

func TestRequireAdmin(t *testing.T) {
	var clock atomic.Int64
	base := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	now := func() time.Time { return base.Add(time.Duration(clock.Load())) }
	m := newAdminManager(t, newTestStore(t), now)
	if err := m.Admins().CreateAdministrator("admin", "correct horse"); err != nil {
		t.Fatal(err)
	}
	sess, err := m.Admins().AdminLogin("admin", "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Admins().Check(sess); err != nil {
		t.Fatalf("fresh session refused: %v", err)
	}
	forged := &AdminSession{user: "admin", token: "guess", expires: sess.expires}
	copied := &AdminSession{user: "admin", token: sess.token, expires: sess.expires.Add(time.Hour)}
	for name, s := range map[string]*AdminSession{"nil": nil, "zero": {}, "forged": forged, "extended copy": copied} {
		if err := m.Admins().Check(s); !errors.Is(err, ErrAdminRequired) {
			t.Errorf("%s session: %v", name, err)
		}
	}
	other := newAdminManager(t, m.store, now)
	if err := other.Admins().Check(sess); !errors.Is(err, ErrAdminRequired) {
		t.Error("a session from another manager was accepted")
	}
	clock.Store(int64(AdminSessionTTL))
	if err := m.Admins().Check(sess); !errors.Is(err, ErrAdminRequired) {
		t.Errorf("session at its expiry: %v", err)
	}
	clock.Store(0)
	sess2, _ := m.Admins().AdminLogin("admin", "correct horse")
	m.Admins().AdminLogout(sess2)
	if err := m.Admins().Check(sess2); !errors.Is(err, ErrAdminRequired) {
		t.Errorf("session after logout: %v", err)
	}
}

func TestAdminLoginThrottle(t *testing.T) {
	var clock atomic.Int64
	base := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	now := func() time.Time { return base.Add(time.Duration(clock.Load())) }
	s := newTestStore(t)
	m := newAdminManager(t, s, now)
	if err := m.Admins().CreateAdministrator("admin", "correct horse"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < loginFreeFailures; i++ {
		if _, err := m.Admins().AdminLogin("admin", "wrong"); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	// The next failure locks the account for loginBaseLock.
	if _, err := m.Admins().AdminLogin("admin", "wrong"); !errors.Is(err, ErrBadCredentials) {
		t.Fatal(err)
	}
	if _, err := m.Admins().AdminLogin("admin", "correct horse"); !errors.Is(err, ErrLoginThrottled) {
		t.Fatalf("right password during the lock: %v", err)
	}
	// The lock survives a restart.
	if _, err := newAdminManager(t, s, now).Admins().AdminLogin("admin", "correct horse"); !errors.Is(err, ErrLoginThrottled) {
		t.Fatalf("after restart: %v", err)
	}
	clock.Store(int64(loginBaseLock))
	if _, err := m.Admins().AdminLogin("admin", "wrong"); !errors.Is(err, ErrBadCredentials) {
		t.Fatal(err)
	}
	clock.Store(int64(loginBaseLock + loginBaseLock)) // the lock doubled
	if _, err := m.Admins().AdminLogin("admin", "correct horse"); !errors.Is(err, ErrLoginThrottled) {
		t.Fatalf("second lock should last %v: %v", 2*loginBaseLock, err)
	}
	clock.Store(int64(loginBaseLock + 2*loginBaseLock))
	if _, err := m.Admins().AdminLogin("admin", "correct horse"); err != nil {
		t.Fatalf("after the lock: %v", err)
	}
	if _, err := m.Admins().AdminLogin("nobody", "whatever"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("unknown user: %v", err)
	}
}

// TestSessionByToken: a session crosses a process boundary as its token;
// only a live token of this Admins comes back, and a rebuilt session
// passes Check only with the token and expiry it was issued with.
func TestSessionByToken(t *testing.T) {
	clock := newFakeClock(t0)
	m := newAdminManager(t, newTestStore(t), clock.Now)
	a := m.Admins()
	mustNil(t, a.CreateAdministrator("Admin", "correct horse"))
	sess, err := a.AdminLogin("admin", "correct horse")
	mustNil(t, err)
	got, err := a.Session(sess.Token())
	if err != nil || got.User() != "Admin" || !got.Expires().Equal(sess.Expires()) {
		t.Fatalf("Session(token) = %+v, %v", got, err)
	}
	if err := a.Check(RemoteAdminSession("someone", sess.Token(), sess.Expires())); err != nil {
		t.Fatalf("a rebuilt session is refused: %v", err)
	}
	for name, s := range map[string]*AdminSession{
		"unknown token":  RemoteAdminSession("Admin", "guess", sess.Expires()),
		"empty token":    RemoteAdminSession("Admin", "", sess.Expires()),
		"another expiry": RemoteAdminSession("Admin", sess.Token(), sess.Expires().Add(time.Hour)),
	} {
		if err := a.Check(s); !errors.Is(err, ErrAdminRequired) {
			t.Errorf("%s: Check = %v, want ErrAdminRequired", name, err)
		}
	}
	if _, err := a.Session("guess"); !errors.Is(err, ErrAdminRequired) {
		t.Errorf("Session(unknown) = %v", err)
	}
	clock.Add(AdminSessionTTL)
	if _, err := a.Session(sess.Token()); !errors.Is(err, ErrAdminRequired) {
		t.Errorf("Session after expiry = %v, want ErrAdminRequired", err)
	}
	clock.Set(t0)
	a.AdminLogout(sess)
	if _, err := a.Session(sess.Token()); !errors.Is(err, ErrAdminRequired) {
		t.Errorf("Session after logout = %v, want ErrAdminRequired", err)
	}
}
