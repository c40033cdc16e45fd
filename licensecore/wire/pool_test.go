package wire

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseCustomerID(t *testing.T) {
	const canon = "5d0c3f7e-1a2b-4c3d-8e4f-a0b1c2d3e4f5"
	for _, tc := range []struct {
		in, want string
	}{
		{canon, canon},
		{strings.ToUpper(canon), canon},
		{" \t" + canon + "\n", canon},
		{"", ""},
		{"5d0c3f7e1a2b4c3d8e4fa0b1c2d3e4f5", ""},
		{"{" + canon + "}", ""},
		{"urn:uuid:" + canon, ""},
		{"5d0c3f7e-1a2b-4c3d-8e4f-a0b1c2d3e4fg", ""},
		{"5d0c3f7e-1a2b-4c3d-8e4fa-0b1c2d3e4f5", ""},
		{"00000000-0000-0000-0000-000000000000", ""},
		{"５d0c3f7e-1a2b-4c3d-8e4f-a0b1c2d3e4f", ""},
	} {
		got, err := ParseCustomerID(tc.in)
		if got != tc.want || (tc.want == "") != (err != nil) {
			t.Errorf("ParseCustomerID(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
		if err != nil && (!errors.Is(err, ErrInvalidCustomerID) || !strings.HasSuffix(err.Error(), "is not a valid Customer ID (expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)")) {
			t.Errorf("ParseCustomerID(%q): error %v", tc.in, err)
		}
	}
}

func FuzzParseCustomerID(f *testing.F) {
	for _, s := range []string{"5d0c3f7e-1a2b-4c3d-8e4f-a0b1c2d3e4f5", "5D0C3F7E-1A2B-4C3D-8E4F-A0B1C2D3E4F5 ", "", "-", strings.Repeat("-", 36)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseCustomerID(s)
		if err != nil {
			var ce *CustomerIDError
			if !errors.As(err, &ce) || ce.Input != s || id != "" {
				t.Fatalf("%q: %v", s, err)
			}
			return
		}
		if len(id) != 36 || id != strings.ToLower(id) || strings.Count(id, "-") != 4 {
			t.Fatalf("%q → %q", s, id)
		}
		if again, err := ParseCustomerID(id); err != nil || again != id {
			t.Fatalf("not idempotent: %q → %q, %v", id, again, err)
		}
	})
}

// FuzzOpenPoolEnvelope: the authority's parser of request bodies never
// panics and accepts only well-formed requests whose signature verifies
// with the key they name.
func FuzzOpenPoolEnvelope(f *testing.F) {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	req := PoolRequest{Op: PoolOpTransfer, CustomerID: "5d0c3f7e-1a2b-4c3d-8e4f-a0b1c2d3e4f5", InstallCode: "BCDF-GHJK",
		RequestID: "r1", LicenseID: "CAP-8", ActivationID: "a1", IssuedAt: time.Unix(0, 0)}
	valid, err := SignPoolRequest(key, req)
	if err != nil {
		f.Fatal(err)
	}
	list, _ := SignPoolRequest(key, PoolRequest{Op: PoolOpList, CustomerID: req.CustomerID, InstallCode: "X"})
	for _, s := range [][]byte{valid, list, valid[:len(valid)/2], []byte("{}"), []byte(`{"payload":"e30=","signature":""}`), nil} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, err := OpenPoolEnvelope(raw)
		if err != nil {
			if !errors.Is(err, ErrBadPoolRequest) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if err := got.validate(); err != nil {
			t.Fatalf("accepted an invalid request: %v", err)
		}
		var env PoolEnvelope
		if json.Unmarshal(raw, &env) != nil || !ed25519.Verify(got.PublicKey, append([]byte(poolSigContext), env.Payload...), env.Signature) {
			t.Fatal("accepted a request whose signature does not verify")
		}
	})
}

// FuzzParsePoolList: answers of /pool/list never panic the client, and
// every license it accepts is valid and described.
func FuzzParsePoolList(f *testing.F) {
	for _, s := range []string{
		`{"licences":[{"id":"CAP-8","kind":"capacity","devices":8,"transfer_date":"2025-01-01T00:00:00Z"},{"id":"M","kind":"maintenance","maintenance_until":"2027-12-31T00:00:00Z"}]}`,
		`{"licences":[{"id":"CAP-8","kind":"capacity","devices":-1}]}`,
		`{"licences":[{"id":"A","kind":"capacity","devices":1},{"id":"A","kind":"capacity","devices":1}]}`,
		`{"licences":null}`, `[]`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		list, err := ParsePoolList(raw)
		if err != nil {
			if !errors.Is(err, ErrMalformedAnswer) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		for _, l := range list {
			if l.Validate() != nil {
				t.Fatalf("accepted %+v", l)
			}
		}
		if _, err := ParseHeld(raw); err != nil && !errors.Is(err, ErrMalformedAnswer) {
			t.Fatalf("held: %v", err)
		}
	})
}
