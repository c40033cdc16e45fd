package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"licensedesk/licensecore/authority"
)

// TestReadmeSeedExample: the seed file the README shows loads (unknown
// fields are refused) and seeds an authority. It once spelled the
// license field the way the loader refuses.
func TestReadmeSeedExample(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "\nSeed file")
	if !ok {
		t.Fatal("README has no seed file example")
	}
	_, after, ok = strings.Cut(after, "```json\n")
	example, _, closed := strings.Cut(after, "```")
	if !ok || !closed {
		t.Fatal("README's seed file example is not a json code block")
	}
	path := filepath.Join(t.TempDir(), "seed.json")
	if err := os.WriteFile(path, []byte(example), 0o600); err != nil {
		t.Fatal(err)
	}
	seed, err := authority.LoadSeed(path)
	if err != nil {
		t.Fatalf("the README's seed file: %v", err)
	}
	if len(seed.Organizations) == 0 || len(seed.Organizations[0].Devices) == 0 || seed.Organizations[0].Devices[0].License == nil {
		t.Fatalf("the README's seed file lost its organization, device or license: %+v", seed)
	}
	s, err := authority.New(authority.Options{DataDir: filepath.Join(t.TempDir(), "data"), Issuer: "http://127.0.0.1:1",
		Logger: zerolog.Nop(), Argon2: authority.Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Seed(seed); err != nil {
		t.Fatalf("seeding the README's example: %v", err)
	}
}
