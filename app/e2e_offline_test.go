//go:build linux

package app_test

import (
	"context"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"licensedesk/licensecore/wire"
)

// Where the controls are, read off screenshots (the artifacts show them).
// The main menu is at the top of the main window; the Offline activation
// window the License menu opens is 640x600.
var (
	licenseMenuAt   = point{145, 13} // "License" in the main menu bar
	menuOfflineAt   = point{180, 45} // its first item, "Offline activation…"
	offAccountAt    = point{160, 406}
	offSerialAt     = point{476, 406}
	offRequestAt    = point{168, 446} // request file path
	offGenerateAt   = point{525, 446} // Generate license request
	offLicenseAt    = point{190, 486} // license file path
	offImportAt     = point{548, 486} // Import license file
	offlineWinTitle = "License Desk – Offline activation"
)

// TestEndToEndOfflineActivation is issue 5's end-to-end run: a PC that
// cannot reach the authority is licensed with a license request file and a
// license file, all through the real app on the X display.
//
// The authority is seeded with this PC as a device and then stopped: the
// app, configured with its URL, never reaches it. In the License menu's
// Offline activation window the person types an account and serial number
// and generates the request file; `authority entitle` (the command line
// form of the License file page) turns it into a license file; the person
// imports that and creates the System Administrator the import needs. The
// window closes, the main window shows the license details in green, and
// `status --json` says Licensed, offline, for the seeded server.
func TestEndToEndOfflineActivation(t *testing.T) {
	r := beginDesktopRun(t, 2*time.Minute)
	ctx, art, appBin, step, installCode := r.ctx, r.art, r.appBin, r.step, r.installCode

	// The authority's data: this PC as a device. It is not running while
	// the app runs: this PC has no connection to it.
	auth := startAuthority(ctx, t, r.authBin, filepath.Join(art, "offline-authority.log"), e2eSeed(installCode))
	auth.stop()
	step("authority data seeded; %s is not served", auth.base)

	_, env := newAppHome(t)
	env = append(env, "LICENSEDESK_STATUS_TICK=1s")
	app := startApp(t, art, "offline-", appBin, env, "-authority", auth.base, "-root-key", auth.root, "-device-name", e2eDevice)
	win, _, _ := waitMainWindow(ctx, t, app, step)
	wizard := waitDrawn(ctx, t, win, art, "offline-01-wizard.png")

	// License → Offline activation… opens its own window over the wizard.
	click(ctx, t, win, licenseMenuAt)
	waitChanged(ctx, t, win, art, "offline-02-menu.png", wizard)
	click(ctx, t, win, menuOfflineAt)
	off := waitWindow(ctx, t, offlineWinTitle, app)
	form := waitDrawn(ctx, t, off, art, "offline-03-window.png")

	// The license request.
	reqPath := filepath.Join(art, "offline-license-request.json")
	entPath := filepath.Join(art, "offline-license.ent")
	for _, p := range []string{reqPath, entPath} {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	fillEntry(ctx, t, off, offAccountAt, "ACC-E2E-1001")
	fillEntry(ctx, t, off, offSerialAt, "SN-E2E-42")
	fillEntry(ctx, t, off, offRequestAt, reqPath)
	click(ctx, t, off, offGenerateAt)
	req := waitLicenseRequest(ctx, t, reqPath)
	if req.AccountNumber != "ACC-E2E-1001" || req.SerialNumber != "SN-E2E-42" || req.DeviceName != e2eDevice ||
		(installCode != "" && req.InstallCode != installCode) {
		t.Errorf("license request %+v: want account ACC-E2E-1001, serial SN-E2E-42, device %q, install code %q",
			req, e2eDevice, installCode)
	}
	saved := waitChanged(ctx, t, off, art, "offline-04-request.png", form)
	step("license request saved: install code %s", req.InstallCode)

	// At a PC that reaches the authority: the request becomes a license file.
	entitle(ctx, t, auth, reqPath, entPath, installCode == "")
	step("authority entitle wrote %s", filepath.Base(entPath))

	// Import it; the first protected action creates the administrator.
	fillEntry(ctx, t, off, offLicenseAt, entPath)
	click(ctx, t, off, offImportAt)
	fillAdminDialog(ctx, t, off, art, "offline-05-admin.png", saved, true)

	st := waitStatus(ctx, t, appBin, env, "Licensed offline", func(s statusJSON) bool {
		return s.Status == "Licensed" && s.License != nil
	})
	if st.License.ServerID != e2eServerID || !st.License.Offline {
		t.Errorf("licensed as %q, offline %v; want %q offline", st.License.ServerID, st.License.Offline, e2eServerID)
	}
	waitWindowGone(ctx, t, offlineWinTitle)
	// The details replace the wizard, the status value in green at the top.
	waitShot(ctx, t, win, art, "offline-06-licensed.png", "the license details", nil, func(img image.Image) bool {
		return greenPixels(img, 200) >= 40
	})
	step("Licensed offline as %s, token %s until %s", st.License.ServerID, st.License.TokenID,
		st.License.TokenExpiry.Format(time.DateTime))
}

// waitLicenseRequest waits for the app to write the request file and
// parses it.
func waitLicenseRequest(ctx context.Context, t *testing.T, path string) wire.LicenseRequestFile {
	t.Helper()
	var lastErr error
	for {
		data, err := os.ReadFile(path)
		if err == nil {
			var req wire.LicenseRequestFile
			if req, err = wire.ParseLicenseRequest(data); err == nil {
				return req
			}
		}
		lastErr = err
		select {
		case <-ctx.Done():
			t.Fatalf("no license request at %s: %v", path, lastErr)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// entitle runs `authority entitle` on the stopped authority's data, as the
// operator at the Authorization server would. byDevice names the seeded
// device, for a PC whose install code the test cannot know.
func entitle(ctx context.Context, t *testing.T, auth *authorityRun, request, out string, byDevice bool) {
	t.Helper()
	args := []string{"entitle", "-data", auth.data, "-issuer", auth.base, "-request", request, "-out", out}
	if byDevice {
		args = append(args, "-device", e2eServerID)
	}
	cmd := exec.CommandContext(ctx, auth.bin, args...)
	output, err := cmd.CombinedOutput()
	_ = os.WriteFile(filepath.Join(filepath.Dir(out), "offline-entitle.log"), output, 0o644)
	if err != nil {
		t.Fatalf("authority entitle: %v\n%s", err, output)
	}
}
