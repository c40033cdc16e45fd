package authority

import (
	"strings"
	"testing"
)

func TestNormalizeUserCode(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"BCDF-GHJK", "BCDFGHJK", true},
		{"bcdf-ghjk", "BCDFGHJK", true},
		{" bcdf ghjk ", "BCDFGHJK", true},
		{"BC.DF_GH/JK", "BCDFGHJK", true},
		{"BCDFGHJK", "BCDFGHJK", true},
		{"BCDF-GHJ", "", false},       // too short
		{"BCDF-GHJKL", "", false},     // too long
		{"BCDF-GHJA", "", false},      // vowel
		{"BCDF-GHJ1", "", false},      // digit
		{"BCDF-GHJ\u212a", "", false}, // Kelvin sign, which ToUpper would turn into K
		{"BCDF-GHJſ", "", false},      // long s
		{"", "", false},
		{strings.Repeat("-", 60) + "BCDFGHJK", "", false}, // longer than a person types
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := normalizeUserCode(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("normalizeUserCode(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestNewUserCode(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		c, err := newUserCode()
		if err != nil {
			t.Fatal(err)
		}
		if n, ok := normalizeUserCode(formatUserCode(c)); !ok || n != c {
			t.Fatalf("%q does not survive format and normalize", c)
		}
		seen[c] = true
	}
	if len(seen) < 999 {
		t.Errorf("only %d distinct codes in 1000", len(seen))
	}
}

// FuzzNormalizeUserCode: whatever is typed, a valid result is 8 alphabet
// letters, is stable under formatting and case, and lowercase input means the
// same code.
func FuzzNormalizeUserCode(f *testing.F) {
	for _, s := range []string{"BCDF-GHJK", "bcdf ghjk", "BCDF-GHJA", "", "ſ", "\x00BCDFGHJK", "B-C-D-F-G-H-J-K"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, ok := normalizeUserCode(in)
		if !ok {
			if out != "" {
				t.Fatalf("invalid input %q gave %q", in, out)
			}
			return
		}
		if len(out) != userCodeLen {
			t.Fatalf("%q → %q", in, out)
		}
		for i := range len(out) {
			if !strings.ContainsRune(userCodeAlphabet, rune(out[i])) {
				t.Fatalf("%q → %q has %q", in, out, out[i])
			}
		}
		if again, ok := normalizeUserCode(formatUserCode(out)); !ok || again != out {
			t.Fatalf("not idempotent: %q → %q → %q", in, out, again)
		}
		if low, ok := normalizeUserCode(strings.ToLower(in)); !ok || low != out {
			t.Fatalf("case matters: %q → %q, lower → %q", in, out, low)
		}
	})
}

func TestPasswordHash(t *testing.T) {
	p := Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1}
	h, err := hashPassword("s3cret", p)
	if err != nil {
		t.Fatal(err)
	}
	for pw, want := range map[string]bool{"s3cret": true, "s3cret ": false, "": false} {
		if ok, err := checkPassword(h, pw); ok != want || err != nil {
			t.Errorf("checkPassword(%q) = %v, %v", pw, ok, err)
		}
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=64,t=1,p=1$AA$AA", "$argon2id$v=19$m=0,t=1,p=1$AA$AA", "$argon2id$v=19$m=64,t=1,p=1$!!$AA"} {
		if _, err := checkPassword(bad, "x"); err == nil {
			t.Errorf("accepted hash %q", bad)
		}
	}
}
