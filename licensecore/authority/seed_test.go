package authority_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"licensedesk/licensecore/authority"
	"licensedesk/licensecore/wire"
)

func TestSeedValidation(t *testing.T) {
	dev := func(id string, typ wire.LicenseType) authority.DeviceSeed {
		return authority.DeviceSeed{ServerID: id, License: &authority.LicenseSeed{ID: "L-" + id, Type: typ}}
	}
	org := func(id string, users []authority.UserSeed, devs ...authority.DeviceSeed) authority.OrganizationSeed {
		return authority.OrganizationSeed{ID: id, Users: users, Devices: devs}
	}
	u := []authority.UserSeed{{Username: "u", Password: "p"}}
	tests := []struct {
		name string
		seed authority.Seed
		ok   bool
	}{
		{"demo", authority.DemoSeed(authority.DeviceSeed{ServerID: "THIS-PC", Name: "This PC"}), true},
		{"user in two orgs", authority.Seed{Organizations: []authority.OrganizationSeed{org("a", u), org("b", u)}}, true},
		{"org without id", authority.Seed{Organizations: []authority.OrganizationSeed{org("", u)}}, false},
		{"duplicate org", authority.Seed{Organizations: []authority.OrganizationSeed{org("a", u), org("a", u)}}, false},
		{"duplicate device", authority.Seed{Organizations: []authority.OrganizationSeed{org("a", u, dev("D", "perpetual"), dev("D", "perpetual"))}}, false},
		{"bad license type", authority.Seed{Organizations: []authority.OrganizationSeed{org("a", u, dev("D", "forever"))}}, false},
		{"user without password", authority.Seed{Organizations: []authority.OrganizationSeed{org("a", []authority.UserSeed{{Username: "u"}})}}, false},
		{"bad password hash", authority.Seed{Organizations: []authority.OrganizationSeed{org("a", []authority.UserSeed{{Username: "u", PasswordHash: "md5:x"}})}}, false},
	}
	e := newEnv(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := e.srv.Seed(tt.seed)
			if tt.ok && err != nil {
				t.Fatal(err)
			}
			if !tt.ok && !errors.Is(err, authority.ErrInvalidSeed) {
				t.Fatalf("got %v, want ErrInvalidSeed", err)
			}
		})
	}
}

func TestLoadSeed(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "demo.json")
	if err := os.WriteFile(good, []byte(`{"clients":["pos-tool"],"organizations":[{"id":"o","name":"O",
		"users":[{"username":"u","password":"p"}],
		"devices":[{"server_id":"S","name":"Shop","features":["xms"],
		  "licence":{"id":"L","type":"subscription","capacity":3,"renewal_date":"2030-01-31T00:00:00Z"}}]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	seed, err := authority.LoadSeed(good)
	if err != nil {
		t.Fatal(err)
	}
	if l := seed.Organizations[0].Devices[0].License; l.RenewalDate.Year() != 2030 || l.Capacity != 3 {
		t.Errorf("license %+v", l)
	}
	typo := filepath.Join(dir, "typo.json")
	if err := os.WriteFile(typo, []byte(`{"organisations":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := authority.LoadSeed(typo); !errors.Is(err, authority.ErrInvalidSeed) {
		t.Errorf("unknown field: %v", err)
	}
}
