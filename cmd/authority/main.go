// Command authority runs License Desk's reference Authorization server.
//
//	authority [-addr 127.0.0.1:8080] [-data DIR] [-seed FILE] [-demo] [-tls-cert F -tls-key F] …
//	authority root init [-data DIR]
//	authority root show [-data DIR]
//	authority rotate-key -data DIR [-token-lifetime 72h]
//	authority revoke -data DIR -license ID
//	authority audit -data DIR             verify the audit log and print it as JSON lines
//	authority entitle -data DIR -issuer URL -request FILE [-out license.ent] [-device SERVERID]
//
// Secrets at rest. The data directory is encrypted with a 32-byte store key
// kept outside it: the file DIR.key (-key-file; created with mode 0600 on
// first start), or the environment variable LICENSEDESK_AUTHORITY_KEY
// (base64url, 32 bytes) when it is set. The root key, which signs the
// published key set, is the file DIR.root (-root-file), sealed with the
// same store key; `authority root init` creates it (it never overwrites
// one) and prints the public key and fingerprint to configure License Desk
// with, `authority root show` prints them again. A first start creates both
// files when they are missing. Keep DIR.key and DIR.root safe: without the
// key nothing opens; a lost root means every installation must pin a new
// one.
//
// The subcommands open the data directory themselves, so stop the server
// first (Badger's directory lock says so if you forget); root init and
// root show read only the key files.
package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"licensedesk/licensecore/authority"
	"licensedesk/licensecore/wire"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return // the usage was printed
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "authority:") {
			msg = "authority: " + msg
		}
		fmt.Fprintln(os.Stderr, msg)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "rotate-key":
			return offline(args[0], args[1:], func(s *authority.Server, _ string) error { return s.RotateKey() })
		case "entitle":
			return entitle(args[1:], os.Stdout)
		case "root":
			return root(args[1:], os.Stdout)
		case "audit":
			return offline(args[0], args[1:], func(s *authority.Server, _ string) error { return s.ExportAudit(os.Stdout) })
		case "revoke":
			return offline(args[0], args[1:], func(s *authority.Server, id string) error {
				if id == "" {
					return errors.New("revoke needs -license ID")
				}
				return s.RevokeLicense(id)
			})
		}
	}
	return serve(args)
}

// common are the flags every mode shares.
type common struct {
	data, keyFile, rootFile, logLevel string
	tokenLifetime                     time.Duration
}

func (c *common) register(fs *flag.FlagSet) {
	c.registerFiles(fs)
	fs.DurationVar(&c.tokenLifetime, "token-lifetime", 72*time.Hour,
		"license token lifetime (a rotated-out key stays published for the longer of this and the 30-day offline window, plus a day)")
}

// registerFiles adds the flags of the data directory and its secrets.
func (c *common) registerFiles(fs *flag.FlagSet) {
	fs.StringVar(&c.data, "data", "authority-data", "data directory (Badger, encrypted with the store key)")
	fs.StringVar(&c.keyFile, "key-file", "", "store key file, outside the data directory (default DIR.key; "+authority.KeyEnv+" overrides it)")
	fs.StringVar(&c.rootFile, "root-file", "", "root key file, sealed with the store key (default DIR.root)")
	fs.StringVar(&c.logLevel, "log-level", "info", "trace, debug, info, warn or error")
}

func (c *common) logger() (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(c.logLevel)
	if err != nil {
		return zerolog.Logger{}, err
	}
	return zerolog.New(os.Stderr).Level(lvl).With().Timestamp().Logger(), nil
}

// options are the authority's Options these flags set, for issuer.
func (c *common) options(issuer string) (authority.Options, error) {
	log, err := c.logger()
	if err != nil {
		return authority.Options{}, err
	}
	return authority.Options{DataDir: c.data, KeyFile: c.keyFile, RootKeyFile: c.rootFile, Issuer: issuer, Logger: log,
		TokenLifetime: c.tokenLifetime}, nil
}

// root is `authority root init` and `authority root show`: the root key
// License Desk is configured with.
func root(args []string, stdout io.Writer) error {
	if len(args) == 0 || (args[0] != "init" && args[0] != "show") {
		return errors.New("use `authority root init` to create the root key or `authority root show` to print it")
	}
	fs := flag.NewFlagSet("root "+args[0], flag.ContinueOnError)
	var c common
	c.registerFiles(fs)
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	opts, err := c.options("")
	if err != nil {
		return err
	}
	var pub ed25519.PublicKey
	if args[0] == "init" {
		pub, err = authority.InitRoot(opts)
	} else {
		pub, err = authority.ReadRoot(opts)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "root key:    %s\nfingerprint: %s\n", wire.EncodeRootKey(pub), wire.Fingerprint(pub))
	return nil
}

// offline runs a maintenance subcommand against the data directory.
func offline(name string, args []string, fn func(*authority.Server, string) error) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	var c common
	c.register(fs)
	license := fs.String("license", "", "license ID (revoke)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	opts, err := c.options("http://offline.invalid")
	if err != nil {
		return err
	}
	s, err := authority.New(opts)
	if err != nil {
		return err
	}
	if err := fn(s, *license); err != nil {
		_ = s.Close()
		return err
	}
	return s.Close()
}

const usage = `Usage:
  authority [flags]                     run the Authorization server
  authority root init [-data DIR]       create the root key; print its public key and fingerprint
  authority root show [-data DIR]       print them again
  authority rotate-key -data DIR        start signing with a new key
  authority revoke -data DIR -license ID
  authority audit -data DIR             verify the audit log; print it as JSON lines
  authority entitle -data DIR -issuer URL -request FILE [-out license.ent] [-device SERVERID]

The data directory is encrypted with the store key: the file DIR.key (-key-file,
created with mode 0600 on first start), or ` + authority.KeyEnv + ` (base64url,
32 bytes) when set. The root key file DIR.root (-root-file) is sealed with it.

Flags of the server:
`

func serve(args []string) error {
	fs := flag.NewFlagSet("authority", flag.ContinueOnError)
	var c common
	c.register(fs)
	addr := fs.String("addr", "127.0.0.1:8080", "listen address")
	issuer := fs.String("issuer", "", "public base URL (default: derived from -addr)")
	seedFile := fs.String("seed", "", "seed JSON file to load on start")
	demo := fs.Bool("demo", false, "seed a demo organization, user and two devices and print the login")
	certFile := fs.String("tls-cert", "", "TLS certificate file (with -tls-key)")
	keyFile := fs.String("tls-key", "", "TLS key file")
	codeTTL := fs.Duration("code-ttl", 10*time.Minute, "device code lifetime (expires_in)")
	interval := fs.Duration("poll-interval", 5*time.Second, "minimum polling interval (whole seconds)")
	connsPerIP := fs.Int("max-conns-per-ip", authority.DefaultMaxConnsPerIP, "open connections allowed from one client address (raise it for many stores behind one NAT)")
	pprofAddr := fs.String("pprof", "", "serve Go's profiles (net/http/pprof) and scheduling delays (/debug/sched) at this loopback address, e.g. 127.0.0.1:6060")
	contention := fs.Bool("pprof-contention", false, "with -pprof: also record the block and mutex profiles (every blocking event: slower)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if (*certFile == "") != (*keyFile == "") {
		return errors.New("-tls-cert and -tls-key go together")
	}
	log, err := c.logger()
	if err != nil {
		return err
	}
	if *pprofAddr != "" {
		stopProfiles, err := serveProfiles(*pprofAddr, *contention, log)
		if err != nil {
			return err
		}
		defer stopProfiles()
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	if *issuer == "" {
		scheme := "http"
		if *certFile != "" {
			scheme = "https"
		}
		*issuer = scheme + "://" + ln.Addr().String()
	}
	opts, err := c.options(*issuer)
	if err != nil {
		return err
	}
	opts.DeviceCodeTTL, opts.PollInterval, opts.MaxConnsPerIP = *codeTTL, *interval, *connsPerIP
	s, err := authority.New(opts)
	if err != nil {
		return err
	}
	defer s.Close()
	log.Info().Str("root", wire.EncodeRootKey(s.RootPublicKey())).Str("fingerprint", wire.Fingerprint(s.RootPublicKey())).
		Msg("root of trust: configure License Desk with this root key")
	if err := seed(s, *seedFile, *demo, *issuer); err != nil {
		return err
	}

	// The authority's one server configuration, the same the app's demo
	// mode embeds.
	srv := s.HTTPServer(ln.Addr().String())
	gated := s.Listener(ln)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() {
		if *certFile != "" {
			errc <- srv.ServeTLS(gated, *certFile, *keyFile)
		} else {
			errc <- srv.Serve(gated)
		}
	}()
	log.Info().Str("issuer", *issuer).Str("addr", ln.Addr().String()).Msg("authority listening")
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

func seed(s *authority.Server, file string, demo bool, issuer string) error {
	if file != "" {
		sd, err := authority.LoadSeed(file)
		if err != nil {
			return err
		}
		if err := s.Seed(sd); err != nil {
			return err
		}
	}
	if demo {
		if err := s.Seed(authority.DemoSeed()); err != nil {
			return err
		}
		fmt.Printf("Demo authority at %s/login — user %q, password %q\n", issuer, authority.DemoUsername, authority.DemoPassword)
	}
	return nil
}
