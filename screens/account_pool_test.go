package screens

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"licensedesk/licensecore"
	"licensedesk/licensecore/wire"
)

type fakeAccount struct {
	acc   licensecore.Account
	err   error
	calls int
}

func (f *fakeAccount) Account() (licensecore.Account, error) { return f.acc, nil }
func (f *fakeAccount) SetCustomerID(_ context.Context, _ *licensecore.AdminSession, id string) (licensecore.Account, error) {
	f.calls++
	if f.err != nil {
		return f.acc, f.err
	}
	f.acc.CustomerID, f.acc.CustomerName = id, "Acme Stores"
	return f.acc, nil
}

func TestAccountScreen(t *testing.T) {
	test.NewTempApp(t)
	svc := &fakeAccount{acc: licensecore.Account{InstallCode: "BCDF-GHJK-LMNP-QRST", ServerName: "Till server"}}
	gate := &fakeGate{}
	a := newAccount(context.Background(), svc, gate, syncAsync)
	w := test.NewWindow(a.buildUI())
	defer w.Close()
	if a.install.Text != "BCDF-GHJK-LMNP-QRST" || a.server.Text != "Till server" || a.edits.Visible() {
		t.Fatalf("initial: %q %q edits %v", a.install.Text, a.server.Text, a.edits.Visible())
	}
	test.Type(a.customerID, "not-a-uuid")
	if !a.edits.Visible() || a.customerID.Validate() == nil {
		t.Fatal("editing must show Save/Discard and flag the bad ID")
	}
	test.Tap(a.saveBtn)
	if svc.calls != 0 || !strings.Contains(a.run.msg.Text, "not a valid Customer ID") {
		t.Fatalf("invalid ID sent: %d, %q", svc.calls, a.run.msg.Text)
	}
	test.Tap(a.discardBtn)
	if a.customerID.Text != "" || a.edits.Visible() {
		t.Fatal("discard did not restore the saved value")
	}
	test.Type(a.customerID, "  3F2504E0-4F89-41D3-9A0C-0305E82C3301 ")
	svc.err = licensecore.ErrUnknownCustomer
	test.Tap(a.saveBtn)
	if !strings.Contains(a.run.msg.Text, "does not know this Customer ID") || !a.edits.Visible() {
		t.Fatalf("unknown customer: %q", a.run.msg.Text)
	}
	svc.err = nil
	test.Tap(a.saveBtn)
	if svc.acc.CustomerID != "3f2504e0-4f89-41d3-9a0c-0305e82c3301" || a.edits.Visible() || a.customerName.Text != "Acme Stores" {
		t.Fatalf("save: %q edits %v", svc.acc.CustomerID, a.edits.Visible())
	}
	if len(gate.actions) != 2 {
		t.Fatalf("admin gate asked %d times, want 2", len(gate.actions))
	}
}

type fakePool struct {
	available []wire.PoolLicense
	mine      []licensecore.ActivatedLicense
	stopAfter int // ActivatePool fails after this many
	returned  []string
	progress  []int
}

func (f *fakePool) PoolLicenses(context.Context) ([]wire.PoolLicense, error) {
	return f.available, nil
}
func (f *fakePool) ActivatePool(_ context.Context, _ *licensecore.AdminSession, ids []string, progress func(int, int)) ([]licensecore.ActivatedLicense, error) {
	var done []licensecore.ActivatedLicense
	for i, id := range ids {
		if f.stopAfter > 0 && i == f.stopAfter {
			return done, context.Canceled
		}
		for _, l := range f.available {
			if l.ID == id {
				a := licensecore.ActivatedLicense{PoolLicense: l, State: licensecore.ActivationActive, ActivatedAt: t0}
				f.mine = append(f.mine, a)
				done = append(done, a)
			}
		}
		progress(i+1, len(ids))
		f.progress = append(f.progress, i+1)
	}
	return done, nil
}
func (f *fakePool) TransferToPool(_ context.Context, _ *licensecore.AdminSession, ids []string) (licensecore.TransferResult, error) {
	if ids == nil {
		for _, a := range f.mine {
			ids = append(ids, a.ID)
		}
	}
	f.returned = ids
	f.mine = nil
	return licensecore.TransferResult{Returned: ids}, nil
}
func (f *fakePool) ActivatedLicenses() ([]licensecore.ActivatedLicense, error) { return f.mine, nil }
func (f *fakePool) TotalCapacity() (licensecore.PoolTotals, error) {
	var t licensecore.PoolTotals
	for _, a := range f.mine {
		t.Devices += a.Devices
	}
	return t, nil
}
func (f *fakePool) PlanTransfer(ids []string) (licensecore.TransferPlan, error) {
	var plan licensecore.TransferPlan
	for _, a := range f.mine {
		plan.Before.Devices += a.Devices
		if ids == nil || slices.Contains(ids, a.ID) {
			plan.Licenses = append(plan.Licenses, a)
		} else {
			plan.After.Devices += a.Devices
		}
	}
	return plan, nil
}

func TestPoolScreen(t *testing.T) {
	test.NewTempApp(t)
	cap8 := wire.PoolLicense{ID: "P-1", Kind: wire.PoolCapacity, Devices: 8, TransferDate: t0}
	cap4 := wire.PoolLicense{ID: "P-2", Kind: wire.PoolCapacity, Devices: 4, TransferDate: t0}
	mnt := wire.PoolLicense{ID: "P-3", Kind: wire.PoolMaintenance, MaintenanceUntil: t0.AddDate(1, 0, 0)}
	svc := &fakePool{available: []wire.PoolLicense{cap8, cap4, mnt}}
	w := test.NewWindow(nil)
	defer w.Close()
	p := newPool(context.Background(), svc, &fakeGate{}, w, syncAsync)
	p.loc = time.UTC
	w.SetContent(p.buildUI())
	if !p.activateBtn.Disabled() || !p.all.Disabled() {
		t.Fatal("actions enabled with nothing to act on")
	}
	test.Tap(p.downloadBtn)
	if len(p.available) != 3 || p.poolEmpty.Visible() {
		t.Fatalf("download: %d licenses", len(p.available))
	}
	pick(t, p.poolTable, "P-1", "P-2")
	test.Tap(p.activateBtn)
	if len(p.available) != 1 || len(p.activated) != 2 || p.totals.Text != "Capacity from cloud licenses: 12 devices" {
		t.Fatalf("after activation: pool %d, mine %d, %q", len(p.available), len(p.activated), p.totals.Text)
	}
	if p.progress.Value != 1 || p.progressBox.Visible() || !strings.Contains(p.run.msg.Text, "Activated 2 licenses") {
		t.Fatalf("progress %v, %q", p.progress.Value, p.run.msg.Text)
	}

	// A cancelled batch keeps what was activated and says so.
	svc.available = []wire.PoolLicense{mnt, {ID: "P-4", Kind: wire.PoolCapacity, Devices: 1}}
	test.Tap(p.downloadBtn)
	svc.stopAfter = 1
	pick(t, p.poolTable, "P-3", "P-4")
	p.onActivate()
	if len(p.activated) != 3 || !strings.Contains(p.run.msg.Text, "Activated 1 of 2") {
		t.Fatalf("cancelled batch: mine %d, %q", len(p.activated), p.run.msg.Text)
	}

	p.onTransfer(true)
	confirm := w.Canvas().Overlays().Top()
	if confirm == nil {
		t.Fatal("transfer did not ask for confirmation")
	}
	if len(svc.returned) != 0 {
		t.Fatal("transferred before confirmation")
	}
}
