//go:build linux

package app_test

import (
	"context"
	"encoding/json"
	"image"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"licensedesk/licensecore/authority"
	"licensedesk/licensecore/wire"
)

// The customer the authority is seeded with, and its cloud pool.
const (
	e2eCustomerID   = "0e2e0000-0000-4000-8000-000000000006"
	e2eCustomerName = "E2E Pool Customer"
	poolCap3        = "POOL-E2E-CAP-3"
	poolCap5        = "POOL-E2E-CAP-5"
	poolMaintenance = "POOL-E2E-MNT"
)

// Where the controls are in the licensed 780x600 window, read off
// screenshots (the artifacts show them).
var (
	tabAccountAt = point{503, 49} // "Customer account"
	tabPoolAt    = point{672, 49} // "Cloud licenses"
	customerIDAt = point{440, 269}
	saveIDAt     = point{58, 348}                 // Save changes, shown once the ID is edited
	customerRow  = image.Rect(110, 296, 500, 322) // the Customer name
	accountMsg   = image.Rect(0, 335, 780, 362)   // the outcome line under the form

	// Cloud licenses, scrolled to the top, after a download: the pool's
	// licenses sorted by ID, one row each.
	downloadAt = point{390, 172}
	poolCheck  = func(row int) point { return point{19, 251 + 39*row} }
	poolRow    = func(row int) image.Rectangle { return image.Rect(40, 241+39*row, 600, 262+39*row) }
	wheelAt    = point{700, 450} // right of the lists: the wheel scrolls the page, not a list
	// Scrolled to the bottom (the page is taller than the window).
	transferAllAt = func(_, h int) point { return point{305, h - 62} }
	activatedRows = func(_, h int) image.Rectangle { return image.Rect(40, h-230, 600, h-160) } // its first two rows
	poolMsg       = func(w, h int) image.Rectangle { return image.Rect(0, h-35, w, h) }         // the outcome line
)

// TestEndToEndCloudPool is issue 6's end-to-end run: a licensed server
// draws licenses from its customer's cloud pool and gives them back, in the
// real app on the X display against the authority binary.
//
// The app's data directory is licensed first (device flow, approved in
// headless Chromium, see licenseHome). In the Customer account tab the
// person types the Customer ID and saves it, creating the System
// Administrator; the customer's name appears. In the Cloud licenses tab
// they download the pool's list, tick a capacity and a maintenance license
// and activate them (the administrator session is reused), and the
// authority's data shows them held by this PC. Transfer all to cloud,
// confirmed, returns them: the app's list is empty, a new download lists
// all three, and the authority shows them available again.
func TestEndToEndCloudPool(t *testing.T) {
	r := beginDesktopRun(t, 3*time.Minute)
	ctx, art, appBin, step, installCode := r.ctx, r.art, r.appBin, r.step, r.installCode

	auth := startAuthority(ctx, t, r.authBin, filepath.Join(art, "pool-authority.log"), poolSeed(installCode))
	home, env := newAppHome(t)
	licenseHome(ctx, t, home, auth.base, auth.root, installCode)
	step("%s licensed through %s", home, auth.base)

	app := startApp(t, art, "pool-", appBin, env, "-authority", auth.base, "-root-key", auth.root, "-device-name", e2eDevice)
	win, w, h := waitMainWindow(ctx, t, app, step)
	details := waitShot(ctx, t, win, art, "pool-01-licensed.png", "the license details", nil, func(img image.Image) bool {
		return greenPixels(img, 200) >= 40
	})

	// Customer account: type the Customer ID, save, create the administrator.
	click(ctx, t, win, tabAccountAt)
	account := waitChanged(ctx, t, win, art, "pool-02-account.png", details)
	fillEntry(ctx, t, win, customerIDAt, e2eCustomerID)
	edited := waitChanged(ctx, t, win, art, "pool-03-customer-id.png", account)
	click(ctx, t, win, saveIDAt)
	fillAdminDialog(ctx, t, win, art, "pool-04-admin.png", edited, true)
	customer := waitShot(ctx, t, win, art, "pool-05-customer.png", "the customer's name", nil, func(img image.Image) bool {
		return greenIn(img, accountMsg) >= 20 && differs(crop(img, customerRow), crop(edited, customerRow)) > 0.01
	})
	step("Customer ID %s saved", e2eCustomerID)

	// Cloud licenses: download the list, tick two, activate.
	click(ctx, t, win, tabPoolAt)
	waitChanged(ctx, t, win, art, "pool-06-cloud.png", customer)
	download := func(name string) {
		t.Helper()
		click(ctx, t, win, downloadAt)
		waitShot(ctx, t, win, art, name, "the pool's three licenses", nil, func(img image.Image) bool {
			return colours(crop(img, poolRow(2))) >= 10
		})
	}
	download("pool-07-downloaded.png")
	click(ctx, t, win, poolCheck(1)) // poolCap5
	click(ctx, t, win, poolCheck(2)) // poolMaintenance
	picked := waitShot(ctx, t, win, art, "pool-08-picked.png", "Activate enabled", nil, func(img image.Image) bool {
		_, enabled := primaryButton(img)
		return enabled
	})
	clickPrimary(ctx, t, win, picked, "Activate")
	waitActivated(ctx, t, home, 2)
	toBottom := func() { scroll(ctx, t, win, wheelAt, 15) }
	activated := waitShot(ctx, t, win, art, "pool-09-activated.png", "the activated licenses", toBottom, func(img image.Image) bool {
		return greenIn(img, poolMsg(w, h)) >= 20 && colours(crop(img, activatedRows(w, h))) >= 10
	})
	step("activated %s and %s", poolCap5, poolMaintenance)

	// The authority's data says this PC holds them.
	auth.stop()
	held := poolAt(t, auth, e2eCustomerID)
	for _, id := range []string{poolCap5, poolMaintenance} {
		e := held[id]
		if e.State != authority.PoolActive || e.ServerName != e2eDevice || (installCode != "" && e.InstallCode != installCode) {
			t.Errorf("at the authority %s is %q, held by %q (%s); want active on %q (%s)",
				id, e.State, e.ServerName, e.InstallCode, e2eDevice, installCode)
		}
	}
	if held[poolCap3].State != authority.PoolAvailable {
		t.Errorf("at the authority %s is %q, want it left available", poolCap3, held[poolCap3].State)
	}
	auth.start(ctx)

	// Transfer all to cloud, confirmed.
	click(ctx, t, win, transferAllAt(w, h))
	confirm := waitShot(ctx, t, win, art, "pool-10-transfer.png", "the confirmation", nil, func(img image.Image) bool {
		_, found := dangerButton(img)
		return found && differs(img, activated) > 0.3
	})
	at, _ := dangerButton(confirm) // "Transfer to cloud", marked as dangerous
	click(ctx, t, win, at)
	waitActivated(ctx, t, home, 0)
	waitShot(ctx, t, win, art, "pool-11-transferred.png", "the screen after the transfer", nil, func(img image.Image) bool {
		_, dialog := dangerButton(img)
		return !dialog && greenPixels(img, h) >= 20 // the outcome line
	})
	step("transferred back to the cloud")

	// The pool lists all three again, and the authority agrees.
	scroll(ctx, t, win, wheelAt, -15)
	download("pool-12-back-in-pool.png")
	auth.stop()
	for id, e := range poolAt(t, auth, e2eCustomerID) {
		if e.State != authority.PoolAvailable || e.InstallCode != "" {
			t.Errorf("at the authority %s is %q, held by %q; want it available", id, e.State, e.InstallCode)
		}
	}
	step("the pool holds all three again")
}

// poolSeed is e2eSeed with a customer whose cloud pool has two capacity
// licenses and a maintenance license.
func poolSeed(installCode string) authority.Seed {
	seed := e2eSeed(installCode)
	seed.Organizations[0].Customers = []authority.CustomerSeed{{ID: e2eCustomerID, Name: e2eCustomerName,
		Pool: []authority.PoolLicenseSeed{
			{ID: poolCap3, Kind: wire.PoolCapacity, Devices: 3},
			{ID: poolCap5, Kind: wire.PoolCapacity, Devices: 5},
			{ID: poolMaintenance, Kind: wire.PoolMaintenance,
				MaintenanceUntil: time.Now().UTC().AddDate(2, 0, 0).Truncate(24 * time.Hour)},
		}}}
	return seed
}

// poolAt reads a customer's cloud pool from the authority's data, by
// license ID. The authority must be stopped: Badger locks its directory.
func poolAt(t *testing.T, auth *authorityRun, customerID string) map[string]authority.PoolEntry {
	t.Helper()
	s, err := authority.New(authority.Options{DataDir: auth.data, Issuer: auth.base, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatalf("open the authority's data: %v", err)
	}
	defer s.Close()
	entries, err := s.Pool(customerID)
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[string]authority.PoolEntry, len(entries))
	for _, e := range entries {
		m[e.ID] = e
	}
	if len(m) != 3 {
		t.Errorf("the pool has %d licenses, want 3: %+v", len(m), entries)
	}
	return m
}

// waitActivated waits until the agent on home holds n activated cloud
// licenses (GET /v1/pool/activated on its socket).
func waitActivated(ctx context.Context, t *testing.T, home string, n int) {
	t.Helper()
	c := socketClient(filepath.Join(home, "agent.sock"))
	for {
		var got []json.RawMessage
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://agent/v1/pool/activated", nil)
		if resp, err := c.Do(req); err == nil {
			_ = json.NewDecoder(resp.Body).Decode(&got)
			resp.Body.Close()
			if len(got) == n {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the agent never held %d activated cloud licenses (last %d)", n, len(got))
		case <-time.After(200 * time.Millisecond):
		}
	}
}
