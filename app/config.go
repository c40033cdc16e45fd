package app

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/rs/zerolog"

	"licensedesk/licensecore"
	"licensedesk/screens"
)

// DefaultAuthorityURL is used when neither a flag nor a saved setting names
// the Authorization server.
const DefaultAuthorityURL = "http://127.0.0.1:8765"

// Config is everything that comes from flags; settings saved in the store
// fill what flags leave empty.
type Config struct {
	DataDir        string
	AuthorityURL   string
	Demo           bool
	DemoAddr       string
	LogLevel       zerolog.Level
	StartMinimized bool
	JSON           bool // status subcommand
	DeviceName     string
	// RootKey is the Authorization server's root public key
	// (ed25519:…), from -root-key or LICENSEDESK_ROOT_KEY: the installer's
	// configuration. Pinned at the first start; see licensecore.Options.Root.
	RootKey string
	// StatusTick is how often the status is re-evaluated (countdowns,
	// notifications); the end-to-end test shortens it.
	StatusTick time.Duration
}

func parseFlags(name string, args []string, stderr io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	def, _ := os.UserConfigDir()
	if env := os.Getenv("LICENSEDESK_HOME"); env != "" {
		def = env
	} else if def != "" {
		def = filepath.Join(def, "licensedesk")
	}
	fs.StringVar(&c.DataDir, "data", def, "directory for the license store and log (env LICENSEDESK_HOME)")
	fs.StringVar(&c.AuthorityURL, "authority", "", "Authorization server URL (default: saved setting, else "+DefaultAuthorityURL+")")
	fs.BoolVar(&c.Demo, "demo", false, "start the reference Authorization server on loopback with a demo organization")
	fs.StringVar(&c.DemoAddr, "demo-addr", "127.0.0.1:8765", "listen address of the demo Authorization server")
	level := fs.String("log-level", "info", "log level: trace, debug, info, warn, error")
	fs.BoolVar(&c.StartMinimized, "minimized", false, "start hidden in the system tray")
	fs.BoolVar(&c.JSON, "json", false, "status: print JSON")
	host, _ := os.Hostname()
	fs.StringVar(&c.DeviceName, "device-name", host, "this server's name as shown to the Authorization server")
	fs.StringVar(&c.RootKey, "root-key", os.Getenv("LICENSEDESK_ROOT_KEY"), "the Authorization server's root public key, ed25519:… (env LICENSEDESK_ROOT_KEY; pinned at the first start)")
	fs.DurationVar(&c.StatusTick, "status-tick", time.Minute, "how often the license status is re-evaluated (for tests)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	lvl, err := zerolog.ParseLevel(*level)
	if err != nil || *level == "" {
		return c, fmt.Errorf("unknown log level %q", *level)
	}
	c.LogLevel = lvl
	if c.StatusTick <= 0 {
		return c, fmt.Errorf("-status-tick must be positive, not %s", c.StatusTick)
	}
	if c.DataDir == "" {
		return c, errors.New("no data directory: set -data or LICENSEDESK_HOME")
	}
	return c, nil
}

// Setting names in the store.
const (
	setAuthority      = "authority_url"
	setRenewalDays    = "renewal_window_days"
	setTokenWarnHours = "token_warn_hours"
	setTokenWarnPct   = "token_warn_percent"
	setStartMinimized = "start_minimized"
)

func defaultSettings() screens.Settings {
	p := licensecore.DefaultPolicy()
	return screens.Settings{
		AuthorityURL:      DefaultAuthorityURL,
		RenewalWindowDays: int(p.RenewalWindow / (24 * time.Hour)),
		TokenWarnHours:    int(p.TokenWarnBefore / time.Hour),
		TokenWarnPercent:  int(p.TokenWarnFraction * 100),
	}
}

func loadSettings(s *licensecore.Store) (screens.Settings, error) {
	out := defaultSettings()
	str := func(name string, dst *string) error {
		v, err := s.Setting(name)
		if err == nil && v != "" {
			*dst = v
		}
		if errors.Is(err, licensecore.ErrNotStored) {
			return nil
		}
		return err
	}
	num := func(name string, dst *int) error {
		var v string
		if err := str(name, &v); err != nil || v == "" {
			return err
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("setting %s is %q, not a number", name, v)
		}
		*dst = n
		return nil
	}
	var minimized string
	for _, err := range []error{
		str(setAuthority, &out.AuthorityURL),
		num(setRenewalDays, &out.RenewalWindowDays),
		num(setTokenWarnHours, &out.TokenWarnHours),
		num(setTokenWarnPct, &out.TokenWarnPercent),
		str(setStartMinimized, &minimized),
	} {
		if err != nil {
			return out, err
		}
	}
	out.StartMinimized = minimized == "true"
	return out, nil
}

func saveSettings(s *licensecore.Store, v screens.Settings) error {
	for name, val := range map[string]string{
		setAuthority:      v.AuthorityURL,
		setRenewalDays:    strconv.Itoa(v.RenewalWindowDays),
		setTokenWarnHours: strconv.Itoa(v.TokenWarnHours),
		setTokenWarnPct:   strconv.Itoa(v.TokenWarnPercent),
		setStartMinimized: strconv.FormatBool(v.StartMinimized),
	} {
		if err := s.SetSetting(name, val); err != nil {
			return err
		}
	}
	return nil
}

// policyOf turns settings into thresholds.
func policyOf(v screens.Settings) licensecore.Policy {
	return v.Policy(licensecore.DefaultPolicy())
}
