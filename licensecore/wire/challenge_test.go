package wire

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"
)

// fixedChallenge is a challenge with a known nonce.
func fixedChallenge(t testing.TB) Challenge {
	t.Helper()
	ch, err := NewChallenge(bytes.NewReader([]byte{1, 2, 3, 4, 5, 6, 7}), "BCDF-GHJK-LMNP-QRST", t0)
	mustNil(t, err)
	return ch
}

func TestDammQuasigroup(t *testing.T) {
	n := len(CodeAlphabet)
	for x := 0; x < n; x++ {
		row, col := map[int]bool{}, map[int]bool{}
		for y := 0; y < n; y++ {
			row[dammOp(x, y)], col[dammOp(y, x)] = true, true
		}
		if len(row) != n || len(col) != n {
			t.Fatalf("row/column %d is not a permutation", x)
		}
	}
	for c := 0; c < n; c++ {
		for x := 0; x < n; x++ {
			for y := 0; y < n; y++ {
				if x != y && dammOp(dammOp(c, x), y) == dammOp(dammOp(c, y), x) {
					t.Fatalf("not anti-symmetric: c=%d x=%d y=%d", c, x, y)
				}
			}
		}
	}
}

// mutations returns every code that differs from s by one substituted
// character or one swap of adjacent (non-separator) characters.
func mutations(s string) (subs, swaps []string) {
	for i := 0; i < len(s); i++ {
		if s[i] == '-' {
			continue
		}
		for _, c := range []byte(CodeAlphabet) {
			if c != s[i] {
				subs = append(subs, s[:i]+string(c)+s[i+1:])
			}
		}
	}
	plain := strings.ReplaceAll(s, "-", "")
	for i := 0; i+1 < len(plain); i++ {
		if plain[i] != plain[i+1] {
			b := []byte(plain)
			b[i], b[i+1] = b[i+1], b[i]
			swaps = append(swaps, string(b))
		}
	}
	return subs, swaps
}

func TestChallengeCatchesEveryTypo(t *testing.T) {
	for seed := byte(0); seed < 8; seed++ {
		ch, err := NewChallenge(bytes.NewReader(bytes.Repeat([]byte{seed * 37}, 7)), "IC-"+string('A'+seed), t0)
		mustNil(t, err)
		code := ch.String()
		if len(code) != 21 || strings.Count(code, "-") != 4 {
			t.Fatalf("challenge %q is not XXXX-XXXX-XXXX-XXXX-C", code)
		}
		back, err := ParseChallenge(strings.ToLower(strings.ReplaceAll(code, "-", " ")))
		if err != nil || back.Nonce != ch.Nonce || back.Binding != ch.Binding {
			t.Fatalf("round trip %q: %+v, %v", code, back, err)
		}
		subs, swaps := mutations(code)
		for _, m := range append(subs, swaps...) {
			if _, err := ParseChallenge(m); !errors.Is(err, ErrCodeTypo) {
				t.Fatalf("%q (from %q) was not caught: %v", m, code, err)
			}
		}
	}
}

func TestParseChallengeRefusals(t *testing.T) {
	good := fixedChallenge(t).String()
	cases := []struct {
		name, in string
		want     error
		group    int
	}{
		{"empty", "", ErrCodeTypo, 0},
		{"one short", good[:len(good)-1], ErrCodeTypo, 0},
		{"vowel", "A" + good[1:], ErrCodeTypo, 1},
		{"bad char in group 3", good[:10] + "0" + good[11:], ErrCodeTypo, 3},
		{"huge", strings.Repeat("B", MaxCodeInput+1), ErrCodeTypo, 0},
		{"checks out but too big", "9999-9999-9999-9999-" + string(CodeAlphabet[dammCheck(0, []int{27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27})]), ErrCodeInvalid, 0},
		{"checks out but version 0", "BBBB-BBBB-BBBB-BBBB-B", ErrCodeInvalid, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseChallenge(tc.in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			var ce *CodeError
			if errors.As(err, &ce) && ce.Group != tc.group {
				t.Fatalf("group %d, want %d (%v)", ce.Group, tc.group, err)
			}
		})
	}
}

func testEntitlement() ResponseEntitlement {
	return ResponseEntitlement{
		IssuedAt: t0, Capacity: 12, Users: 40,
		RenewalDate: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Features: []string{"xms", "reports"},
	}
}

func TestResponseRoundTripAndBinding(t *testing.T) {
	ch := fixedChallenge(t)
	keys := map[string]ed25519.PublicKey{keyA.kid: keyA.pub}
	code, err := SignResponse(keyA.priv, keyA.kid, ch, "server-0001", "lic-0001", testEntitlement())
	mustNil(t, err)
	if groups := strings.Split(code, "-"); len(groups) != 32 || len(groups[0]) != 5 {
		t.Fatalf("response %q is not 32 groups of 5", code)
	}
	got, err := VerifyResponse(strings.ToLower(code), ch, "server-0001", "lic-0001", keys)
	mustNil(t, err)
	want := testEntitlement()
	if !got.IssuedAt.Equal(want.IssuedAt) || got.Capacity != 12 || got.Users != 40 || !got.RenewalDate.Equal(want.RenewalDate) ||
		strings.Join(got.Features, ",") != "xms,reports" {
		t.Fatalf("entitlement %+v", got)
	}
	other := ch
	other.Nonce[0]++
	for name, try := range map[string]func() error{
		"other challenge": func() error { _, err := VerifyResponse(code, other, "server-0001", "lic-0001", keys); return err },
		"other server":    func() error { _, err := VerifyResponse(code, ch, "server-0002", "lic-0001", keys); return err },
		"other license":   func() error { _, err := VerifyResponse(code, ch, "server-0001", "lic-0002", keys); return err },
		"other key, same tag": func() error {
			_, err := VerifyResponse(code, ch, "server-0001", "lic-0001", map[string]ed25519.PublicKey{keyA.kid: keyB.pub})
			return err
		},
	} {
		if err := try(); !errors.Is(err, ErrResponseMismatch) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := VerifyResponse(code, ch, "server-0001", "lic-0001", map[string]ed25519.PublicKey{}); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("no keys: %v", err)
	}
	// Every single substitution and adjacent swap is reported as a typo
	// in the right group.
	subs, swaps := mutations(code)
	for _, m := range append(subs, swaps...) {
		if _, err := ParseResponse(m); !errors.Is(err, ErrCodeTypo) {
			t.Fatalf("%q was not caught: %v", m, err)
		}
	}
	_, err = ParseResponse(code[:6*7] + "9" + code[6*7+1:])
	var ce *CodeError
	if !errors.As(err, &ce) || ce.Group != 8 || !strings.Contains(err.Error(), "group 8") {
		t.Fatalf("typo in group 8: %v", err)
	}
	// Two whole groups typed in each other's place.
	g := strings.Split(code, "-")
	g[3], g[4] = g[4], g[3]
	if _, err := ParseResponse(strings.Join(g, "-")); !errors.Is(err, ErrCodeTypo) && !errors.Is(err, ErrResponseMismatch) {
		t.Fatalf("swapped groups: %v", err)
	}
}

func TestSignResponseLimits(t *testing.T) {
	ch := fixedChallenge(t)
	for name, e := range map[string]ResponseEntitlement{
		"unknown feature": {IssuedAt: t0, Features: []string{"xms", "teleport"}},
		"capacity":        {IssuedAt: t0, Capacity: 70000},
		"before epoch":    {IssuedAt: responseEpoch.Add(-time.Minute)},
		"renewal":         {IssuedAt: t0, RenewalDate: time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		if _, err := SignResponse(keyA.priv, keyA.kid, ch, "s", "l", e); err == nil {
			t.Errorf("%s: signed", name)
		} else if name == "unknown feature" && !errors.Is(err, ErrResponseCannotCarry) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if got := ResponseFeatures(); got[0] != "xms" || len(got) != 12 {
		t.Fatalf("features %v", got)
	}
}

func FuzzParseChallenge(f *testing.F) {
	good := fixedChallenge(f).String()
	for _, s := range []string{good, strings.ToLower(good), good[:5], "", "----", "9999-9999-9999-9999-9", strings.Repeat("Z", 600)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ch, err := ParseChallenge(s)
		if err != nil {
			if !errors.Is(err, ErrCodeTypo) && !errors.Is(err, ErrCodeInvalid) {
				t.Fatalf("unexpected error kind %v", err)
			}
			return
		}
		// What parses writes back to the same characters.
		if again, err := ParseChallenge(ch.String()); err != nil || again != ch {
			t.Fatalf("%q → %+v does not round-trip: %v", s, ch, err)
		}
		if NormalizeInstallCode(ch.String()) != NormalizeInstallCode(s) {
			t.Fatalf("%q parsed as %q", s, ch.String())
		}
	})
}

func FuzzParseResponse(f *testing.F) {
	ch := Challenge{Nonce: [7]byte{9, 8, 7, 6, 5, 4, 3}, Binding: 42}
	good, err := SignResponse(keyA.priv, keyA.kid, ch, "server-0001", "lic-0001", testEntitlement())
	mustNil(f, err)
	for _, s := range []string{good, good[:80], good + "-BBBBB", "", strings.Repeat("9", 160)} {
		f.Add(s)
	}
	keys := map[string]ed25519.PublicKey{keyA.kid: keyA.pub}
	f.Fuzz(func(t *testing.T, s string) {
		_, err := ParseResponse(s)
		if err != nil && !errors.Is(err, ErrCodeTypo) && !errors.Is(err, ErrCodeInvalid) {
			t.Fatalf("unexpected error kind %v", err)
		}
		// Only the genuine code verifies.
		if _, err := VerifyResponse(s, ch, "server-0001", "lic-0001", keys); err == nil && NormalizeInstallCode(s) != NormalizeInstallCode(good) {
			t.Fatalf("accepted %q", s)
		}
	})
}
