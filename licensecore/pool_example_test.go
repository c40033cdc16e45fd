package licensecore_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"

	"licensedesk/licensecore"
	"licensedesk/licensecore/authority"
	"licensedesk/licensecore/wire"
)

// poolExample is an authority with one customer and a Manager with an
// administrator session.
func poolExample() (*licensecore.Manager, *licensecore.AdminSession, func()) {
	dir, _ := os.MkdirTemp("", "licensedesk-pool-example-")
	ts := httptest.NewServer(nil)
	srv, err := authority.New(authority.Options{PoolTrustOnFirstUse: true, DataDir: filepath.Join(dir, "authority"), Issuer: ts.URL, Logger: zerolog.Nop()})
	if err != nil {
		panic(err)
	}
	ts.Config.Handler = srv.Handler()
	err = srv.Seed(authority.Seed{Organizations: []authority.OrganizationSeed{{ID: "partner", Customers: []authority.CustomerSeed{{
		ID: "5d0c3f7e-1a2b-4c3d-8e4f-a0b1c2d3e4f5", Name: "Corner Shop", Pool: []authority.PoolLicenseSeed{
			{ID: "CAP-8", Kind: wire.PoolCapacity, Devices: 8},
			{ID: "CAP-4", Kind: wire.PoolCapacity, Devices: 4},
			{ID: "MNT-27", Kind: wire.PoolMaintenance, MaintenanceUntil: time.Date(2027, 12, 31, 0, 0, 0, 0, time.UTC)},
		}}}}}})
	if err != nil {
		panic(err)
	}
	store, err := licensecore.OpenStore(licensecore.StoreOptions{Dir: filepath.Join(dir, "store")})
	if err != nil {
		panic(err)
	}
	m, err := licensecore.NewManager(licensecore.Options{Store: store, AuthorityURL: ts.URL, DeviceName: "Back office", InstallCode: "BCDF-GHJK-LMNP-QRST",
		Root: srv.RootPublicKey()})
	if err != nil {
		panic(err)
	}
	_ = m.Admins().CreateAdministrator("admin", "correct horse")
	sess, err := m.Admins().AdminLogin("admin", "correct horse")
	if err != nil {
		panic(err)
	}
	return m, sess, func() { store.Close(); ts.Close(); srv.Close(); os.RemoveAll(dir) }
}

func ExamplePool_SetCustomerID() {
	m, sess, done := poolExample()
	pool := licensecore.NewPool(m)
	defer done()
	ctx := context.Background()
	_, err := pool.SetCustomerID(ctx, sess, "11111111-2222-4333-8444-555555555555")
	fmt.Println(err)
	acc, err := pool.SetCustomerID(ctx, sess, "5D0C3F7E-1A2B-4C3D-8E4F-A0B1C2D3E4F5")
	fmt.Println(acc.CustomerID, acc.CustomerName, err)
	acc, _ = pool.Account()
	fmt.Println(acc.InstallCode, acc.ServerName)
	// Output:
	// the authorization server does not know this Customer ID (no customer has the Customer ID 11111111-2222-4333-8444-555555555555)
	// 5d0c3f7e-1a2b-4c3d-8e4f-a0b1c2d3e4f5 Corner Shop <nil>
	// BCDF-GHJK-LMNP-QRST Back office
}

func ExamplePool_ActivatePool() {
	m, sess, done := poolExample()
	pool := licensecore.NewPool(m)
	defer done()
	ctx := context.Background()
	if _, err := pool.SetCustomerID(ctx, sess, "5d0c3f7e-1a2b-4c3d-8e4f-a0b1c2d3e4f5"); err != nil {
		panic(err)
	}
	list, _ := pool.PoolLicenses(ctx)
	var ids []string
	for _, l := range list {
		fmt.Println(l.ID, l.Kind, l.Devices, l.MaintenanceUntil.Format(time.DateOnly))
		ids = append(ids, l.ID)
	}
	_, err := pool.ActivatePool(ctx, sess, ids, func(done, total int) { fmt.Printf("activated %d of %d\n", done, total) })
	tot, _ := pool.TotalCapacity()
	fmt.Println(tot.Devices, tot.MaintenanceUntil.Format(time.DateOnly), err)
	left, _ := pool.PoolLicenses(ctx)
	fmt.Println(len(left), "left in the pool")
	// Output:
	// CAP-4 capacity 4 0001-01-01
	// CAP-8 capacity 8 0001-01-01
	// MNT-27 maintenance 0 2027-12-31
	// activated 1 of 3
	// activated 2 of 3
	// activated 3 of 3
	// 12 2027-12-31 <nil>
	// 0 left in the pool
}

func ExamplePool_TransferToPool() {
	m, sess, done := poolExample()
	pool := licensecore.NewPool(m)
	defer done()
	ctx := context.Background()
	if _, err := pool.SetCustomerID(ctx, sess, "5d0c3f7e-1a2b-4c3d-8e4f-a0b1c2d3e4f5"); err != nil {
		panic(err)
	}
	if _, err := pool.ActivatePool(ctx, sess, []string{"CAP-8", "CAP-4"}, nil); err != nil {
		panic(err)
	}
	plan, _ := pool.PlanTransfer([]string{"CAP-8"}) // for the confirmation
	fmt.Println(len(plan.Licenses), plan.Before.Devices, "→", plan.After.Devices)
	res, err := pool.TransferToPool(ctx, sess, []string{"CAP-8"})
	fmt.Println(res.Returned, res.Before.Devices, "→", res.After.Devices, err)
	// At start-up the app settles whatever a crash left open.
	fmt.Println(pool.ReconcilePool(ctx))
	active, _ := pool.ActivatedLicenses()
	fmt.Println(active[0].ID, active[0].State)
	// Output:
	// 1 12 → 4
	// [CAP-8] 12 → 4 <nil>
	// <nil>
	// CAP-4 active
}
