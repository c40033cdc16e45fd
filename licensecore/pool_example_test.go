package licensecore_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"

	"licensedesk/licensecore"
	"licensedesk/licensecore/authority"
)

func ExampleParseCustomerID() {
	id, err := licensecore.ParseCustomerID(" 5D0C3F7E-1A2B-4C3D-8E4F-A0B1C2D3E4F5 ")
	fmt.Println(id, err)
	_, err = licensecore.ParseCustomerID("12345")
	fmt.Println(err)
	// Output:
	// 5d0c3f7e-1a2b-4c3d-8e4f-a0b1c2d3e4f5 <nil>
	// "12345" is not a valid Customer ID (expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)
}

func ExamplePoolLicense_Describe() {
	fmt.Println(licensecore.PoolLicense{Kind: licensecore.PoolCapacity, Devices: 8}.Describe())
	fmt.Println(licensecore.PoolLicense{Kind: licensecore.PoolMaintenance, MaintenanceUntil: time.Date(2027, 12, 31, 0, 0, 0, 0, time.UTC)}.Describe())
	// Output:
	// 8 devices
	// Maintenance until 31 Dec 2027
}

// The authority's side of a pool request: open the envelope, then check
// that its key is the one registered for the install code.
func ExampleOpenPoolEnvelope() {
	_, key, _ := ed25519.GenerateKey(nil)
	body, _ := licensecore.SignPoolRequest(key, licensecore.PoolRequest{
		Op: licensecore.PoolOpList, CustomerID: "5d0c3f7e-1a2b-4c3d-8e4f-a0b1c2d3e4f5", InstallCode: "BCDF-GHJK-LMNP-QRST",
	})
	req, err := licensecore.OpenPoolEnvelope(body)
	fmt.Println(req.Op, req.InstallCode, err)
	body[len(body)/2] ^= 1
	_, err = licensecore.OpenPoolEnvelope(body)
	fmt.Println(err != nil)
	// Output:
	// list BCDF-GHJK-LMNP-QRST <nil>
	// true
}

// poolExample is an authority with one customer and a Manager with an
// administrator session.
func poolExample() (*licensecore.Manager, *licensecore.AdminSession, func()) {
	dir, _ := os.MkdirTemp("", "licensedesk-pool-example-")
	ts := httptest.NewServer(nil)
	srv, err := authority.New(authority.Options{DataDir: filepath.Join(dir, "authority"), Issuer: ts.URL, Logger: zerolog.Nop()})
	if err != nil {
		panic(err)
	}
	ts.Config.Handler = srv.Handler()
	err = srv.Seed(authority.Seed{Organizations: []authority.OrganizationSeed{{ID: "partner", Customers: []authority.CustomerSeed{{
		ID: "5d0c3f7e-1a2b-4c3d-8e4f-a0b1c2d3e4f5", Name: "Corner Shop", Pool: []authority.PoolLicenseSeed{
			{ID: "CAP-8", Kind: licensecore.PoolCapacity, Devices: 8},
			{ID: "CAP-4", Kind: licensecore.PoolCapacity, Devices: 4},
			{ID: "MNT-27", Kind: licensecore.PoolMaintenance, MaintenanceUntil: time.Date(2027, 12, 31, 0, 0, 0, 0, time.UTC)},
		}}}}}})
	if err != nil {
		panic(err)
	}
	store, err := licensecore.OpenStore(licensecore.StoreOptions{Dir: filepath.Join(dir, "store")})
	if err != nil {
		panic(err)
	}
	m, err := licensecore.NewManager(licensecore.Options{Store: store, AuthorityURL: ts.URL, DeviceName: "Back office", InstallCode: "BCDF-GHJK-LMNP-QRST"})
	if err != nil {
		panic(err)
	}
	_ = m.CreateAdministrator("admin", "correct horse")
	sess, err := m.AdminLogin("admin", "correct horse")
	if err != nil {
		panic(err)
	}
	return m, sess, func() { store.Close(); ts.Close(); srv.Close(); os.RemoveAll(dir) }
}

func ExampleManager_SetCustomerID() {
	m, sess, done := poolExample()
	defer done()
	ctx := context.Background()
	_, err := m.SetCustomerID(ctx, sess, "11111111-2222-4333-8444-555555555555")
	fmt.Println(err)
	acc, err := m.SetCustomerID(ctx, sess, "5D0C3F7E-1A2B-4C3D-8E4F-A0B1C2D3E4F5")
	fmt.Println(acc.CustomerID, acc.CustomerName, err)
	acc, _ = m.Account()
	fmt.Println(acc.InstallCode, acc.ServerName)
	// Output:
	// the authorization server does not know this Customer ID (no customer has the Customer ID 11111111-2222-4333-8444-555555555555)
	// 5d0c3f7e-1a2b-4c3d-8e4f-a0b1c2d3e4f5 Corner Shop <nil>
	// BCDF-GHJK-LMNP-QRST Back office
}

func ExampleManager_ActivatePool() {
	m, sess, done := poolExample()
	defer done()
	ctx := context.Background()
	if _, err := m.SetCustomerID(ctx, sess, "5d0c3f7e-1a2b-4c3d-8e4f-a0b1c2d3e4f5"); err != nil {
		panic(err)
	}
	list, _ := m.PoolLicenses(ctx)
	var ids []string
	for _, l := range list {
		fmt.Println(l.ID, l.Description)
		ids = append(ids, l.ID)
	}
	_, err := m.ActivatePool(ctx, sess, ids, func(done, total int) { fmt.Printf("activated %d of %d\n", done, total) })
	tot, _ := m.TotalCapacity()
	fmt.Println(tot.Devices, tot.MaintenanceUntil.Format(time.DateOnly), err)
	left, _ := m.PoolLicenses(ctx)
	fmt.Println(len(left), "left in the pool")
	// Output:
	// CAP-4 4 devices
	// CAP-8 8 devices
	// MNT-27 Maintenance until 31 Dec 2027
	// activated 1 of 3
	// activated 2 of 3
	// activated 3 of 3
	// 12 2027-12-31 <nil>
	// 0 left in the pool
}

func ExampleManager_TransferToPool() {
	m, sess, done := poolExample()
	defer done()
	ctx := context.Background()
	if _, err := m.SetCustomerID(ctx, sess, "5d0c3f7e-1a2b-4c3d-8e4f-a0b1c2d3e4f5"); err != nil {
		panic(err)
	}
	if _, err := m.ActivatePool(ctx, sess, []string{"CAP-8", "CAP-4"}, nil); err != nil {
		panic(err)
	}
	fmt.Println(m.TransferImpact([]string{"CAP-8"})) // the confirmation
	res, err := m.TransferToPool(ctx, sess, []string{"CAP-8"})
	fmt.Println(res.Returned, res.Before.Devices, "→", res.After.Devices, err)
	// At start-up the app settles whatever a crash left open.
	fmt.Println(m.ReconcilePool(ctx))
	active, _ := m.ActivatedLicenses()
	fmt.Println(active[0].ID, active[0].State)
	// Output:
	// License CAP-8 (8 devices) returns to the cloud pool. Capacity drops from 12 to 4 devices; 8 devices become unlicensed.
	// [CAP-8] 12 → 4 <nil>
	// <nil>
	// CAP-4 active
}
