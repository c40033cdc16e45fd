package licensecore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"licensedesk/licensecore"
	"licensedesk/licensecore/authority"
	"licensedesk/licensecore/wire"
)

// decideSwitch approves or denies a switch request on the authority's
// /switch page.
func (p *person) decideSwitch(requestID, action string) {
	p.t.Helper()
	p.send(http.MethodGet, "/switch", nil, `id="switch-`+requestID+`"`)
	p.send(http.MethodPost, "/switch", url.Values{"request_id": {requestID}, "action": {action}}, `id="switch-message"`)
}

// licensedManager starts an authority and a manager with the license of
// POS-T1 acquired.
func licensedManager(t *testing.T, now func() time.Time) (*realAuthority, *licensecore.Manager, *licensecore.Store) {
	t.Helper()
	ra := startAuthority(t, time.Hour)
	m, store := newManager(t, ra.ts.URL, ra.srv.RootPublicKey(), now)
	if _, err := acquire(t, m, ra.ts.URL, "approve"); err != nil {
		t.Fatal(err)
	}
	return ra, m, store
}

// adminSession creates the administrator account and logs in.
func adminSession(t *testing.T, m *licensecore.Manager) *licensecore.AdminSession {
	t.Helper()
	if err := m.Admins().CreateAdministrator("admin", "admin-password"); err != nil {
		t.Fatal(err)
	}
	sess, err := m.Admins().AdminLogin("admin", "admin-password")
	if err != nil {
		t.Fatal(err)
	}
	return sess
}

// hangUp is a fault: the connection closes without an answer.
func hangUp(w http.ResponseWriter, _ *http.Request) {
	if c, _, err := w.(http.Hijacker).Hijack(); err == nil {
		c.Close()
	}
}

func serverError(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(http.StatusBadGateway)
	io.WriteString(w, "<html>Bad gateway</html>")
}

func auditKinds(t *testing.T, s *licensecore.Store) []string {
	t.Helper()
	log, err := s.AuditLog()
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range log {
		kinds = append(kinds, e.Kind)
	}
	return kinds
}

func TestVerifyResults(t *testing.T) {
	ra, m, store := licensedManager(t, nil)
	reseed := func(mod func(*authority.LicenseSeed)) func() {
		return func() {
			if err := ra.srv.Seed(authoritySeed(mod)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// One license, one step after another: the authority's view changes
	// between the steps.
	steps := []struct {
		name    string
		setup   func()
		fault   http.HandlerFunc
		want    licensecore.VerifyResult
		wantErr []error
	}{
		{name: "valid", want: licensecore.VerifyValid},
		{name: "connection refused", fault: hangUp, want: licensecore.VerifyUnreachable, wantErr: []error{licensecore.ErrAuthorityDown}},
		{name: "HTML error page", fault: serverError, want: licensecore.VerifyUnreachable,
			wantErr: []error{licensecore.ErrAuthorityDown, licensecore.ErrAuthorityBroken}},
		{name: "perpetual", setup: reseed(func(l *authority.LicenseSeed) {
			l.Type, l.RenewalDate = wire.Perpetual, time.Time{}
		}), want: licensecore.VerifyValid},
		{name: "past renewal", setup: reseed(func(l *authority.LicenseSeed) {
			l.RenewalDate = time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
		}), want: licensecore.VerifyExpired},
		{name: "revoked", setup: func() {
			if err := ra.srv.RevokeLicense("LIC-T1"); err != nil {
				t.Fatal(err)
			}
		}, want: licensecore.VerifyRevoked},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if s.setup != nil {
				s.setup()
			}
			ra.setFault(s.fault)
			defer ra.setFault(nil)
			before := time.Now().Add(-time.Second)
			st, err := m.Verify(context.Background())
			for _, want := range s.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("error %v does not wrap %v", err, want)
				}
			}
			if s.wantErr == nil && err != nil {
				t.Fatal(err)
			}
			l := st.License
			if l == nil || l.LastVerifyResult != s.want || l.LastVerifyTime.Before(before) {
				t.Fatalf("after verify: %+v", l)
			}
			stored, _ := store.License()
			if stored.LastVerifyResult != s.want || !stored.LastVerifyTime.Equal(l.LastVerifyTime) {
				t.Fatalf("stored: %v at %v", stored.LastVerifyResult, stored.LastVerifyTime)
			}
			log, _ := store.AuditLog()
			if last := log[len(log)-1]; last.Kind != licensecore.EventVerified || !strings.Contains(last.Detail, string(s.want)) {
				t.Fatalf("audit %+v", last)
			}
		})
	}
	if err := store.VerifyAudit(); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyDue(t *testing.T) {
	now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	sub := func(last time.Time, result licensecore.VerifyResult) *licensecore.License {
		return &licensecore.License{ServerID: "S", LicenseID: "L", Type: wire.Subscription,
			TokenIssuedAt: now.Add(-time.Hour), TokenExpiry: now.Add(time.Hour), LastVerifyTime: last, LastVerifyResult: result}
	}
	perpetual := sub(time.Time{}, licensecore.VerifyNever)
	perpetual.Type = wire.Perpetual
	cases := []struct {
		name     string
		lic      *licensecore.License
		interval time.Duration
		want     bool
	}{
		{"unlicensed", nil, 0, false},
		{"never verified", sub(time.Time{}, licensecore.VerifyNever), 0, true},
		{"verified just now", sub(now, licensecore.VerifyValid), 0, false},
		{"a second short of a day", sub(now.Add(-24*time.Hour+time.Second), licensecore.VerifyValid), 0, false},
		{"exactly a day", sub(now.Add(-24*time.Hour), licensecore.VerifyValid), 0, true},
		{"revoked a day ago", sub(now.Add(-25*time.Hour), licensecore.VerifyRevoked), 0, true},
		{"unreachable a minute ago", sub(now.Add(-time.Minute), licensecore.VerifyUnreachable), 0, true},
		{"perpetual, never verified", perpetual, 0, false},
		{"custom interval elapsed", sub(now.Add(-time.Hour), licensecore.VerifyValid), time.Hour, true},
		{"custom interval not elapsed", sub(now.Add(-time.Hour+time.Second), licensecore.VerifyValid), time.Hour, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			store, err := licensecore.OpenStore(licensecore.StoreOptions{Dir: filepath.Join(t.TempDir(), "store"), Logger: zerolog.Nop()})
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			if tc.lic != nil {
				if err := store.SaveLicense(*tc.lic, licensecore.Tokens{License: "x", Refresh: "y"}, ""); err != nil {
					t.Fatal(err)
				}
			}
			m, err := licensecore.NewManager(licensecore.Options{Store: store, AuthorityURL: "http://127.0.0.1:1",
				Now: func() time.Time { return now }, VerifyInterval: tc.interval, Logger: zerolog.Nop(), Root: exampleRoot()})
			if err != nil {
				t.Fatal(err)
			}
			if got := m.VerifyDue(); got != tc.want {
				t.Fatalf("VerifyDue = %v, want %v", got, tc.want)
			}
			if _, err := m.Verify(context.Background()); tc.lic == nil && !errors.Is(err, licensecore.ErrNotLicensed) {
				t.Fatalf("verify without a license: %v", err)
			}
		})
	}
}

func TestDownloadLicense(t *testing.T) {
	ra, m, store := licensedManager(t, nil)
	err := ra.srv.SetEntitlements("LIC-T1", authority.Entitlements{Features: []string{"xms", "loyalty"}, Modules: []string{"kds"}, Users: 5, Capacity: 3})
	if err != nil {
		t.Fatal(err)
	}
	st, changes, err := m.DownloadLicense(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []licensecore.Change{
		{Field: licensecore.FieldFeatures, Old: "xms", New: "loyalty, xms"},
		{Field: licensecore.FieldModules, Old: "", New: "kds"},
		{Field: licensecore.FieldUsers, Old: "", New: "5"},
	}
	if !reflect.DeepEqual(changes, want) {
		t.Fatalf("changes %+v, want %+v", changes, want)
	}
	if l := st.License; l.Users != 5 || l.Capacity != 3 || len(l.Modules) != 1 || len(l.Features) != 2 {
		t.Fatalf("license after download: %+v", l)
	}
	if stored, _ := store.License(); stored.Users != 5 {
		t.Fatal("the download was not stored")
	}

	if err := ra.srv.SetEntitlements("LIC-T1", authority.Entitlements{Features: []string{"loyalty", "xms"}, Modules: []string{"kds"}, Users: 5, Capacity: 10}); err != nil {
		t.Fatal(err)
	}
	if _, changes, err = m.DownloadLicense(context.Background()); err != nil || !reflect.DeepEqual(changes, []licensecore.Change{{Field: licensecore.FieldCapacity, Old: "3", New: "10"}}) {
		t.Fatalf("capacity only (features reordered): %+v, %v", changes, err)
	}
	if _, changes, err = m.DownloadLicense(context.Background()); err != nil || changes == nil || len(changes) != 0 {
		t.Fatalf("nothing changed: %#v, %v", changes, err)
	}

	ra.setFault(hangUp)
	before, _ := store.Tokens()
	if _, changes, err = m.DownloadLicense(context.Background()); !errors.Is(err, licensecore.ErrAuthorityDown) || changes != nil {
		t.Fatalf("offline download: %v, %v", changes, err)
	}
	ra.setFault(nil)
	if after, _ := store.Tokens(); after != before {
		t.Fatal("a failed download changed the tokens")
	}
	if kinds := auditKinds(t, store); strings.Count(strings.Join(kinds, " "), licensecore.EventDownloaded) != 3 {
		t.Fatalf("audit %v", kinds)
	}
}

// clockOffset is a system clock that tests move forward.
type clockOffset struct{ d atomic.Int64 }

func (c *clockOffset) now() time.Time           { return time.Now().Add(time.Duration(c.d.Load())) }
func (c *clockOffset) advance(by time.Duration) { c.d.Add(int64(by)) }

func TestLifecycleNeedsAdmin(t *testing.T) {
	var clock clockOffset
	_, m, store := licensedManager(t, clock.now)
	good := adminSession(t, m)
	toks, _ := store.Tokens()
	lic, _ := store.License()
	sessions := []struct {
		name string
		sess func() *licensecore.AdminSession
	}{
		{"nil", func() *licensecore.AdminSession { return nil }},
		{"forged", func() *licensecore.AdminSession { return &licensecore.AdminSession{} }},
		{"logged out", func() *licensecore.AdminSession {
			s, err := m.Admins().AdminLogin("admin", "admin-password")
			if err != nil {
				t.Fatal(err)
			}
			m.Admins().AdminLogout(s)
			return s
		}},
		{"expired", func() *licensecore.AdminSession {
			clock.advance(licensecore.AdminSessionTTL + time.Second)
			return good
		}},
	}
	for _, s := range sessions {
		t.Run(s.name, func(t *testing.T) {
			sess := s.sess()
			if err := m.Remove(context.Background(), sess, licensecore.RemoveOptions{Force: true}); !errors.Is(err, licensecore.ErrAdminRequired) {
				t.Errorf("Remove: %v", err)
			}
			if _, err := m.RequestSwitch(context.Background(), sess, wire.Perpetual); !errors.Is(err, licensecore.ErrAdminRequired) {
				t.Errorf("RequestSwitch: %v", err)
			}
			nowToks, _ := store.Tokens()
			nowLic, _ := store.License()
			if nowToks != toks || nowLic.TokenID != lic.TokenID || m.Status().State != licensecore.Licensed {
				t.Fatal("a refused call changed the license")
			}
			if _, pending := m.PendingSwitch(); pending {
				t.Fatal("a refused call left a switch request")
			}
		})
	}
	for _, k := range auditKinds(t, store) {
		if k == licensecore.EventRemoved || k == licensecore.EventSwitchRequested {
			t.Fatalf("audit records a refused call: %s", k)
		}
	}
	// The refresh token was never released: it still works.
	if _, err := m.RefreshNow(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestRemove(t *testing.T) {
	ra, m, store := licensedManager(t, nil)
	sess := adminSession(t, m)
	before, _ := store.Tokens()

	ra.setFault(hangUp)
	if err := m.Remove(context.Background(), sess, licensecore.RemoveOptions{}); !errors.Is(err, licensecore.ErrAuthorityDown) {
		t.Fatalf("remove while offline: %v", err)
	}
	ra.setFault(nil)
	if now, _ := store.Tokens(); now != before || m.Status().State != licensecore.Licensed {
		t.Fatal("a failed remove changed the license")
	}

	if err := m.Remove(context.Background(), sess, licensecore.RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	if st := m.Status(); st.State != licensecore.Unlicensed || st.License != nil {
		t.Fatalf("after remove: %v", st.State)
	}
	if _, err := store.Tokens(); !errors.Is(err, licensecore.ErrNotLicensed) {
		t.Fatalf("tokens after remove: %v", err)
	}
	if _, err := store.KeySet(); err != nil {
		t.Fatalf("the pinned key set must stay: %v", err)
	}
	if err := store.VerifyAudit(); err != nil {
		t.Fatal(err)
	}
	if kinds := auditKinds(t, store); kinds[len(kinds)-1] != licensecore.EventRemoved {
		t.Fatalf("audit %v", kinds)
	}
	// The released refresh token is dead at the authority.
	resp, err := http.PostForm(ra.ts.URL+"/token", url.Values{"client_id": {licensecore.DefaultClientID},
		"grant_type": {"refresh_token"}, "refresh_token": {before.Refresh}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("refresh with the released token: %d", resp.StatusCode)
	}
	if err := m.Remove(context.Background(), sess, licensecore.RemoveOptions{}); !errors.Is(err, licensecore.ErrNotLicensed) {
		t.Fatalf("second remove: %v", err)
	}

	// Re-acquisition works, and a forced remove works offline.
	st, err := acquire(t, m, ra.ts.URL, "approve")
	if err != nil || st.State != licensecore.Licensed || st.License.ServerID != "POS-T1" {
		t.Fatalf("re-acquire: %v %v", st.State, err)
	}
	ra.setFault(hangUp)
	defer ra.setFault(nil)
	if err := m.Remove(context.Background(), sess, licensecore.RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if m.Status().State != licensecore.Unlicensed {
		t.Fatal("forced remove left a license")
	}
	log, _ := store.AuditLog()
	if last := log[len(log)-1]; last.Kind != licensecore.EventRemoved || !strings.Contains(last.Detail, "forced") {
		t.Fatalf("audit %+v", last)
	}
}

func TestSwitchModel(t *testing.T) {
	ra, m, store := licensedManager(t, nil)
	first := m.Status()
	sess := adminSession(t, m)
	ctx := context.Background()
	if _, _, err := m.CheckSwitch(ctx); !errors.Is(err, licensecore.ErrNoSwitchPending) {
		t.Fatalf("check without a request: %v", err)
	}
	if _, err := m.RequestSwitch(ctx, sess, wire.Subscription); !errors.Is(err, licensecore.ErrSwitchSameType) {
		t.Fatalf("switch to the same type: %v", err)
	}
	req, err := m.RequestSwitch(ctx, sess, wire.Perpetual)
	if err != nil {
		t.Fatal(err)
	}
	if req.ID == "" || req.Status != wire.SwitchPending || req.From != wire.Subscription ||
		req.To != wire.Perpetual || req.ApproveURI != ra.ts.URL+"/switch" || req.LicenseID != "LIC-T1" {
		t.Fatalf("request %+v", req)
	}
	if again, err := m.RequestSwitch(ctx, sess, wire.Perpetual); err != nil || again.ID != req.ID {
		t.Fatalf("asking again: %+v %v", again, err)
	}
	if _, err := m.RequestSwitch(ctx, sess, wire.Subscription); !errors.Is(err, licensecore.ErrSwitchPending) {
		t.Fatalf("another change while one is pending: %v", err)
	}
	if got, st, err := m.CheckSwitch(ctx); err != nil || got.Status != wire.SwitchPending || st.License.Type != wire.Subscription {
		t.Fatalf("pending: %+v %v", got, err)
	}

	// The app restarts: the request survives.
	m2, err := licensecore.NewManager(licensecore.Options{Store: store, AuthorityURL: ra.ts.URL, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := m2.PendingSwitch(); !ok || p.ID != req.ID || p.To != req.To || !p.RequestedAt.Equal(req.RequestedAt) {
		t.Fatalf("after restart: %+v %v", p, ok)
	}
	newPerson(t, ra.ts.URL).decideSwitch(req.ID, "approve")
	got, st, err := m2.CheckSwitch(ctx)
	if err != nil || got.Status != wire.SwitchApproved {
		t.Fatalf("approved: %+v %v", got, err)
	}
	l := st.License
	if l.Type != wire.Perpetual || !l.RenewalDate.IsZero() || l.ServerID != first.License.ServerID ||
		l.LicenseID != first.License.LicenseID || !l.AcquiredAt.Equal(first.License.AcquiredAt) || st.State != licensecore.Licensed {
		t.Fatalf("license after the switch: %+v (%v)", l, st.State)
	}
	if _, ok := m2.PendingSwitch(); ok {
		t.Fatal("the approved request was not cleared")
	}
	if _, err := m2.RefreshNow(ctx); err != nil {
		t.Fatalf("tokens keep working after the switch: %v", err)
	}

	// Back to subscription, denied.
	sess2, err := m2.Admins().AdminLogin("admin", "admin-password")
	if err != nil {
		t.Fatal(err)
	}
	back, err := m2.RequestSwitch(ctx, sess2, wire.Subscription)
	if err != nil {
		t.Fatal(err)
	}
	newPerson(t, ra.ts.URL).decideSwitch(back.ID, "deny")
	got, st, err = m2.CheckSwitch(ctx)
	if !errors.Is(err, licensecore.ErrAccessDenied) || got.Status != wire.SwitchDenied || st.License.Type != wire.Perpetual {
		t.Fatalf("denied: %+v %v", got, err)
	}
	if _, ok := m2.PendingSwitch(); ok {
		t.Fatal("the denied request was not cleared")
	}
	kinds := strings.Join(auditKinds(t, store), " ")
	for _, k := range []string{licensecore.EventSwitchRequested, licensecore.EventSwitched, licensecore.EventSwitchDenied} {
		if !strings.Contains(kinds, k) {
			t.Errorf("audit lacks %s: %s", k, kinds)
		}
	}
}

// The app's background loop: verify a subscription once a day.
func ExampleManager_VerifyDue() {
	store, done := exampleStore()
	defer done()
	now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	_ = store.SaveLicense(licensecore.License{ServerID: "POS-1", LicenseID: "LIC-1", Type: wire.Subscription,
		LastVerifyTime: now.Add(-25 * time.Hour), LastVerifyResult: licensecore.VerifyValid}, licensecore.Tokens{}, "")
	m, err := licensecore.NewManager(licensecore.Options{Store: store, AuthorityURL: "https://licensing.example.com",
		Now: func() time.Time { return now }, Root: exampleRoot()})
	if err != nil {
		panic(err)
	}
	fmt.Println("due:", m.VerifyDue())
	// Output: due: true
}

func ExampleManager_PendingSwitch() {
	store, done := exampleStore()
	defer done()
	m, err := licensecore.NewManager(licensecore.Options{Store: store, AuthorityURL: "https://licensing.example.com", Root: exampleRoot()})
	if err != nil {
		panic(err)
	}
	_, pending := m.PendingSwitch()
	fmt.Println("pending:", pending)
	// Output: pending: false
}

// The examples below need an authority, so they are compiled, not run.

func ExampleManager_Verify() {
	var m *licensecore.Manager // from licensecore.NewManager
	st, err := m.Verify(context.Background())
	if errors.Is(err, licensecore.ErrAuthorityDown) {
		fmt.Println("offline; recorded", st.License.LastVerifyResult)
		return
	}
	fmt.Println(st.License.LastVerifyResult, "at", st.License.LastVerifyTime)
}

func ExampleManager_DownloadLicense() {
	var m *licensecore.Manager
	_, changes, err := m.DownloadLicense(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range changes {
		fmt.Printf("%s: %q → %q\n", c.Field, c.Old, c.New)
	}
}

func ExampleManager_Remove() {
	var m *licensecore.Manager
	sess, err := m.Admins().AdminLogin("admin", "admin-password")
	if err != nil {
		fmt.Println(err)
		return
	}
	err = m.Remove(context.Background(), sess, licensecore.RemoveOptions{})
	if errors.Is(err, licensecore.ErrAuthorityDown) {
		// Ask the person, then remove here only.
		err = m.Remove(context.Background(), sess, licensecore.RemoveOptions{Force: true})
	}
	fmt.Println(m.Status().State, err)
}

func ExampleManager_RequestSwitch() {
	var m *licensecore.Manager
	var sess *licensecore.AdminSession // from m.AdminLogin
	req, err := m.RequestSwitch(context.Background(), sess, wire.Perpetual)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("approve it at", req.ApproveURI)
}

func ExampleManager_CheckSwitch() {
	var m *licensecore.Manager
	req, st, err := m.CheckSwitch(context.Background())
	switch {
	case errors.Is(err, licensecore.ErrAccessDenied):
		fmt.Println("the change was denied")
	case err != nil:
		fmt.Println(err)
	case req.Status == wire.SwitchApproved:
		fmt.Println("now", st.License.Type)
	default:
		fmt.Println("still waiting")
	}
}
