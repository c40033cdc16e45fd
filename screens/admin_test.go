package screens

import (
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"licensedesk/licensecore"
)

// fakeAdmins is an AdminService with one account at most.
type fakeAdmins struct {
	user, pw string
	logins   int
}

func (f *fakeAdmins) HasAdministrator() (bool, error) { return f.user != "", nil }
func (f *fakeAdmins) CreateAdministrator(u, p string) error {
	if f.user != "" {
		return licensecore.ErrAdminExists
	}
	f.user, f.pw = u, p
	return nil
}
func (f *fakeAdmins) AdminLogin(u, p string) (*licensecore.AdminSession, error) {
	f.logins++
	if u != f.user || p != f.pw {
		return nil, licensecore.ErrBadCredentials
	}
	return &licensecore.AdminSession{}, nil
}

func TestAdminGate(t *testing.T) {
	test.NewTempApp(t)
	w := test.NewWindow(nil)
	defer w.Close()
	svc := &fakeAdmins{}
	now := t0
	g := NewAdminGate(svc, w)
	g.now = func() time.Time { return now }
	g.async = func(f func()) { f() }

	var got []*licensecore.AdminSession
	then := func(s *licensecore.AdminSession) { got = append(got, s) }

	// No administrator yet: the dialog asks to create one, and nothing runs.
	g.Do("Remove the license", then)
	if len(got) != 0 || len(w.Canvas().Overlays().List()) != 1 {
		t.Fatalf("expected a create dialog and no action; ran %d, overlays %d", len(got), len(w.Canvas().Overlays().List()))
	}
	w.Canvas().Overlays().Top().Hide()
	w.Canvas().Overlays().Remove(w.Canvas().Overlays().Top())

	g.login(true, "admin", "correct horse", then)
	if svc.user != "admin" || len(got) != 1 || got[0] == nil {
		t.Fatalf("create+login: user %q, ran %d", svc.user, len(got))
	}
	// The session is reused while it has more than a minute left...
	now = now.Add(licensecore.AdminSessionTTL - 2*time.Minute)
	g.Do("Switch model", then)
	if len(got) != 2 || svc.logins != 1 {
		t.Fatalf("session not reused: ran %d, logins %d", len(got), svc.logins)
	}
	// ...and not after that.
	now = now.Add(90 * time.Second)
	g.Do("Switch model", then)
	if len(got) != 2 || len(w.Canvas().Overlays().List()) != 1 {
		t.Fatal("an almost expired session was used")
	}
	w.Canvas().Overlays().Remove(w.Canvas().Overlays().Top())

	g.Forget()
	g.login(false, "admin", "wrong", then)
	if len(got) != 2 || g.sess != nil {
		t.Fatal("a wrong password ran the action")
	}
	if top := w.Canvas().Overlays().Top(); top == nil {
		t.Fatal("no error shown for a wrong password")
	}
}
