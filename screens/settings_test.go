package screens

import (
	"errors"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"licensedesk/licensecore"
	"licensedesk/screens/plain"
)

func validSettings() plain.Settings {
	return plain.Settings{AuthorityURL: "https://licensing.example.com", RenewalWindowDays: 30,
		TokenWarnHours: 48, TokenWarnPercent: 25, StartMinimized: true}
}

func TestSettingsValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*plain.Settings)
		want string // part of the message; "" means valid
	}{
		{"valid", func(*plain.Settings) {}, ""},
		{"http on a LAN can be intercepted", func(s *plain.Settings) { s.AuthorityURL = "http://10.0.0.5:8080" }, "must use https"},
		{"http on this PC", func(s *plain.Settings) { s.AuthorityURL = "http://127.0.0.1:8765" }, ""},
		{"root key", func(s *plain.Settings) { s.RootKey = "ed25519:11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo" }, ""},
		{"root key garbage", func(s *plain.Settings) { s.RootKey = "ed25519:abc" }, "root key is not valid"},
		{"root key of small order", func(s *plain.Settings) { s.RootKey = "ed25519:AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" }, "root key is not valid"},
		{"empty url", func(s *plain.Settings) { s.AuthorityURL = "" }, "address in full"},
		{"relative url", func(s *plain.Settings) { s.AuthorityURL = "licensing.example.com" }, "address in full"},
		{"ftp", func(s *plain.Settings) { s.AuthorityURL = "ftp://licensing.example.com" }, "address in full"},
		{"no host", func(s *plain.Settings) { s.AuthorityURL = "https://" }, "address in full"},
		{"query", func(s *plain.Settings) { s.AuthorityURL = "https://licensing.example.com/?x=1" }, "address in full"},
		{"user", func(s *plain.Settings) { s.AuthorityURL = "https://bob:pw@licensing.example.com" }, "address in full"},
		{"renewal 0", func(s *plain.Settings) { s.RenewalWindowDays = 0 }, "renewal warning"},
		{"renewal too long", func(s *plain.Settings) { s.RenewalWindowDays = 366 }, "renewal warning"},
		{"hours 0", func(s *plain.Settings) { s.TokenWarnHours = 0 }, "token warning must"},
		{"percent 100", func(s *plain.Settings) { s.TokenWarnPercent = 100 }, "percentage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validSettings()
			tt.edit(&s)
			err := s.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("unexpected error %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestSettingsPolicy(t *testing.T) {
	p := validSettings().Policy(licensecore.DefaultPolicy())
	if p.RenewalWindow != 30*24*time.Hour || p.TokenWarnBefore != 48*time.Hour || p.TokenWarnFraction != 0.25 {
		t.Errorf("policy %+v", p)
	}
	if err := p.Validate(); err != nil {
		t.Errorf("policy from valid settings is invalid: %v", err)
	}
	if p.Leeway != licensecore.DefaultPolicy().Leeway {
		t.Error("settings changed a threshold they do not own")
	}
}

func newSettingsForm(t *testing.T, onSave func(plain.Settings) error) (*settings, fyne.Window) {
	test.NewTempApp(t)
	s := newSettings(validSettings(), onSave)
	w := test.NewWindow(s.buildUI())
	w.Resize(fyne.NewSize(700, 500))
	return s, w
}

func TestSettingsForm(t *testing.T) {
	var saved []plain.Settings
	s, w := newSettingsForm(t, func(v plain.Settings) error { saved = append(saved, v); return nil })
	if s.authority.Text != "https://licensing.example.com" || s.renewalDays.Text != "30" || !s.minimized.Checked {
		t.Fatalf("form not filled from current settings")
	}
	save := findButton(t, w.Content(), "Save")

	s.authority.SetText("")
	test.Type(s.authority, "licensing.example.com")
	tap(t, save)
	if len(saved) != 0 {
		t.Fatal("invalid settings were saved")
	}
	if !strings.Contains(s.msg.Text, "address in full") || s.msg.Importance != widget.DangerImportance {
		t.Errorf("message %q %v", s.msg.Text, s.msg.Importance)
	}

	s.authority.SetText("")
	test.Type(s.authority, "https://auth.example.com/ ")
	s.warnHours.SetText("twelve")
	tap(t, save)
	if len(saved) != 0 || !strings.Contains(s.msg.Text, "token warning must") {
		t.Errorf("non-number accepted: saved %v, message %q", saved, s.msg.Text)
	}

	s.warnHours.SetText(" 12 ")
	test.Tap(s.minimized)
	tap(t, save)
	want := plain.Settings{AuthorityURL: "https://auth.example.com", RenewalWindowDays: 30, TokenWarnHours: 12,
		TokenWarnPercent: 25, StartMinimized: false}
	if len(saved) != 1 || saved[0] != want {
		t.Fatalf("saved %+v, want %+v", saved, want)
	}
	if s.msg.Text != "Settings saved." || s.msg.Importance != widget.SuccessImportance {
		t.Errorf("message %q", s.msg.Text)
	}
}

func TestSettingsSaveError(t *testing.T) {
	s, w := newSettingsForm(t, func(plain.Settings) error { return errors.New("disk full") })
	tap(t, findButton(t, w.Content(), "Save"))
	if !strings.Contains(s.msg.Text, "disk full") || s.msg.Importance != widget.DangerImportance {
		t.Errorf("message %q %v", s.msg.Text, s.msg.Importance)
	}
}
