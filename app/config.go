package app

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/rs/zerolog"

	"licensedesk/licensecore"
	"licensedesk/screens/plain"
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
	// notifications); the end-to-end test shortens it (env
	// LICENSEDESK_STATUS_TICK, not a flag: nobody else needs it).
	StatusTick time.Duration
	// Socket is the agent's local API socket: -socket, LICENSEDESK_SOCKET,
	// else agent.sock in the data directory.
	Socket string
	// Command is the subcommand ("" opens the window) and Args what
	// follows it that is not a flag (e.g. the token of `verify`).
	Command string
	Args    []string
	// User is the System Administrator for CLI actions that need one
	// (the password is read from the terminal or LICENSEDESK_ADMIN_PASSWORD).
	User string
	// Wait bounds `token -wait` (long poll for a newer token).
	Wait time.Duration
	// After is the token id `token -after` waits to see replaced.
	After string
}

// commands are the subcommands; flags may come before or after them.
var commands = map[string]string{
	"gui":      "open the window (the default)",
	"agent":    "run the licensing agent: the store, the refresher and the local API",
	"tray":     "run the tray indicator and notifications",
	"status":   "print the license status (-json for monitoring)",
	"token":    "print the current license token (-json for its details, -after ID to wait for a newer one)",
	"login":    "get a license in the terminal (device code, QR and wait)",
	"verify":   "verify a license token given as argument or on standard input",
	"refresh":  "refresh the license token now",
	"check":    "verify the license with the Authorization server now",
	"download": "download the license again (new features, renewal)",
	"remove":   "remove the license from this server (administrator)",
	"stop":     "stop the agent",
	"service":  "Windows: install, uninstall, start or stop the agent service",
}

// parseFlags reads the command line: one subcommand anywhere, flags before
// and after it, other words are the command's arguments.
func parseFlags(name string, args []string, stderr io.Writer) (Config, error) {
	var c Config
	fs := newFlagSet(name, &c, stderr)
	var level string
	fs.StringVar(&level, "log-level", "info", "log level: trace, debug, info, warn, error")
	for {
		if err := fs.Parse(args); err != nil {
			return c, err
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		if _, ok := commands[args[0]]; ok && c.Command == "" && len(c.Args) == 0 {
			c.Command = args[0]
		} else {
			c.Args = append(c.Args, args[0])
		}
		args = args[1:]
	}
	if c.Command == "gui" {
		c.Command = ""
	}
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		return c, fmt.Errorf("unknown log level %q", level)
	}
	c.LogLevel = lvl
	c.StatusTick = time.Minute
	if v := os.Getenv("LICENSEDESK_STATUS_TICK"); v != "" {
		if c.StatusTick, err = time.ParseDuration(v); err != nil || c.StatusTick <= 0 {
			return c, fmt.Errorf("LICENSEDESK_STATUS_TICK must be a positive duration, not %q", v)
		}
	}
	if c.DataDir == "" {
		return c, errors.New("no data directory: set -data or LICENSEDESK_HOME")
	}
	if c.Socket == "" {
		c.Socket = filepath.Join(c.DataDir, agentSocket)
	}
	return c, nil
}

// newFlagSet declares the flags every command accepts.
func newFlagSet(name string, c *Config, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { usage(fs, name, stderr) }
	def := defaultDataDir(false)
	if env := os.Getenv("LICENSEDESK_HOME"); env != "" {
		def = env
	}
	fs.StringVar(&c.DataDir, "data", def, "directory for the license store and log (env LICENSEDESK_HOME)")
	fs.StringVar(&c.AuthorityURL, "authority", "", "Authorization server URL (default: saved setting, else "+DefaultAuthorityURL+")")
	fs.BoolVar(&c.Demo, "demo", false, "start the reference Authorization server on loopback with a demo organization")
	fs.StringVar(&c.DemoAddr, "demo-addr", "127.0.0.1:8765", "listen address of the demo Authorization server")
	fs.BoolVar(&c.StartMinimized, "minimized", false, "start hidden in the system tray")
	fs.BoolVar(&c.JSON, "json", false, "status, token, verify: print JSON")
	host, _ := os.Hostname()
	fs.StringVar(&c.DeviceName, "device-name", host, "this server's name as shown to the Authorization server")
	fs.StringVar(&c.RootKey, "root-key", os.Getenv("LICENSEDESK_ROOT_KEY"), "the Authorization server's root public key, ed25519:… (env LICENSEDESK_ROOT_KEY; pinned at the first start)")
	fs.StringVar(&c.Socket, "socket", os.Getenv("LICENSEDESK_SOCKET"), "the agent's local API socket (env LICENSEDESK_SOCKET; default agent.sock in the data directory)")
	fs.StringVar(&c.User, "user", "", "remove: the System Administrator's user name")
	fs.StringVar(&c.After, "after", "", "token: wait until the token with this id (jti) is replaced")
	fs.DurationVar(&c.Wait, "wait", time.Minute, "token -after: how long to wait at most")
	return fs
}

func usage(fs *flag.FlagSet, name string, w io.Writer) {
	fmt.Fprintf(w, "Usage: %s [command] [flags]\n\nCommands:\n", name)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, commands[n])
	}
	fmt.Fprintln(w, "\nFlags:")
	fs.PrintDefaults()
}

// Setting names in the store.
const (
	setAuthority      = "authority_url"
	setRenewalDays    = "renewal_window_days"
	setTokenWarnHours = "token_warn_hours"
	setTokenWarnPct   = "token_warn_percent"
	setStartMinimized = "start_minimized"
)

func defaultSettings() plain.Settings {
	p := licensecore.DefaultPolicy()
	return plain.Settings{
		AuthorityURL:      DefaultAuthorityURL,
		RenewalWindowDays: int(p.RenewalWindow / (24 * time.Hour)),
		TokenWarnHours:    int(p.TokenWarnBefore / time.Hour),
		TokenWarnPercent:  int(p.TokenWarnFraction * 100),
	}
}

func loadSettings(s *licensecore.Store) (plain.Settings, error) {
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

func saveSettings(s *licensecore.Store, v plain.Settings) error {
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
func policyOf(v plain.Settings) licensecore.Policy {
	return v.Policy(licensecore.DefaultPolicy())
}
