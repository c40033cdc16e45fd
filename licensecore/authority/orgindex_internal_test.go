package authority

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"licensedesk/licensecore/internal/dbopt"
	"licensedesk/licensecore/wire"

	"github.com/dgraph-io/badger/v4"
	"github.com/rs/zerolog"
)

func indexTestOptions(dir string) Options {
	return Options{DataDir: filepath.Join(dir, "data"), Issuer: "http://127.0.0.1:1", Logger: zerolog.Nop(),
		Argon2: Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1}}
}

// orgSeed is a seed of organizations with n devices each, named
// <org>-<i>.
func orgSeed(n int, orgs ...string) Seed {
	var seed Seed
	for _, o := range orgs {
		org := OrganizationSeed{ID: o, Name: o, Users: []UserSeed{{Username: "u-" + o, Password: "pw-" + o}}}
		for i := range n {
			org.Devices = append(org.Devices, DeviceSeed{ServerID: fmt.Sprintf("%s-%05d", o, i), Name: "Till"})
		}
		seed.Organizations = append(seed.Organizations, org)
	}
	return seed
}

func listed(t testing.TB, s *Server, org string) []string {
	t.Helper()
	var ids []string
	err := s.db.View(func(txn *badger.Txn) error {
		devices, err := orgDeviceList(txn, org)
		for _, d := range devices {
			if d.OrgID != org {
				t.Errorf("device %s of %s listed for %s", d.ServerID, d.OrgID, org)
			}
			ids = append(ids, d.ServerID)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// TestOrgDeviceIndex: a device page lists exactly its organization's
// devices, in Server ID order; a device seeded again into another
// organization moves; and a store written before the index had it gets
// it at its next start.
func TestOrgDeviceIndex(t *testing.T) {
	dir := t.TempDir()
	s, err := New(indexTestOptions(dir))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Seed(orgSeed(3, "north", "south")); err != nil {
		t.Fatal(err)
	}
	want := []string{"north-00000", "north-00001", "north-00002"}
	if got := listed(t, s, "north"); !slices.Equal(got, want) {
		t.Fatalf("north lists %v, want %v", got, want)
	}
	// Moved: north-00001 is now south's.
	move := orgSeed(0, "south")
	move.Organizations[0].Devices = []DeviceSeed{{ServerID: "north-00001", Name: "Till"}}
	if err := s.Seed(move); err != nil {
		t.Fatal(err)
	}
	if got := listed(t, s, "north"); !slices.Equal(got, []string{"north-00000", "north-00002"}) {
		t.Fatalf("north after the move lists %v", got)
	}
	if got := listed(t, s, "south"); !slices.Contains(got, "north-00001") || len(got) != 4 {
		t.Fatalf("south after the move lists %v", got)
	}
	// A store from before the index: no index entries, no marker.
	err = s.db.Update(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(pOrgDevice)})
		var keys [][]byte
		for it.Rewind(); it.Valid(); it.Next() {
			keys = append(keys, it.Item().KeyCopy(nil))
		}
		it.Close()
		for _, k := range append(keys, []byte(kOrgDeviceIndex)) {
			if err := txn.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := listed(t, s, "north"); len(got) != 0 {
		t.Fatalf("the index was not emptied: %v", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = New(indexTestOptions(dir)); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := listed(t, s, "north"); !slices.Equal(got, []string{"north-00000", "north-00002"}) {
		t.Fatalf("north after rebuilding the index lists %v", got)
	}
	if got := listed(t, s, "south"); len(got) != 4 {
		t.Fatalf("south after rebuilding the index lists %v", got)
	}
}

// TestSeedLargeFleet: a seed of 30,000 devices with their licenses in
// 3,000 organizations — more than one Badger transaction holds ("Txn is
// too big") — is written whole, index included.
func TestSeedLargeFleet(t *testing.T) {
	s, err := New(indexTestOptions(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var orgs []string
	for i := range 3000 {
		orgs = append(orgs, fmt.Sprintf("chain-%04d", i))
	}
	seed := orgSeed(10, orgs...)
	for i := range seed.Organizations {
		for j := range seed.Organizations[i].Devices {
			d := &seed.Organizations[i].Devices[j]
			d.License = &LicenseSeed{ID: "LIC-" + d.ServerID, Type: wire.Perpetual, Customer: seed.Organizations[i].Name}
		}
	}
	if err := s.Seed(seed); err != nil {
		t.Fatal(err)
	}
	devices, licenses := 0, 0
	err = s.db.View(func(txn *badger.Txn) error {
		if err := scanJSON(txn, pDevice, func(*deviceRecord) error { devices++; return nil }); err != nil {
			return err
		}
		return scanJSON(txn, pLicense, func(*licenseRecord) error { licenses++; return nil })
	})
	if err != nil || devices != 30000 || licenses != 30000 {
		t.Fatalf("%d devices and %d licenses stored (%v), want 30,000 of each", devices, licenses, err)
	}
	for _, org := range []string{"chain-0000", "chain-1500", "chain-2999"} {
		if got := listed(t, s, org); len(got) != 10 {
			t.Fatalf("%s lists %d devices", org, len(got))
		}
	}
}

// TestIndexOrgDevicesLargeStore: the index is built at start for a store
// written before it, however many devices that store holds — here 20,000
// in a store with small transactions (the app's 8 MiB memtables), more
// index entries than one transaction takes, which stopped the authority
// from starting ("Txn is too big") when the index was built in one.
func TestIndexOrgDevicesLargeStore(t *testing.T) {
	db, err := badger.Open(dbopt.Options(t.TempDir(), zerolog.Nop()))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const orgs, perOrg = 2000, 10
	var writes []func(*badger.Txn) error
	for i := range orgs * perOrg {
		d := deviceRecord{DeviceSeed: DeviceSeed{ServerID: fmt.Sprintf("POS-%05d", i), Name: "Till"}, OrgID: fmt.Sprintf("org-%04d", i/perOrg)}
		writes = append(writes, func(txn *badger.Txn) error { return setJSON(txn, pDevice+d.ServerID, d, 0) })
	}
	if err := updateInBatches(db, writes); err != nil {
		t.Fatal(err)
	}
	if err := indexOrgDevices(db); err != nil {
		t.Fatalf("building the index of %d devices: %v", orgs*perOrg, err)
	}
	err = db.View(func(txn *badger.Txn) error {
		if _, err := txn.Get([]byte(kOrgDeviceIndex)); err != nil {
			return fmt.Errorf("index marker: %w", err)
		}
		for _, org := range []string{"org-0000", "org-1000", "org-1999"} {
			devices, err := orgDeviceList(txn, org)
			if err != nil {
				return err
			}
			if len(devices) != perOrg {
				return fmt.Errorf("%s lists %d devices, want %d", org, len(devices), perOrg)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// BenchmarkOrgDevices reads a 10-device organization's devices (what
// every device page does) in an authority with no other devices (the
// reference) and with 10,000 devices of 1,000 other organizations: the
// cost must not grow with the fleet.
func BenchmarkOrgDevices(b *testing.B) {
	for _, others := range []int{0, 1000} {
		b.Run(fmt.Sprintf("other_devices=%d", others*10), func(b *testing.B) {
			s, err := New(indexTestOptions(b.TempDir()))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			orgs := []string{"mine"}
			for i := range others {
				orgs = append(orgs, fmt.Sprintf("org-%04d", i))
			}
			if err := s.Seed(orgSeed(10, orgs...)); err != nil {
				b.Fatal(err)
			}
			b.Run("index", func(b *testing.B) {
				for b.Loop() {
					if n := len(listed(b, s, "mine")); n != 10 {
						b.Fatalf("%d devices listed", n)
					}
				}
			})
			// What the device pages did before the index: read every
			// device and keep the organization's.
			b.Run("scan_all", func(b *testing.B) {
				for b.Loop() {
					n := 0
					err := s.db.View(func(txn *badger.Txn) error {
						return scanJSON(txn, pDevice, func(d *deviceRecord) error {
							if d.OrgID == "mine" {
								n++
							}
							return nil
						})
					})
					if err != nil || n != 10 {
						b.Fatalf("%d devices, %v", n, err)
					}
				}
			})
		})
	}
}
