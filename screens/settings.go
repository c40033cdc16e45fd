package screens

import (
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"licensedesk/licensecore/wire"
	"licensedesk/screens/plain"
)

type settings struct {
	current plain.Settings
	onSave  func(plain.Settings) error

	authority, root, renewalDays, warnHours, warnPercent *widget.Entry
	fingerprint                                          *widget.Label
	minimized                                            *widget.Check
	msg                                                  *widget.Label
}

// NewSettings returns the settings form filled with current. onSave runs on
// the UI thread with validated values; its error is shown in plain words.
func NewSettings(current plain.Settings, onSave func(plain.Settings) error) fyne.CanvasObject {
	return newSettings(current, onSave).buildUI()
}

func newSettings(current plain.Settings, onSave func(plain.Settings) error) *settings {
	return &settings{current: current, onSave: onSave}
}

func (s *settings) buildUI() fyne.CanvasObject {
	entry := func(v string) *widget.Entry {
		e := widget.NewEntry()
		e.SetText(v)
		return e
	}
	s.authority = entry(s.current.AuthorityURL)
	s.authority.SetPlaceHolder("https://licensing.example.com")
	s.root = entry(s.current.RootKey)
	s.root.SetPlaceHolder("ed25519:…")
	s.fingerprint = wrapped(fingerprintLine(s.current.RootKey))
	s.root.OnChanged = func(v string) { s.fingerprint.SetText(fingerprintLine(v)) }
	storage := wrapped(storageLine(s.current.KeyStorage))
	s.renewalDays = entry(strconv.Itoa(s.current.RenewalWindowDays))
	s.warnHours = entry(strconv.Itoa(s.current.TokenWarnHours))
	s.warnPercent = entry(strconv.Itoa(s.current.TokenWarnPercent))
	s.minimized = widget.NewCheck("Start minimized to the notification area", nil)
	s.minimized.SetChecked(s.current.StartMinimized)
	s.msg = wrapped("")
	s.msg.Hide()

	form := widget.NewForm(
		widget.NewFormItem("Authorization server", s.authority),
		widget.NewFormItem("", wrapped("The address of the server that issues this server's license and its tokens.")),
		widget.NewFormItem("Root key", s.root),
		widget.NewFormItem("", s.fingerprint),
		widget.NewFormItem("Keys kept in", storage),
		&widget.FormItem{Text: "Renewal warning (days)", Widget: s.renewalDays,
			HintText: "Warn when the renewal date is this close."},
		&widget.FormItem{Text: "Token warning (hours)", Widget: s.warnHours,
			HintText: "Warn when the token expires within this many hours…"},
		&widget.FormItem{Text: "Token warning (%)", Widget: s.warnPercent,
			HintText: "…or has less than this share of its life left."},
		// Form hints do not wrap: the longer words go in a wrapping label.
		widget.NewFormItem("", wrapped("The license token lets registers check the license; License Desk renews it by itself. "+
			"Of the two token warnings, the one that comes later applies.")),
		widget.NewFormItem("", s.minimized),
	)
	form.SubmitText = "Save"
	form.OnSubmit = s.onSubmit
	return container.NewVBox(form, s.msg)
}

// read parses the form; numbers that are not numbers become 0, which
// Validate rejects with a sentence naming the field.
func (s *settings) read() plain.Settings {
	num := func(e *widget.Entry) int {
		n, err := strconv.Atoi(strings.TrimSpace(e.Text))
		if err != nil {
			return 0
		}
		return n
	}
	return plain.Settings{
		AuthorityURL:      strings.TrimRight(strings.TrimSpace(s.authority.Text), "/"),
		RootKey:           strings.TrimSpace(s.root.Text),
		KeyStorage:        s.current.KeyStorage,
		RenewalWindowDays: num(s.renewalDays),
		TokenWarnHours:    num(s.warnHours),
		TokenWarnPercent:  num(s.warnPercent),
		StartMinimized:    s.minimized.Checked,
	}
}

func (s *settings) onSubmit() {
	v := s.read()
	if err := v.Validate(); err != nil {
		s.setMsg(err.Error(), widget.DangerImportance)
		return
	}
	if s.onSave != nil {
		if err := s.onSave(v); err != nil {
			s.setMsg(plain.Explain(err), widget.DangerImportance)
			return
		}
	}
	s.current = v
	s.setMsg("Settings saved.", widget.SuccessImportance)
}

func (s *settings) setMsg(msg string, imp widget.Importance) {
	s.msg.Importance = imp
	s.msg.SetText(msg)
	s.msg.Show()
}

// fingerprintLine is what a person compares with the provider's word.
func fingerprintLine(v string) string {
	if strings.TrimSpace(v) == "" {
		return "No root key is set: License Desk cannot trust any license until one is."
	}
	k, err := wire.ParseRootKey(v)
	if err != nil {
		return "Not a valid root key."
	}
	return "Fingerprint " + wire.Fingerprint(k) + ". Compare it with the one your provider gave you."
}

func storageLine(kind string) string {
	switch kind {
	case "", "file":
		return "A file sealed to this PC (no credential store was found; keys in a file are easier to steal)."
	case "plain file":
		return "A plain file beside the data (no credential store and no machine id were found; anyone who copies the folder gets the keys)."
	}
	return kind
}
