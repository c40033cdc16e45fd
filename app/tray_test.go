package app

import (
	"context"
	"errors"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"github.com/rs/zerolog"

	"licensedesk/licensecore"
)

// fakeTray is a desktop.App that keeps the menu the app sets, so the tray
// can be clicked without a display.
type fakeTray struct{ menu *fyne.Menu }

func (f *fakeTray) SetSystemTrayMenu(m *fyne.Menu)  { f.menu = m }
func (f *fakeTray) SetSystemTrayIcon(fyne.Resource) {}
func (f *fakeTray) SetSystemTrayWindow(fyne.Window) {}

func menuAction(t *testing.T, m *fyne.Menu, label string) func() {
	t.Helper()
	for _, it := range m.Items {
		if it.Label == label {
			return it.Action
		}
	}
	t.Fatalf("no %q in menu %q", label, m.Label)
	return nil
}

// TestTrayRefreshGoesThroughRefresher: the tray's and the main menu's
// "Refresh tokens now" only kick the refresher; the attempt runs on the
// refresher's goroutine, which shutdown waits for, and the tray hears how
// it went.
func TestTrayRefreshGoesThroughRefresher(t *testing.T) {
	cases := []struct {
		name     string
		healthy  bool
		wantErr  error
		refreshs int32
	}{
		{"authority answers", true, nil, 1},
		{"authority down", false, licensecore.ErrAuthorityDown, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := test.NewTempApp(t)
			f := &fakeRefresh{healthy: tc.healthy, next: time.Now().Add(time.Hour)}
			tray := &fakeTray{}
			g := &gui{c: &core{log: zerolog.Nop()}, app: a, tray: tray}
			g.ref = newRefresher(f, zerolog.Nop(), func(licensecore.Status) {})
			reports := make(chan error, 2)
			g.ref.report = func(st licensecore.Status, err error) {
				g.reportRefresh(st, err)
				reports <- err
			}

			menuAction(t, g.mainMenu().Items[0], "Refresh tokens now")()
			if len(g.ref.kick) != 1 || g.ref.reportNext.Load() {
				t.Fatal("the main menu did not just kick the refresher")
			}
			<-g.ref.kick

			g.updateTray(f.Status())
			menuAction(t, tray.menu, "Refresh tokens now")()
			if len(g.ref.kick) != 1 || !g.ref.reportNext.Load() {
				t.Fatal("the tray did not kick the refresher")
			}
			if f.attempts.Load() != 0 || f.refreshs.Load() != 0 {
				t.Fatal("the tray refreshed outside the refresher")
			}

			ctx, cancel := context.WithCancel(context.Background())
			g.c.goLong(func() { g.ref.run(ctx) })
			select {
			case err := <-reports:
				if !errors.Is(err, tc.wantErr) {
					t.Errorf("reported %v, want %v", err, tc.wantErr)
				}
			case <-time.After(10 * time.Second):
				t.Error("the refresher did not report the tray's refresh")
			}
			cancel()
			g.c.wg.Wait() // what shutdown does
			if n := f.refreshs.Load(); n != tc.refreshs {
				t.Errorf("%d refreshes, want %d", n, tc.refreshs)
			}
			if len(reports) != 0 {
				t.Error("one click reported more than once")
			}
		})
	}
}
