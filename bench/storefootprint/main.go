// Command storefootprint measures what the license store costs a desktop:
// the RSS it adds to the process and the disk it takes, with a license and
// 100 audit entries written. bench/licensecore-bench.sh runs it.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"licensedesk/licensecore"
	"licensedesk/licensecore/wire"
)

func main() {
	dir := flag.String("dir", "", "store directory (must not exist yet)")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "usage: storefootprint -dir DIR")
		os.Exit(2)
	}
	if err := run(*dir); err != nil {
		fmt.Fprintln(os.Stderr, "storefootprint:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	before, err := rssKiB()
	if err != nil {
		return err
	}
	s, err := licensecore.OpenStore(licensecore.StoreOptions{Dir: dir})
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	l := licensecore.License{
		ServerID: "server-0001", LicenseID: "lic-0001", Type: wire.Subscription,
		Customer: "Footprint Ltd", Features: []string{"pos", "loyalty"},
		RenewalDate: now.AddDate(1, 0, 0), TokenIssuedAt: now, TokenExpiry: now.Add(72 * time.Hour),
	}
	toks := licensecore.Tokens{License: strings.Repeat("t", 600), Refresh: strings.Repeat("r", 64)}
	if err := s.SaveLicense(l, toks, ""); err != nil {
		return err
	}
	for i := range 100 {
		if _, err := s.AppendAudit(licensecore.EventVerified, fmt.Sprintf("check %d", i), now); err != nil {
			return err
		}
	}
	after, err := rssKiB()
	if err != nil {
		return err
	}
	open, err := apparentSize(dir)
	if err != nil {
		return err
	}
	if err := s.Close(); err != nil {
		return err
	}
	closed, err := apparentSize(dir)
	if err != nil {
		return err
	}
	fmt.Printf("rss_before_kib %d\nrss_after_kib %d\nrss_delta_kib %d\n", before, after, after-before)
	fmt.Printf("disk_open_bytes %d\ndisk_closed_bytes %d\n", open, closed)
	return nil
}

// rssKiB reads VmRSS from /proc/self/status.
func rssKiB() (int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/self/status")
}

// apparentSize sums file sizes under dir, like du --apparent-size.
func apparentSize(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err == nil {
			total += fi.Size()
		}
		return err
	})
	return total, err
}
