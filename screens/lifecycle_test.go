package screens

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"licensedesk/licensecore"
	"licensedesk/licensecore/wire"
	"licensedesk/screens/plain"
)

// fakeGate grants every action at once and records what was asked.
type fakeGate struct{ actions []string }

func (g *fakeGate) Do(action string, then func(*licensecore.AdminSession)) {
	g.actions = append(g.actions, action)
	then(&licensecore.AdminSession{})
}

// fakeLifecycle answers the lifecycle and offline calls as the test sets.
type fakeLifecycle struct {
	st       licensecore.Status
	err      error
	changes  []licensecore.Change
	removes  []bool // Force of each Remove
	pending  *licensecore.SwitchRequest
	checked  licensecore.SwitchRequest
	applied  string
	imported []byte
}

func (f *fakeLifecycle) Verify(context.Context) (licensecore.Status, error) { return f.st, f.err }
func (f *fakeLifecycle) DownloadLicense(context.Context) (licensecore.Status, []licensecore.Change, error) {
	return f.st, f.changes, f.err
}
func (f *fakeLifecycle) Remove(_ context.Context, _ *licensecore.AdminSession, o licensecore.RemoveOptions) error {
	f.removes = append(f.removes, o.Force)
	if o.Force {
		return nil
	}
	return f.err
}
func (f *fakeLifecycle) RequestSwitch(_ context.Context, _ *licensecore.AdminSession, to wire.LicenseType) (licensecore.SwitchRequest, error) {
	f.pending = &licensecore.SwitchRequest{ID: "sw1", From: f.st.License.Type, To: to, Status: wire.SwitchPending, ApproveURI: "http://auth/switch", RequestedAt: t0}
	return *f.pending, f.err
}
func (f *fakeLifecycle) PendingSwitch() (licensecore.SwitchRequest, bool) {
	if f.pending == nil {
		return licensecore.SwitchRequest{}, false
	}
	return *f.pending, true
}
func (f *fakeLifecycle) CheckSwitch(context.Context) (licensecore.SwitchRequest, licensecore.Status, error) {
	if f.checked.Status == wire.SwitchApproved {
		f.pending = nil
	}
	return f.checked, f.st, f.err
}
func (f *fakeLifecycle) Status() licensecore.Status { return f.st }
func (f *fakeLifecycle) GetChallenge() (wire.Challenge, error) {
	return wire.Challenge{Binding: 7}, f.err
}
func (f *fakeLifecycle) ApplyResponse(_ context.Context, _ *licensecore.AdminSession, code string) (licensecore.Status, error) {
	f.applied = code
	return f.st, f.err
}
func (f *fakeLifecycle) LicenseRequest(account, serial string) ([]byte, error) {
	return []byte(`{"account_number":"` + account + `","serial_number":"` + serial + `"}`), f.err
}
func (f *fakeLifecycle) ImportEntitlement(_ context.Context, _ *licensecore.AdminSession, data []byte) (licensecore.Status, error) {
	f.imported = data
	return f.st, f.err
}
func (f *fakeLifecycle) Policy() licensecore.Policy { return licensecore.DefaultPolicy() }

func licensedStatus() licensecore.Status {
	return licensecore.Status{State: licensecore.Licensed, At: t0, License: &licensecore.License{ServerID: "POS-1", Type: wire.Subscription,
		LastVerifyResult: licensecore.VerifyValid}}
}

func syncAsync(f func()) { f() }

func TestManageActions(t *testing.T) {
	test.NewTempApp(t)
	w := test.NewWindow(nil)
	defer w.Close()
	svc := &fakeLifecycle{st: licensedStatus()}
	gate := &fakeGate{}
	var published []licensecore.Status
	status := NewStatusBinding(svc.st)
	m := newManage(context.Background(), svc, gate, w, status, nil, func(st licensecore.Status) { published = append(published, st) }, syncAsync)
	w.SetContent(m.buildUI())

	if m.switchBtn.Text != "Switch to perpetual…" {
		t.Errorf("switch button %q", m.switchBtn.Text)
	}
	test.Tap(m.verifyBtn)
	if !strings.Contains(m.run.msg.Text, "valid") || len(published) != 1 {
		t.Errorf("verify: %q, published %d", m.run.msg.Text, len(published))
	}

	svc.changes = []licensecore.Change{{Field: licensecore.FieldCapacity, Old: "3", New: "5"}, {Field: licensecore.FieldModules, Old: "", New: "loyalty"}}
	test.Tap(m.downloadBtn)
	if got := m.run.msg.Text; !strings.Contains(got, "3 → 5") || !strings.Contains(got, "none → loyalty") {
		t.Errorf("download changes: %q", got)
	}
	svc.changes = nil
	test.Tap(m.downloadBtn)
	if !strings.Contains(m.run.msg.Text, "nothing changed") {
		t.Errorf("download without changes: %q", m.run.msg.Text)
	}

	// Remove while the authority is down: a second question offers to
	// remove locally; only then Force is used.
	svc.err = licensecore.ErrAuthorityDown
	m.remove(&licensecore.AdminSession{}, false)
	if len(svc.removes) != 1 || svc.removes[0] || w.Canvas().Overlays().Top() == nil {
		t.Fatalf("offline remove: %v, overlay %v", svc.removes, w.Canvas().Overlays().Top())
	}
	m.remove(&licensecore.AdminSession{}, true)
	if len(svc.removes) != 2 || !svc.removes[1] || !strings.Contains(m.run.msg.Text, "removed") {
		t.Fatalf("forced remove: %v %q", svc.removes, m.run.msg.Text)
	}
}

func TestManageSwitch(t *testing.T) {
	test.NewTempApp(t)
	w := test.NewWindow(nil)
	defer w.Close()
	svc := &fakeLifecycle{st: licensedStatus()}
	var published int
	m := newManage(context.Background(), svc, &fakeGate{}, w, NewStatusBinding(svc.st), nil, func(licensecore.Status) { published++ }, syncAsync)
	w.SetContent(m.buildUI())
	if m.pendingBox.Visible() {
		t.Fatal("pending box shown without a request")
	}
	svc.RequestSwitch(context.Background(), nil, wire.Perpetual)
	m.showPending()
	if !m.pendingBox.Visible() || !strings.Contains(m.pending.Text, "subscription to perpetual") {
		t.Fatalf("pending: %v %q", m.pendingBox.Visible(), m.pending.Text)
	}
	svc.checked = licensecore.SwitchRequest{Status: wire.SwitchPending}
	test.Tap(m.checkBtn)
	if !strings.Contains(m.run.msg.Text, "waiting") || published != 0 {
		t.Fatalf("still pending: %q", m.run.msg.Text)
	}
	svc.checked = licensecore.SwitchRequest{Status: wire.SwitchApproved, To: wire.Perpetual}
	test.Tap(m.checkBtn)
	if !strings.Contains(m.run.msg.Text, "now perpetual") || published != 1 || m.pendingBox.Visible() {
		t.Fatalf("approved: %q published %d", m.run.msg.Text, published)
	}
}

func TestOfflineScreen(t *testing.T) {
	test.NewTempApp(t)
	w := test.NewWindow(nil)
	defer w.Close()
	dir := t.TempDir()
	svc := &fakeLifecycle{st: licensedStatus()}
	gate := &fakeGate{}
	var published int
	o := newOffline(context.Background(), svc, gate, w, NewStatusBinding(svc.st), func(licensecore.Status) { published++ }, syncAsync)
	w.SetContent(o.buildUI(dir))

	test.Tap(o.getBtn)
	if o.challenge.Text == "" {
		t.Fatal("no challenge shown")
	}
	test.Tap(o.upgradeBtn)
	if svc.applied != "" || !strings.Contains(o.run.msg.Text, "Type the reply code") {
		t.Fatalf("empty response applied: %q", o.run.msg.Text)
	}
	test.Type(o.response, " BCDFG-HJKLM ")
	test.Tap(o.upgradeBtn)
	if svc.applied != "BCDFG-HJKLM" || published != 1 || len(gate.actions) != 1 {
		t.Fatalf("upgrade: applied %q, published %d, gate %v", svc.applied, published, gate.actions)
	}

	test.Type(o.account, "ACC-1")
	test.Type(o.serial, "SN-9")
	test.Tap(o.requestBtn)
	raw, err := os.ReadFile(filepath.Join(dir, "license-request.json"))
	if err != nil || !strings.Contains(string(raw), "ACC-1") || !strings.Contains(string(raw), "SN-9") {
		t.Fatalf("request file: %s %v", raw, err)
	}

	ent := filepath.Join(dir, "license.ent")
	os.WriteFile(ent, []byte("ENTITLEMENT"), 0o600)
	o.entPath.SetText(ent)
	test.Tap(o.importBtn)
	if string(svc.imported) != "ENTITLEMENT" || !strings.Contains(o.run.msg.Text, "imported") {
		t.Fatalf("import: %q %q", svc.imported, o.run.msg.Text)
	}

	big := filepath.Join(dir, "big.ent")
	os.WriteFile(big, make([]byte, wire.MaxEntitlementFile+1), 0o600)
	svc.imported = nil
	o.entPath.SetText(big)
	test.Tap(o.importBtn)
	if svc.imported != nil || !strings.Contains(o.run.msg.Text, "not a license file") {
		t.Fatalf("oversized file: imported %d bytes, %q", len(svc.imported), o.run.msg.Text)
	}

	svc.err = licensecore.ErrEntitlementForeign
	o.entPath.SetText(ent)
	test.Tap(o.importBtn)
	if !strings.Contains(o.run.msg.Text, "another PC") {
		t.Fatalf("foreign file: %q", o.run.msg.Text)
	}
}

func TestOfflineWarningInTrayAndDetails(t *testing.T) {
	test.NewTempApp(t)
	since := t0.Add(-23 * 24 * time.Hour)
	l := &licensecore.License{ServerID: "POS-1", LicenseID: "L", Type: wire.Subscription, Offline: true, OfflineSince: since,
		TokenIssuedAt: since, TokenExpiry: since.Add(30 * 24 * time.Hour)}
	st := licensecore.Evaluate(l, t0, licensecore.DefaultPolicy())
	if !st.OfflineExpiring {
		t.Fatalf("23 days offline should warn: %+v", st)
	}
	line, state := plain.TrayStatus(st, t0)
	if line != "License expires in 7 days — licensing server unavailable" || state != plain.TrayWarning {
		t.Errorf("tray: %q %v", line, state)
	}
	d := newDetails(context.Background(), nil, NewStatusBinding(st), nil, time.UTC)
	d.buildUI()
	d.show(st)
	// The worst condition: said in the status line, not a banner.
	if !strings.Contains(d.line.detail.Text, "unavailable for 23 days") || d.line.headline.Text != line {
		t.Errorf("details status line: %q / %q", d.line.headline.Text, d.line.detail.Text)
	}
}

// TestOfflineCodeReadable: the code someone reads aloud is a large,
// monospace, selectable label in the normal text color (not a disabled
// field), with Copy; the tab speaks in plain steps.
func TestOfflineCodeReadable(t *testing.T) {
	a := test.NewTempApp(t)
	w := test.NewWindow(nil)
	defer w.Close()
	svc := &fakeLifecycle{st: licensedStatus()}
	o := newOffline(context.Background(), svc, &fakeGate{}, w, NewStatusBinding(svc.st), func(licensecore.Status) {}, syncAsync)
	w.SetContent(o.buildUI(""))
	if o.challengeBox.Visible() {
		t.Error("an empty code box is shown before Get code")
	}
	test.Tap(o.getBtn)
	c := o.challenge
	if c.Text == "" || !c.Selectable || !c.TextStyle.Monospace || c.SizeName != theme.SizeNameHeadingText ||
		c.Importance != widget.MediumImportance || !o.challengeBox.Visible() {
		t.Errorf("code %q selectable %v monospace %v size %q importance %v shown %v",
			c.Text, c.Selectable, c.TextStyle.Monospace, c.SizeName, c.Importance, o.challengeBox.Visible())
	}
	test.Tap(findButton(t, o.challengeBox, "Copy"))
	if got := a.Clipboard().Content(); got != c.Text {
		t.Errorf("clipboard %q, want %q", got, c.Text)
	}
	all := strings.Join(texts(w.Content()), " ") + " " + o.response.PlaceHolder + " " + o.entPath.PlaceHolder
	for _, b := range []*widget.Button{o.getBtn, o.upgradeBtn, o.requestBtn, o.importBtn} {
		all += " " + b.Text
	}
	for _, jargon := range []string{"challenge", "Challenge", "response", "Upgrade", ".ent"} {
		if strings.Contains(all, jargon) {
			t.Errorf("the offline tab says %q:\n%s", jargon, all)
		}
	}
	if _, err := readLimited("", 10); err == nil || err.Error() != "Choose the license file first (Browse…)." {
		t.Errorf("no file: %v", err)
	}
}
