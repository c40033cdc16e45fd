// Command authority runs License Desk's reference Authorization server.
//
//	authority [-addr 127.0.0.1:8080] [-data DIR] [-seed FILE] [-demo] [-tls-cert F -tls-key F] …
//	authority rotate-key -data DIR [-token-lifetime 72h]
//	authority revoke -data DIR -license ID
//	authority entitle -data DIR -issuer URL -request FILE [-out license.ent] [-device SERVERID]
//
// The subcommands open the data directory themselves, so stop the server
// first (Badger's directory lock says so if you forget).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"licensedesk/licensecore/authority"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
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
	data, logLevel string
	tokenLifetime  time.Duration
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.data, "data", "authority-data", "data directory (Badger)")
	fs.StringVar(&c.logLevel, "log-level", "info", "trace, debug, info, warn or error")
	fs.DurationVar(&c.tokenLifetime, "token-lifetime", 72*time.Hour, "license token lifetime (also how long a rotated-out key stays published)")
}

func (c *common) logger() (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(c.logLevel)
	if err != nil {
		return zerolog.Logger{}, err
	}
	return zerolog.New(os.Stderr).Level(lvl).With().Timestamp().Logger(), nil
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
	log, err := c.logger()
	if err != nil {
		return err
	}
	s, err := authority.New(authority.Options{DataDir: c.data, Issuer: "http://offline.invalid", Logger: log, TokenLifetime: c.tokenLifetime})
	if err != nil {
		return err
	}
	if err := fn(s, *license); err != nil {
		_ = s.Close()
		return err
	}
	return s.Close()
}

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
	s, err := authority.New(authority.Options{
		DataDir: c.data, Issuer: *issuer, Logger: log,
		TokenLifetime: c.tokenLifetime, DeviceCodeTTL: *codeTTL, PollInterval: *interval,
	})
	if err != nil {
		return err
	}
	defer s.Close()
	if err := seed(s, *seedFile, *demo, *issuer); err != nil {
		return err
	}

	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() {
		if *certFile != "" {
			errc <- srv.ServeTLS(ln, *certFile, *keyFile)
		} else {
			errc <- srv.Serve(ln)
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
