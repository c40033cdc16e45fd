package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"licensedesk/licensecore"

	"github.com/rs/zerolog"
)

// snapshot is what the running app leaves for `status --json`: the store
// is locked by the running app, so the command reads this file instead and
// evaluates it at the current time.
type snapshot struct {
	License    *licensecore.License `json:"licence,omitempty"`
	Policy     licensecore.Policy   `json:"policy"`
	TrustedAt  time.Time            `json:"trusted_at"`
	ClockError bool                 `json:"clock_error"`
}

const snapshotFile = "status.json"

func writeSnapshot(dir string, st licensecore.Status, p licensecore.Policy) error {
	raw, err := json.Marshal(snapshot{License: st.License, Policy: p, TrustedAt: st.At, ClockError: st.ClockError})
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, snapshotFile+".tmp")
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, snapshotFile))
}

func readSnapshot(dir string, now time.Time) (licensecore.Status, error) {
	raw, err := os.ReadFile(filepath.Join(dir, snapshotFile))
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
		if err := enc.Encode(st); err != nil {
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
	return st.Severity()
}

func currentStatus(cfg Config) (licensecore.Status, error) {
	store, err := licensecore.OpenStore(licensecore.StoreOptions{Dir: filepath.Join(cfg.DataDir, "store"), Logger: zerolog.Nop()})
	if errors.Is(err, licensecore.ErrAlreadyRunning) {
		return readSnapshot(cfg.DataDir, time.Now())
	}
	if err != nil {
		return licensecore.Status{}, err
	}
	defer store.Close()
	settings, err := loadSettings(store)
	if err != nil {
		return licensecore.Status{}, err
	}
	if cfg.AuthorityURL != "" {
		settings.AuthorityURL = cfg.AuthorityURL
	}
	mgr, err := licensecore.NewManager(licensecore.Options{Store: store, AuthorityURL: settings.AuthorityURL, Policy: policyOf(settings), Logger: zerolog.Nop()})
	if err != nil {
		return licensecore.Status{}, err
	}
	return mgr.Status(), nil
}
