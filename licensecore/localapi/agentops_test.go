package localapi

import (
	"context"
	"errors"
	"testing"
	"time"

	"licensedesk/licensecore"
)

// TestNoticesLongPoll: a tray waiting for notices wakes as soon as the
// agent decides on one, gets each once, and one that connects late still
// gets the recent ones.
func TestNoticesLongPoll(t *testing.T) {
	a := startAgent(t, time.Hour)
	ctx := context.Background()
	got := make(chan []Notice, 1)
	go func() {
		ns, _, err := a.c.Notices(ctx, 0, 30*time.Second)
		if err != nil {
			t.Error(err)
		}
		got <- ns
	}()
	time.Sleep(100 * time.Millisecond) // the poll is waiting
	start := time.Now()
	a.srv.Notify("License token expires soon", "The token expires in 2 hours.")
	select {
	case ns := <-got:
		if len(ns) != 1 || ns[0].Title != "License token expires soon" || ns[0].Seq != 1 {
			t.Fatalf("notices %+v", ns)
		}
		t.Logf("the notice reached the waiting poll in %s", time.Since(start))
	case <-time.After(5 * time.Second):
		t.Fatal("the long poll did not wake")
	}
	a.srv.Notify("Renewal due", "in 7 days")
	ns, next, err := a.c.Notices(ctx, 1, 0)
	if err != nil || len(ns) != 1 || ns[0].Title != "Renewal due" || next != 2 {
		t.Fatalf("after 1: %+v, %d, %v", ns, next, err)
	}
	if ns, next, _ := a.c.Notices(ctx, 2, 50*time.Millisecond); len(ns) != 0 || next != 2 {
		t.Fatalf("nothing new: %+v, %d", ns, next)
	}
	for range keepNotices + 5 {
		a.srv.Notify("n", "b")
	}
	if ns, _, _ := a.c.Notices(ctx, 0, 0); len(ns) != keepNotices {
		t.Fatalf("a late tray got %d notices, want the last %d", len(ns), keepNotices)
	}
}

// TestSettingsAndAuthorityThroughAPI: thresholds change without an
// administrator; the trust anchor only with one (licensecore checks it).
func TestSettingsAndAuthorityThroughAPI(t *testing.T) {
	a := startAgent(t, time.Hour)
	ctx := context.Background()
	set, err := a.c.Settings(ctx)
	if err != nil || set.AuthorityURL != a.ra.URL {
		t.Fatalf("settings %+v, %v", set, err)
	}
	set.TokenWarnHours, set.TokenWarnPercent = 12, 30
	if err := a.c.SaveSettings(ctx, set); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.c.Settings(ctx); got.TokenWarnHours != 12 || got.TokenWarnPercent != 30 {
		t.Fatalf("saved settings %+v", got)
	}
	set.TokenWarnPercent = 400
	if err := a.c.SaveSettings(ctx, set); err == nil || err.Error() != "the token warning must be 0 to 100 percent" {
		t.Fatalf("a wrong threshold: %v", err)
	}
	if err := a.c.ChangeAuthority(ctx, nil, "http://127.0.0.1:9", nil, false); !errors.Is(err, licensecore.ErrAdminRequired) {
		t.Fatalf("changing the authority without an administrator: %v", err)
	}
	sess := a.admin(t)
	if err := a.c.ChangeAuthority(ctx, sess, "http://127.0.0.1:9", nil, false); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.c.Settings(ctx); got.AuthorityURL != "http://127.0.0.1:9" {
		t.Fatalf("the authority after the change: %q", got.AuthorityURL)
	}
}

// TestStopOnlyByOwner: the agent's own user may stop it over the socket.
// (Another user cannot even connect to a 0600 socket; a member of the
// licensedesk group can, and is refused: see connIsOwner.)
func TestStopOnlyByOwner(t *testing.T) {
	a := startAgent(t, time.Hour)
	if err := a.c.Stop(context.Background()); err != nil || a.stops.Load() != 1 {
		t.Fatalf("stop by the owner: %v, %d stops", err, a.stops.Load())
	}
	if peerIsOwner(context.Background()) {
		t.Fatal("a request without a connection passed for the owner")
	}
}
