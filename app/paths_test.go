package app

import (
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
