package licensecore

import (
	"crypto/ed25519"
	"fmt"
	"strings"
	"testing"

	"licensedesk/licensecore/wire"
)

// The cost of a cold verification of a token bound to its holder (cnf),
// beside the bare signature check it is measured against (goal: raw /
// VerifyHeldCold ≥ 0.85). As BenchmarkVerify does, the verifier caches one
// token and the loop alternates two, so every iteration checks the
// signature:
//
//	go test -run '^$' -bench 'VerifyHeldCold|VerifyCold|RawEd25519' -benchmem ./licensecore/

// heldBenchTokens are two valid tokens bound to holderKey, with their
// signing inputs and signatures.
func heldBenchTokens(b *testing.B) (toks [2]string, inputs [2][]byte, sigs [2][]byte) {
	b.Helper()
	for i := range toks {
		c := heldClaims()
		c.ID = fmt.Sprintf("held-%d", i)
		toks[i] = keyA.sign(b, c)
		dot := strings.LastIndexByte(toks[i], '.')
		s64 := toks[i][dot+1:]
		inputs[i] = []byte(toks[i][:dot])
		sig, err := wire.DecodeSegment(s64)
		if err != nil {
			b.Fatal(err)
		}
		sigs[i] = sig
	}
	return toks, inputs, sigs
}

func BenchmarkVerifyHeldCold(b *testing.B) {
	toks, _, _ := heldBenchTokens(b)
	jkt := wire.JWKThumbprint(holderKey.pub)
	v := newTestVerifier(b, newFakeClock(t0).Now, 1, keyA)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := v.VerifyHeld(toks[i&1], jkt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyCold(b *testing.B) {
	toks, _, _ := heldBenchTokens(b)
	v := newTestVerifier(b, newFakeClock(t0).Now, 1, keyA)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := v.Verify(toks[i&1]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRawEd25519(b *testing.B) {
	_, inputs, sigs := heldBenchTokens(b)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if !ed25519.Verify(keyA.pub, inputs[i&1], sigs[i&1]) {
			b.Fatal("signature does not verify")
		}
	}
}
