package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDefaultDataDir(t *testing.T) {
	user, service := defaultDataDir(false), defaultDataDir(true)
	for _, d := range []string{user, service} {
		if !filepath.IsAbs(d) {
			t.Errorf("default data directory %q is not absolute", d)
		}
		if !strings.EqualFold(filepath.Base(d), "licensedesk") {
			t.Errorf("default data directory %q is not License Desk's own", d)
		}
	}
	if user == service {
		t.Errorf("the user's and the service's data directories are both %q", user)
	}
}

func TestPickProgram(t *testing.T) {
	dir := t.TempDir()
	full := filepath.Join(dir, windowProgram)
	headless := filepath.Join(dir, headlessProgram)
	if err := os.WriteFile(full, []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	// Alone, the program runs every process itself.
	for _, cmd := range []string{"agent", "tray", "gui"} {
		if got := pickProgram(full, cmd, true); got != full {
			t.Errorf("alone, %s runs from %s", cmd, got)
		}
	}
	if err := os.WriteFile(headless, []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		self, cmd string
		window    bool
		want      string
	}{
		{full, "agent", true, headless},
		{full, "tray", true, headless},
		{full, "gui", true, full},
		{headless, "agent", false, headless},
		{headless, "gui", false, full},
	} {
		if got := pickProgram(tc.self, tc.cmd, tc.window); got != tc.want {
			t.Errorf("%s from %s: %s, want %s", tc.cmd, filepath.Base(tc.self), got, tc.want)
		}
	}
	// A directory of that name is not a program.
	other := t.TempDir()
	self := filepath.Join(other, windowProgram)
	if err := os.Mkdir(filepath.Join(other, headlessProgram), 0o755); err != nil {
		t.Fatal(err)
	}
	if got := pickProgram(self, "agent", true); got != self {
		t.Errorf("a directory was taken for the headless program: %s", got)
	}
}
