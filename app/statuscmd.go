package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"licensedesk/licensecore"
	"licensedesk/licensecore/localapi"
	"licensedesk/screens/plain"
)

// snapshot is what the running app leaves for `status --json`: the store
// is locked by the running app, so the command reads this file instead and
// evaluates it at the current time.
type snapshot struct {
	License    *licensecore.License `json:"licence,omitempty"`
	Policy     licensecore.Policy   `json:"policy"`
	TrustedAt  time.Time            `json:"trusted_at"`
	ClockError bool                 `json:"clock_error"`
	// ServerOffset is the authority's clock minus this PC's, when known.
	ServerOffset *time.Duration `json:"server_offset,omitempty"`
}

const snapshotFile = "status.json"

// snapshotWriter is the app's only writer of the status file (its zero
// value is ready). publish runs on the refresher, the UI thread and the
// tray; the mutex puts their writes in one order, so the file holds the
// status of the last write (last writer wins) and never a mix of two.
type snapshotWriter struct {
	mu sync.Mutex
}

func (w *snapshotWriter) write(dir string, st licensecore.Status, p licensecore.Policy) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return writeSnapshot(dir, st, p)
}

// writeSnapshot replaces the status file atomically: a reader sees the old
// file or the new one, never a partial write. The temporary file is unique
// per call and is synced before the rename, so a crash cannot leave a
// renamed but empty status file.
func writeSnapshot(dir string, st licensecore.Status, p licensecore.Policy) (err error) {
	snap := snapshot{License: st.License, Policy: p, TrustedAt: st.At, ClockError: st.ClockError}
	if st.ServerOffsetKnown {
		snap.ServerOffset = &st.ServerOffset
	}
	raw, err := json.Marshal(snap)
	if err != nil {
		return err
	}
	return licensecore.WriteFileAtomic(filepath.Join(dir, snapshotFile), raw)
}

func readSnapshot(dir string, now time.Time) (licensecore.Status, error) {
	raw, err := licensecore.ReadFileShared(filepath.Join(dir, snapshotFile))
	if err != nil {
		return licensecore.Status{}, err
	}
	var s snapshot
	if err := json.Unmarshal(raw, &s); err != nil {
		return licensecore.Status{}, fmt.Errorf("status file is damaged: %w", err)
	}
	if now.Before(s.TrustedAt) { // never evaluate before what the app trusted
		now = s.TrustedAt
	}
	st := licensecore.Evaluate(s.License, now, s.Policy)
	st.ClockError = s.ClockError
	if s.ServerOffset != nil {
		st.ServerOffset, st.ServerOffsetKnown = *s.ServerOffset, true
	}
	return st, nil
}

// runStatus implements `licensedesk status [--json]`. Exit codes: 0
// licensed, 1 warning, 2 expired or unlicensed, 3 could not tell.
func runStatus(cfg Config, stdout, stderr io.Writer) int {
	st, err := currentStatus(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "licensedesk: cannot read the license status: %v\n", err)
		return 3
	}
	if cfg.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(statusDocument(st)); err != nil {
			return 3
		}
		return st.Severity()
	}
	fmt.Fprintf(stdout, "Status:        %s\n", st.State)
	if l := st.License; l != nil {
		fmt.Fprintf(stdout, "Server ID:     %s\n", l.ServerID)
		if !l.RenewalDate.IsZero() {
			fmt.Fprintf(stdout, "Renewal date:  %s\n", l.RenewalDate.Local().Format("2 Jan 2006"))
		}
		fmt.Fprintf(stdout, "Token expiry:  %s (%s)\n", l.TokenExpiry.Local().Format("2 Jan 2006 15:04"), st.Token)
	}
	if st.ClockError {
		fmt.Fprintln(stdout, "Clock error:   the system clock is behind the last trusted time")
	}
	if msg := plain.ClockOffset(st); msg != "" {
		fmt.Fprintf(stdout, "Clock:         %s\n", msg)
	}
	return st.Severity()
}

// currentStatus asks the agent when one runs (it does not start one: a
// monitoring script must not change the PC), else reads the store.
func currentStatus(cfg Config) (licensecore.Status, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if cl, err := localapi.Dial(cfg.Socket); err == nil {
		if st, _, err := cl.WaitStatus(ctx, 0, 0); err == nil {
			return st, nil
		}
	}
	return storeStatus(cfg)
}

// storeStatus reads the status from the store, or from the status file
// when another process holds the store.
func storeStatus(cfg Config) (licensecore.Status, error) {
	keys := chooseKeys(cfg.DataDir, zerolog.Nop())
	store, err := licensecore.OpenStore(licensecore.StoreOptions{Dir: filepath.Join(cfg.DataDir, "store"), Secrets: keys.secrets, Logger: zerolog.Nop()})
	// Without the credential store (a script outside the desktop session)
	// the running app's status file still answers.
	if errors.Is(err, licensecore.ErrAlreadyRunning) || (errors.Is(err, licensecore.ErrStoreKeyMissing) && appListening(cfg.DataDir)) {
		return readSnapshot(cfg.DataDir, time.Now())
	}
	if err != nil {
		return licensecore.Status{}, err
	}
	defer store.Close()
	keys.opened(zerolog.Nop())
	settings, err := loadSettings(store)
	if err != nil {
		return licensecore.Status{}, err
	}
	// The stored license at the trusted time, as the app would show it;
	// reading the status needs no authority and changes nothing.
	p := policyOf(settings)
	clock, err := licensecore.NewTrustedClock(store, time.Now, p.ClockTolerance)
	if err != nil {
		return licensecore.Status{}, err
	}
	var lic *licensecore.License
	switch l, err := store.License(); {
	case err == nil:
		lic = &l
	case !errors.Is(err, licensecore.ErrNotLicensed):
		return licensecore.Status{}, err
	}
	st := licensecore.Evaluate(lic, clock.Now(), p)
	st.ClockError, _ = clock.Rollback()
	return st, nil
}
