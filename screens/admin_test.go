package screens

import (
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

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

// TestDialogs: the Remove license dialog names its action and marks it as
// dangerous, Escape keeps the license; the create-administrator dialog
// states the password rule up front and a short password keeps it open
// with the error beside the field.
func TestDialogs(t *testing.T) {
	t.Run("remove", func(t *testing.T) {
		gate, w, top := manageDialog(t, func(m *manage) *widget.Button { return m.removeBtn })
		remove, keep := findButton(t, top, "Remove license"), findButton(t, top, "Keep")
		if remove.(*widget.Button).Importance != widget.DangerImportance || keep == nil {
			t.Errorf("Remove license importance %v", remove.(*widget.Button).Importance)
		}
		assertGolden(t, "dialog_remove.xml", w)
		escape(t, w)
		if w.Canvas().Overlays().Top() != nil || len(gate.actions) != 0 {
			t.Errorf("Escape: dialog still shown %v, gate asked %v", w.Canvas().Overlays().Top() != nil, gate.actions)
		}
	})
	t.Run("short password", func(t *testing.T) {
		test.NewTempApp(t)
		w := goldenWindow(t, widget.NewLabel(""))
		svc := &fakeAdmins{}
		g := NewAdminGate(svc, w)
		g.async = func(f func()) { f() }
		ran := 0
		d, entries := g.dialog("Remove the license", false, func(*licensecore.AdminSession) { ran++ })
		showEsc(w, d, entries...)
		top := w.Canvas().Overlays().Top()
		if !strings.Contains(test.RenderToMarkup(w.Canvas()), "At least 8 characters.") {
			t.Error("the password rule is not shown up front")
		}
		user, pw, again := entries[0], entries[1], entries[2]
		// Typed field by field, as a person does: leaving a field checks it.
		for _, step := range []struct {
			e    *escEntry
			text string
		}{{user, "admin"}, {pw, "short"}, {again, "short"}} {
			w.Canvas().Focus(step.e)
			test.Type(step.e, step.text)
		}
		w.Canvas().Focus(user)
		pw.OnSubmitted("short")
		if w.Canvas().Overlays().Top() == nil || ran != 0 || svc.user != "" {
			t.Fatalf("a short password closed the dialog (ran %d, user %q)", ran, svc.user)
		}
		if findButton(t, top, "Create").Disabled() == false {
			t.Error("Create enabled with a short password")
		}
		if !strings.Contains(test.RenderToMarkup(w.Canvas()), "Use at least 8 characters.") {
			t.Error("no error beside the password field")
		}
		assertGolden(t, "dialog_admin_short_password.xml", w)
		w.Canvas().Focus(pw)
		test.Type(pw, "-long-enough")
		w.Canvas().Focus(again)
		test.Type(again, "-long-enough")
		w.Canvas().Focus(user)
		pw.OnSubmitted(pw.Text)
		if ran != 1 || svc.user != "admin" || svc.pw != "short-long-enough" {
			t.Errorf("after fixing the password: ran %d, user %q pw %q", ran, svc.user, svc.pw)
		}
	})
}
