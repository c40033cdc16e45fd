package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"licensedesk/licensecore/authority"
	"licensedesk/licensecore/wire"
)

// entitle answers a license request file from a PC without a browser with
// a license file (.ent), as the /entitle page does.
//
// -issuer must be the authority URL License Desk is configured with: it is
// the license's iss, which the app checks. -device may be left out when the
// request's install code is a seeded device's.
func entitle(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("entitle", flag.ContinueOnError)
	var c common
	c.register(fs)
	issuer := fs.String("issuer", "", "the authority's public base URL, as configured in License Desk (required)")
	request := fs.String("request", "", "license request file saved by License Desk (required)")
	out := fs.String("out", "license.ent", "license file to write")
	device := fs.String("device", "", "Server ID of the device (default: the device with the request's install code)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *issuer == "" || *request == "" {
		return errors.New("entitle needs -issuer URL and -request FILE")
	}
	f, err := os.Open(*request)
	if err != nil {
		return err
	}
	data, err := io.ReadAll(io.LimitReader(f, wire.MaxRequestFile+1))
	f.Close()
	if err != nil {
		return err
	}
	opts, err := c.options(*issuer)
	if err != nil {
		return err
	}
	s, err := authority.New(opts)
	if err != nil {
		return err
	}
	file, err := s.Entitle(data, *device)
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, file, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: import it in License Desk with Import license file\n", *out)
	return nil
}
