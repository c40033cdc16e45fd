package licensecore_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"licensedesk/licensecore"
	"licensedesk/licensecore/authority"
	"licensedesk/licensecore/wire"
)

// The cloud pool against the real authority: customer "Test Stores"
// (custID) owns CAP-8, CAP-4, CAP-2 and two maintenance licenses.
const (
	custID    = "5d0c3f7e-1a2b-4c3d-8e4f-a0b1c2d3e4f5"
	otherCust = "9e8d7c6b-5a49-4837-a625-140302010000"
)

var (
	maint26 = time.Date(2026, 6, 30, 0, 0, 0, 0, time.UTC)
	maint27 = time.Date(2027, 12, 31, 0, 0, 0, 0, time.UTC)
)

func startPoolAuthority(t *testing.T) *realAuthority {
	t.Helper()
	ra := startAuthority(t, time.Hour)
	err := ra.srv.Seed(authority.Seed{Organizations: []authority.OrganizationSeed{{
		ID: "org1", Name: "Test Stores",
		Customers: []authority.CustomerSeed{
			{ID: custID, Name: "Test Stores", Pool: []authority.PoolLicenseSeed{
				{ID: "CAP-8", Kind: wire.PoolCapacity, Devices: 8},
				{ID: "CAP-4", Kind: wire.PoolCapacity, Devices: 4},
				{ID: "CAP-2", Kind: wire.PoolCapacity, Devices: 2},
				{ID: "MNT-26", Kind: wire.PoolMaintenance, MaintenanceUntil: maint26},
				{ID: "MNT-27", Kind: wire.PoolMaintenance, MaintenanceUntil: maint27},
			}},
			{ID: otherCust, Name: "Other Shop", Pool: []authority.PoolLicenseSeed{
				{ID: "OTHER-1", Kind: wire.PoolCapacity, Devices: 1},
			}},
		},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	return ra
}

// poolInstall is one POS server: its store directory, Manager and an
// administrator session.
type poolInstall struct {
	t     *testing.T
	base  string
	root  ed25519.PublicKey
	code  string
	dir   string
	store *licensecore.Store
	m     *licensecore.Manager
	pool  *licensecore.Pool
	sess  *licensecore.AdminSession
}

func newPoolInstall(t *testing.T, ra *realAuthority, code string) *poolInstall {
	t.Helper()
	p := &poolInstall{t: t, base: ra.ts.URL, root: ra.srv.RootPublicKey(), code: code, dir: filepath.Join(t.TempDir(), "store")}
	p.open()
	if err := p.m.Admins().CreateAdministrator("admin", "correct horse"); err != nil {
		t.Fatal(err)
	}
	p.login()
	return p
}

// open opens the store and a Manager, as a start of the app does.
func (p *poolInstall) open() {
	p.t.Helper()
	s, err := licensecore.OpenStore(licensecore.StoreOptions{Dir: p.dir, Logger: zerolog.Nop()})
	if err != nil {
		p.t.Fatal(err)
	}
	p.t.Cleanup(func() { s.Close() })
	m, err := licensecore.NewManager(licensecore.Options{
		Store: s, AuthorityURL: p.base, Root: p.root, Logger: zerolog.Nop(), DeviceName: "Till " + p.code, InstallCode: p.code,
		HTTPClient: &http.Client{Timeout: 5 * time.Second},
	})
	if err != nil {
		p.t.Fatal(err)
	}
	p.store, p.m, p.pool = s, m, licensecore.NewPool(m)
}

func (p *poolInstall) login() {
	p.t.Helper()
	sess, err := p.m.Admins().AdminLogin("admin", "correct horse")
	if err != nil {
		p.t.Fatal(err)
	}
	p.sess = sess
}

// restart closes the store under the Manager, as a killed process would
// leave it, and opens a new Manager on it.
func (p *poolInstall) restart() {
	p.t.Helper()
	p.store.Close()
	p.open()
	p.login()
}

func (p *poolInstall) setCustomer(id string) {
	p.t.Helper()
	if _, err := p.pool.SetCustomerID(context.Background(), p.sess, id); err != nil {
		p.t.Fatal(err)
	}
}

func (p *poolInstall) activate(ids ...string) []licensecore.ActivatedLicense {
	p.t.Helper()
	got, err := p.pool.ActivatePool(context.Background(), p.sess, ids, nil)
	if err != nil {
		p.t.Fatal(err)
	}
	return got
}

// active lists the IDs this install counts, and checks each against the
// authority: held by this install under the same activation.
func (p *poolInstall) active(ra *realAuthority) []string {
	p.t.Helper()
	all, err := p.pool.ActivatedLicenses()
	if err != nil {
		p.t.Fatal(err)
	}
	var ids []string
	for _, a := range all {
		if a.State == licensecore.ActivationActive {
			ids = append(ids, a.ID)
		}
	}
	return ids
}

// agree checks that the authority and every install agree: each license
// is either available in the pool, or active on exactly the install that
// records it, under the same activation id.
func agree(t *testing.T, ra *realAuthority, installs ...*poolInstall) {
	t.Helper()
	pool, err := ra.srv.Pool(custID)
	if err != nil {
		t.Fatal(err)
	}
	local := map[string]licensecore.ActivatedLicense{}
	owner := map[string]string{}
	for _, p := range installs {
		all, err := p.pool.ActivatedLicenses()
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range all {
			if _, dup := local[a.ID]; dup {
				t.Fatalf("license %s recorded on two installs", a.ID)
			}
			if a.State != licensecore.ActivationActive {
				t.Fatalf("license %s still %s on %s", a.ID, a.State, p.code)
			}
			local[a.ID], owner[a.ID] = a, p.code
		}
	}
	for _, e := range pool {
		a, ok := local[e.ID]
		switch {
		case e.State == authority.PoolAvailable && ok:
			t.Fatalf("%s is available in the pool but counted on %s", e.ID, owner[e.ID])
		case e.State == authority.PoolActive && (!ok || owner[e.ID] != e.InstallCode || a.ActivationID != e.ActivationID):
			t.Fatalf("%s is active on %s (%s) at the authority, locally %q %+v", e.ID, e.InstallCode, e.ActivationID, owner[e.ID], a)
		}
		delete(local, e.ID)
	}
	if len(local) > 0 {
		t.Fatalf("licenses counted locally but unknown to the pool: %v", local)
	}
}

func poolIDs(t *testing.T, p *licensecore.Pool) []string {
	t.Helper()
	list, err := p.PoolLicenses(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, l := range list {
		ids = append(ids, l.ID)
	}
	return ids
}

func TestCustomerAccount(t *testing.T) {
	ra := startPoolAuthority(t)
	p := newPoolInstall(t, ra, "BCDF-GHJK-LMNP-QRST")
	ctx := context.Background()
	acc, err := p.pool.Account()
	if err != nil || acc.InstallCode != "BCDF-GHJK-LMNP-QRST" || acc.ServerName != "Till BCDF-GHJK-LMNP-QRST" || acc.CustomerID != "" {
		t.Fatalf("fresh account: %+v %v", acc, err)
	}
	if _, err := p.pool.PoolLicenses(ctx); !errors.Is(err, licensecore.ErrNoCustomerID) {
		t.Fatalf("pool without a customer: %v", err)
	}
	for _, tc := range []struct {
		id   string
		want error
	}{
		{"not-a-uuid", wire.ErrInvalidCustomerID},
		{"5d0c3f7e1a2b4c3d8e4fa0b1c2d3e4f5", wire.ErrInvalidCustomerID},
		{"00000000-0000-0000-0000-000000000000", wire.ErrInvalidCustomerID},
		{"11111111-2222-4333-8444-555555555555", licensecore.ErrUnknownCustomer},
	} {
		_, err := p.pool.SetCustomerID(ctx, p.sess, tc.id)
		if !errors.Is(err, tc.want) {
			t.Errorf("SetCustomerID(%q) = %v, want %v", tc.id, err, tc.want)
		}
	}
	_, err = p.pool.SetCustomerID(ctx, p.sess, "not-a-uuid")
	if want := `"not-a-uuid" is not a valid Customer ID (expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)`; err == nil || err.Error() != want {
		t.Fatalf("message: %v", err)
	}
	if acc, _ := p.pool.Account(); acc.CustomerID != "" {
		t.Fatal("a refused Customer ID was stored")
	}
	acc, err = p.pool.SetCustomerID(ctx, p.sess, "  "+strings.ToUpper(custID)+" ")
	if err != nil || acc.CustomerID != custID || acc.CustomerName != "Test Stores" {
		t.Fatalf("set customer: %+v %v", acc, err)
	}
	// Moving to another customer waits until the licenses are back.
	p.activate("CAP-2")
	if _, err := p.pool.SetCustomerID(ctx, p.sess, otherCust); !errors.Is(err, licensecore.ErrCustomerInUse) {
		t.Fatalf("change customer while holding licenses: %v", err)
	}
	if _, err := p.pool.TransferToPool(ctx, p.sess, nil); err != nil {
		t.Fatal(err)
	}
	p.setCustomer(otherCust)
	if ids := poolIDs(t, p.pool); !slices.Equal(ids, []string{"OTHER-1"}) {
		t.Fatalf("other customer's pool: %v", ids)
	}
	// A restart keeps the account.
	p.restart()
	if acc, _ := p.pool.Account(); acc.CustomerID != otherCust || acc.CustomerName != "Other Shop" {
		t.Fatalf("after restart: %+v", acc)
	}
}

func TestPoolActivateTransferAndSecondInstall(t *testing.T) {
	ra := startPoolAuthority(t)
	a := newPoolInstall(t, ra, "AAAA-AAAA-AAAA-AAAA")
	b := newPoolInstall(t, ra, "BBBB-BBBB-BBBB-BBBB")
	a.setCustomer(custID)
	b.setCustomer(custID)
	ctx := context.Background()

	list, err := a.pool.PoolLicenses(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]wire.PoolLicense{}
	for _, l := range list {
		byID[l.ID] = l
		if l.TransferDate.IsZero() {
			t.Errorf("%s has no transfer date", l.ID)
		}
	}
	if len(list) != 5 || byID["CAP-8"].Devices != 8 || byID["CAP-8"].Kind != wire.PoolCapacity || !byID["MNT-27"].MaintenanceUntil.Equal(maint27) {
		t.Fatalf("pool: %+v", list)
	}

	var calls []string
	got, err := a.pool.ActivatePool(ctx, a.sess, []string{"CAP-8", "CAP-4", "MNT-27", "MNT-26"}, func(done, total int) {
		calls = append(calls, fmt.Sprintf("%d/%d", done, total))
	})
	if err != nil || len(got) != 4 || strings.Join(calls, " ") != "1/4 2/4 3/4 4/4" {
		t.Fatalf("activate: %v %+v %v", err, got, calls)
	}
	tot, err := a.pool.TotalCapacity()
	if err != nil || tot.Devices != 12 || !tot.MaintenanceUntil.Equal(maint27) || tot.Licenses != 4 {
		t.Fatalf("totals: %+v %v", tot, err)
	}
	if ids := poolIDs(t, b.pool); !slices.Equal(ids, []string{"CAP-2"}) {
		t.Fatalf("pool after activation: %v", ids)
	}
	agree(t, ra, a, b)

	for _, tc := range []struct {
		ids                   []string
		chosen                []string
		before, after         int
		maintBefore, maintEnd time.Time
		err                   error
	}{
		{[]string{"CAP-8"}, []string{"CAP-8"}, 12, 4, maint27, maint27, nil},
		{[]string{"MNT-27"}, []string{"MNT-27"}, 12, 12, maint27, maint26, nil},
		{[]string{"MNT-26"}, []string{"MNT-26"}, 12, 12, maint27, maint27, nil},
		{nil, []string{"CAP-4", "CAP-8", "MNT-26", "MNT-27"}, 12, 0, maint27, time.Time{}, nil},
		{[]string{"CAP-2"}, nil, 0, 0, time.Time{}, time.Time{}, licensecore.ErrNotActivated},
		{[]string{}, nil, 12, 12, maint27, maint27, nil},
	} {
		plan, err := a.pool.PlanTransfer(tc.ids)
		var ids []string
		for _, l := range plan.Licenses {
			ids = append(ids, l.ID)
		}
		slices.Sort(ids)
		if !errors.Is(err, tc.err) || !slices.Equal(ids, tc.chosen) || plan.Before.Devices != tc.before || plan.After.Devices != tc.after ||
			!plan.Before.MaintenanceUntil.Equal(tc.maintBefore) || !plan.After.MaintenanceUntil.Equal(tc.maintEnd) {
			t.Errorf("PlanTransfer(%v) = %+v, %v", tc.ids, plan, err)
		}
	}

	time.Sleep(10 * time.Millisecond) // a later transfer date
	res, err := a.pool.TransferToPool(ctx, a.sess, []string{"CAP-8"})
	if err != nil || !slices.Equal(res.Returned, []string{"CAP-8"}) || res.Before.Devices != 12 || res.After.Devices != 4 || len(res.Pending) != 0 {
		t.Fatalf("transfer: %+v %v", res, err)
	}
	if _, err := a.pool.TransferToPool(ctx, a.sess, []string{"CAP-8"}); !errors.Is(err, licensecore.ErrNotActivated) {
		t.Fatalf("transfer twice: %v", err)
	}
	list, _ = b.pool.PoolLicenses(ctx)
	if len(list) != 2 || list[0].ID != "CAP-2" || list[1].ID != "CAP-8" || !list[1].TransferDate.After(list[0].TransferDate) {
		t.Fatalf("pool after transfer: %+v", list)
	}
	agree(t, ra, a, b)

	// The second install activates what the first returned; the first
	// cannot take it back.
	if got := b.activate("CAP-8"); len(got) != 1 || got[0].Devices != 8 {
		t.Fatalf("second install: %+v", got)
	}
	_, err = a.pool.ActivatePool(ctx, a.sess, []string{"CAP-8", "CAP-2"}, nil)
	var one *licensecore.PoolLicenseError
	if !errors.Is(err, licensecore.ErrPoolLicenseUnavailable) || !errors.As(err, &one) || one.LicenseID != "CAP-8" {
		t.Fatalf("activating a taken license: %v", err)
	}
	if ids := a.active(ra); !slices.Equal(ids, []string{"CAP-2", "CAP-4", "MNT-26", "MNT-27"}) {
		t.Fatalf("the rest of the batch: %v", ids)
	}
	agree(t, ra, a, b)

	res, err = a.pool.TransferToPool(ctx, a.sess, nil)
	if err != nil || len(res.Returned) != 4 || res.After != (licensecore.PoolTotals{}) {
		t.Fatalf("transfer all: %+v %v", res, err)
	}
	if err := a.pool.ReconcilePool(ctx); err != nil {
		t.Fatal(err)
	}
	agree(t, ra, a, b)
	if err := a.store.VerifyAudit(); err != nil {
		t.Fatal(err)
	}
}

func TestPoolNeedsAdministrator(t *testing.T) {
	ra := startPoolAuthority(t)
	p := newPoolInstall(t, ra, "CCCC-CCCC-CCCC-CCCC")
	p.setCustomer(custID)
	p.activate("CAP-4")
	ctx := context.Background()
	for name, sess := range map[string]*licensecore.AdminSession{"nil": nil, "forged": {}} {
		if _, err := p.pool.SetCustomerID(ctx, sess, otherCust); !errors.Is(err, licensecore.ErrAdminRequired) {
			t.Errorf("%s: SetCustomerID: %v", name, err)
		}
		if _, err := p.pool.ActivatePool(ctx, sess, []string{"CAP-8"}, nil); !errors.Is(err, licensecore.ErrAdminRequired) {
			t.Errorf("%s: ActivatePool: %v", name, err)
		}
		if _, err := p.pool.TransferToPool(ctx, sess, nil); !errors.Is(err, licensecore.ErrAdminRequired) {
			t.Errorf("%s: TransferToPool: %v", name, err)
		}
	}
	p.m.Admins().AdminLogout(p.sess)
	if _, err := p.pool.TransferToPool(ctx, p.sess, nil); !errors.Is(err, licensecore.ErrAdminRequired) {
		t.Errorf("after logout: %v", err)
	}
	if acc, _ := p.pool.Account(); acc.CustomerID != custID {
		t.Fatal("the customer changed")
	}
	if ids := p.active(ra); !slices.Equal(ids, []string{"CAP-4"}) {
		t.Fatalf("activations changed: %v", ids)
	}
	agree(t, ra, p)
}

// TestPoolRaceBetweenInstalls: two installs race for the same license,
// round after round; exactly one wins and both agree with the authority.
func TestPoolRaceBetweenInstalls(t *testing.T) {
	ra := startPoolAuthority(t)
	a := newPoolInstall(t, ra, "RACE-AAAA")
	b := newPoolInstall(t, ra, "RACE-BBBB")
	a.setCustomer(custID)
	b.setCustomer(custID)
	ctx := context.Background()
	for round := range 30 {
		var wins atomic.Int32
		var winner atomic.Pointer[poolInstall]
		var wg sync.WaitGroup
		for _, p := range []*poolInstall{a, b} {
			wg.Go(func() {
				got, err := p.pool.ActivatePool(ctx, p.sess, []string{"CAP-4"}, nil)
				switch {
				case err == nil && len(got) == 1:
					wins.Add(1)
					winner.Store(p)
				case !errors.Is(err, licensecore.ErrPoolLicenseUnavailable):
					t.Errorf("round %d: %v", round, err)
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("round %d: %d winners", round, wins.Load())
		}
		agree(t, ra, a, b)
		w := winner.Load()
		if _, err := w.pool.TransferToPool(ctx, w.sess, nil); err != nil {
			t.Fatal(err)
		}
	}
	agree(t, ra, a, b)
}

// dropAfter answers requests to path by running them on the authority
// and then cutting the connection without the answer; before runs first
// (it may close a store, as a killed process would). forward false drops
// the request before the authority sees it.
func dropAfter(t *testing.T, ra *realAuthority, path string, forward bool, before func()) {
	var once sync.Once
	ra.setFault(func(w http.ResponseWriter, r *http.Request) {
		hit := false
		if r.URL.Path == path {
			once.Do(func() { hit = true })
		}
		if !hit {
			ra.srv.Handler().ServeHTTP(w, r)
			return
		}
		if forward {
			ra.srv.Handler().ServeHTTP(httptest.NewRecorder(), r)
		}
		if before != nil {
			before()
		}
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		conn.Close()
	})
	t.Cleanup(func() { ra.setFault(nil) })
}

func TestPoolLostAnswers(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		forward bool
		kill    bool
	}{
		{"answer lost", true, false},
		{"request lost", false, false},
		{"killed after the request", true, true},
		{"killed before the request", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ra := startPoolAuthority(t)
			p := newPoolInstall(t, ra, "LOST-0001")
			other := newPoolInstall(t, ra, "LOST-0002")
			p.setCustomer(custID)
			other.setCustomer(custID)
			p.activate("CAP-2")
			var kill func()
			if tc.kill {
				kill = func() { p.store.Close() }
			}

			// Activation.
			dropAfter(t, ra, "/pool/activate", tc.forward, kill)
			_, err := p.pool.ActivatePool(ctx, p.sess, []string{"CAP-8"}, nil)
			if err == nil {
				t.Fatal("activation with a cut connection succeeded")
			}
			ra.setFault(nil)
			if tc.kill {
				p.restart()
			} else if !errors.Is(err, licensecore.ErrAuthorityDown) {
				t.Fatalf("cut connection: %v", err)
			}
			if err := p.pool.ReconcilePool(ctx); err != nil {
				t.Fatal(err)
			}
			if ids := p.active(ra); !slices.Equal(ids, []string{"CAP-2", "CAP-8"}) {
				t.Fatalf("after reconcile: %v", ids)
			}
			agree(t, ra, p, other)
			if _, err := other.pool.ActivatePool(ctx, other.sess, []string{"CAP-8"}, nil); !errors.Is(err, licensecore.ErrPoolLicenseUnavailable) {
				t.Fatalf("the license is free for another install: %v", err)
			}

			// Transfer.
			dropAfter(t, ra, "/pool/transfer", tc.forward, kill)
			res, err := p.pool.TransferToPool(ctx, p.sess, []string{"CAP-8"})
			if err == nil || !slices.Equal(res.Pending, []string{"CAP-8"}) && !tc.kill {
				t.Fatalf("transfer with a cut connection: %+v %v", res, err)
			}
			ra.setFault(nil)
			if tc.kill {
				p.restart()
			} else if tot, _ := p.pool.TotalCapacity(); tot.Devices != 2 {
				t.Fatalf("a returning license still counts: %+v", tot)
			}
			// The returning license is not usable here, and until the
			// receipt arrives not available there either.
			if all, _ := p.pool.ActivatedLicenses(); len(all) != 2 || all[1].State != licensecore.ActivationReturning {
				t.Fatalf("returning: %+v", all)
			}
			// The next pool call delivers the receipt.
			if ids := poolIDs(t, p.pool); !slices.Contains(ids, "CAP-8") {
				t.Fatalf("pool after the receipt: %v", ids)
			}
			if err := p.pool.ReconcilePool(ctx); err != nil {
				t.Fatal(err)
			}
			agree(t, ra, p, other)
			if ids := p.active(ra); !slices.Equal(ids, []string{"CAP-2"}) {
				t.Fatalf("after transfer: %v", ids)
			}
			other.activate("CAP-8")
			agree(t, ra, p, other)
		})
	}
}

func TestPoolCancelAndSlowAuthority(t *testing.T) {
	ra := startPoolAuthority(t)
	p := newPoolInstall(t, ra, "SLOW-0001")
	p.setCustomer(custID)
	ra.setFault(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/pool/activate" {
			time.Sleep(150 * time.Millisecond)
		}
		ra.srv.Handler().ServeHTTP(w, r)
	})
	t.Cleanup(func() { ra.setFault(nil) })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var seen []int
	got, err := p.pool.ActivatePool(ctx, p.sess, []string{"CAP-8", "CAP-4", "CAP-2", "MNT-26"}, func(done, total int) {
		seen = append(seen, done)
		if done == 1 {
			go func() { time.Sleep(50 * time.Millisecond); cancel() }() // mid-flight of the second
		}
	})
	if !errors.Is(err, context.Canceled) || len(got) != 2 || !slices.Equal(seen, []int{1}) {
		t.Fatalf("cancelled: %d activated, %v, progress %v", len(got), err, seen)
	}
	// Settled: nothing is left pending, the authority agrees.
	ra.setFault(nil)
	agree(t, ra, p)
	if ids := p.active(ra); !slices.Equal(ids, []string{"CAP-4", "CAP-8"}) {
		t.Fatalf("after cancel: %v", ids)
	}
	if err := p.pool.ReconcilePool(context.Background()); err != nil {
		t.Fatal(err)
	}
	agree(t, ra, p)
}

// TestReconcileAdoptsAndWithdraws: the local record follows the authority
// when they disagree, here because an old copy of the store came back.
func TestReconcileAdoptsAndWithdraws(t *testing.T) {
	ra := startPoolAuthority(t)
	p := newPoolInstall(t, ra, "SYNC-0001")
	p.setCustomer(custID)
	act := p.activate("CAP-4")
	backup := filepath.Join(t.TempDir(), "backup")
	p.store.Close()
	if err := os.CopyFS(backup, os.DirFS(p.dir)); err != nil {
		t.Fatal(err)
	}
	p.open()
	p.login()
	ctx := context.Background()
	if _, err := p.pool.TransferToPool(ctx, p.sess, nil); err != nil {
		t.Fatal(err)
	}
	p.activate("MNT-26")
	p.store.Close()
	if err := os.RemoveAll(p.dir); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(p.dir, os.DirFS(backup)); err != nil {
		t.Fatal(err)
	}
	p.open()
	if ids := p.active(ra); !slices.Equal(ids, []string{"CAP-4"}) {
		t.Fatalf("restored store: %v", ids)
	}
	if err := p.pool.ReconcilePool(ctx); err != nil {
		t.Fatal(err)
	}
	if ids := p.active(ra); !slices.Equal(ids, []string{"MNT-26"}) {
		t.Fatalf("after reconcile: %v", ids)
	}
	agree(t, ra, p)
	log, _ := p.store.AuditLog()
	var kinds []string
	for _, e := range log {
		kinds = append(kinds, e.Kind)
	}
	if !slices.Contains(kinds, licensecore.EventPoolWithdrawn) || !slices.Contains(kinds, licensecore.EventPoolAdopted) || act[0].ActivationID == "" {
		t.Fatalf("audit: %v", kinds)
	}
}
