package licensecore

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"licensedesk/licensecore/wire"
)

// benchTokens are two valid tokens and their signing inputs and signatures.
func benchTokens(b *testing.B) (toks [2]string, inputs [2][]byte, sigs [2][]byte) {
	b.Helper()
	for i := range toks {
		toks[i] = keyA.sign(b, withClaims(func(c *wire.Claims) { c.ID = fmt.Sprintf("tok-%d", i) }))
		dot := strings.LastIndexByte(toks[i], '.')
		inputs[i] = []byte(toks[i][:dot])
		sig, err := base64.RawURLEncoding.DecodeString(toks[i][dot+1:])
		if err != nil {
			b.Fatal(err)
		}
		sigs[i] = sig
	}
	return toks, inputs, sigs
}

// BenchmarkVerify measures a full verification: parse, signature and
// claims. The cache holds one token and the loop alternates two, so every
// iteration misses the cache.
func BenchmarkVerify(b *testing.B) {
	toks, _, _ := benchTokens(b)
	v := newTestVerifier(b, newFakeClock(t0).Now, 1, keyA)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := v.Verify(toks[i&1]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEd25519Raw is the floor for BenchmarkVerify: the bare signature
// check over the same signing inputs.
func BenchmarkEd25519Raw(b *testing.B) {
	_, inputs, sigs := benchTokens(b)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if !ed25519.Verify(keyA.pub, inputs[i&1], sigs[i&1]) {
			b.Fatal("signature does not verify")
		}
	}
}

// BenchmarkVerifyCached measures tokens answered from the cache, serially
// and from every core; goal ≥ 1M ops/s.
func BenchmarkVerifyCached(b *testing.B) {
	toks, _, _ := benchTokens(b)
	// A plain closure: fakeClock's mutex would be measured too.
	v := newTestVerifier(b, func() time.Time { return t0 }, 0, keyA)
	for _, tok := range toks {
		if _, err := v.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
	report := func(b *testing.B) {
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := v.Verify(toks[i&1]); err != nil {
				b.Fatal(err)
			}
		}
		report(b)
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := v.Verify(toks[i&1]); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
		report(b)
	})
}

// BenchmarkStoreOpen measures opening and closing a store that holds a
// license, settings and an audit log.
func BenchmarkStoreOpen(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "store")
	s, err := OpenStore(StoreOptions{Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	l, toks, set := sampleLicense(b)
	if err := s.SaveLicense(l, toks, set); err != nil {
		b.Fatal(err)
	}
	appendAudit(b, s, 100)
	for i := range 20 {
		if err := s.SetSetting(fmt.Sprintf("s%d", i), "value"); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		s, err := OpenStore(StoreOptions{Dir: dir})
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
