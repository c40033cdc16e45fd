package screens

import (
	"fmt"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"licensedesk/licensecore"
	"licensedesk/screens/plain"
)

// AdminService is what the administrator gate needs; *licensecore.Manager
// implements it. The Manager enforces the role itself: the gate only
// obtains the session it asks for.
type AdminService interface {
	HasAdministrator() (bool, error)
	CreateAdministrator(user, password string) error
	AdminLogin(user, password string) (*licensecore.AdminSession, error)
}

// AdminGate asks for a System Administrator's login before a protected
// action and reuses the session until it is nearly expired, so a person
// making several changes logs in once. On a PC without an administrator it
// creates the first account.
type AdminGate struct {
	svc     AdminService
	win     fyne.Window
	now     func() time.Time
	sess    *licensecore.AdminSession
	expires time.Time
	async   func(func())
}

// NewAdminGate builds the gate for dialogs shown over win.
func NewAdminGate(svc AdminService, win fyne.Window) *AdminGate {
	return &AdminGate{svc: svc, win: win, now: time.Now, async: goAsync}
}

// Forget drops the remembered session (after an action refused it).
func (g *AdminGate) Forget() { g.sess = nil }

// Do runs then with an administrator session, asking for a login first
// when there is none. action names what the login is for.
func (g *AdminGate) Do(action string, then func(*licensecore.AdminSession)) {
	// Keep a minute of margin so the session does not expire mid-action.
	if g.sess != nil && g.now().Add(time.Minute).Before(g.expires) {
		then(g.sess)
		return
	}
	has, err := g.svc.HasAdministrator()
	if err != nil {
		dialog.ShowError(errorSentence(err), g.win)
		return
	}
	d, entries := g.dialog(action, has, then)
	showEsc(g.win, d, entries...)
}

// minPassword is the administrator password rule, shown up front.
const minPassword = 8

// dialog builds the login (has) or create-administrator dialog. A password
// that breaks the rule keeps the dialog open: the error shows beside the
// field and the confirm button stays off until it is fixed.
func (g *AdminGate) dialog(action string, has bool, then func(*licensecore.AdminSession)) (*dialog.FormDialog, []*escEntry) {
	user := newEscEntry(false)
	user.SetPlaceHolder("administrator")
	pw := newEscEntry(true)
	items := []*widget.FormItem{widget.NewFormItem("User name", user), widget.NewFormItem("Password", pw)}
	title, confirm := "Administrator login", "Log in"
	entries := []*escEntry{user, pw}
	var again *escEntry
	if !has {
		title, confirm = "Create the System Administrator", "Create"
		pw.Validator = func(s string) error {
			if len([]rune(s)) < minPassword {
				// A new error value each time: Fyne's form tells its
				// dialog only about errors that differ from the last one.
				return &sentenceError{fmt.Sprintf("Use at least %d characters.", minPassword)}
			}
			return nil
		}
		again = newEscEntry(true)
		again.Validator = func(s string) error {
			if s != pw.Text {
				return &sentenceError{"The two passwords differ."}
			}
			return nil
		}
		// Check as the person types, from the first character on (Fyne
		// would wait until the field loses focus, and its form then misses
		// the error): the rule stays a hint until something is typed.
		pw.OnChanged = func(string) {
			pw.AlwaysShowValidationError, again.AlwaysShowValidationError = true, again.Text != ""
			pw.Validate()
			again.Validate()
		}
		again.OnChanged = func(string) {
			again.AlwaysShowValidationError = true
			again.Validate()
		}
		entries = append(entries, again)
		items[1].HintText = fmt.Sprintf("At least %d characters.", minPassword)
		items = append(items, widget.NewFormItem("Repeat password", again))
		items = append([]*widget.FormItem{widget.NewFormItem("", widget.NewLabel("No administrator exists on this PC yet.\nThe account you create here is needed for every license change."))}, items...)
	}
	items = append([]*widget.FormItem{widget.NewFormItem("", widget.NewLabelWithStyle(action, fyne.TextAlignLeading, fyne.TextStyle{Bold: true}))}, items...)
	var d *dialog.FormDialog
	submit := func(string) { d.Submit() }
	for _, e := range entries {
		e.OnSubmitted = submit // Enter in a field presses the confirm button
	}
	d = dialog.NewForm(title, confirm, "Cancel", items, func(ok bool) {
		if ok {
			g.login(!has, user.Text, pw.Text, then)
		}
	}, g.win)
	d.Resize(fyne.NewSize(440, 0))
	return d, entries
}

// login runs off the UI thread: argon2id takes a noticeable moment.
func (g *AdminGate) login(create bool, user, password string, then func(*licensecore.AdminSession)) {
	g.async(func() {
		var err error
		if create {
			err = g.svc.CreateAdministrator(user, password)
		}
		var sess *licensecore.AdminSession
		if err == nil {
			sess, err = g.svc.AdminLogin(user, password)
		}
		fyne.Do(func() {
			if err != nil {
				dialog.ShowError(errorSentence(err), g.win)
				return
			}
			g.sess, g.expires = sess, g.now().Add(licensecore.AdminSessionTTL)
			then(sess)
		})
	})
}

type sentenceError struct{ msg string }

func (e sentenceError) Error() string { return e.msg }

// errorSentence wraps Explain's sentence for Fyne's error dialog.
func errorSentence(err error) error { return sentenceError{plain.Explain(err)} }
