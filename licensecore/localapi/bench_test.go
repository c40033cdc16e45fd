package localapi

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"
)

// BenchmarkToken: GET /v1/token over the Unix socket from 50 concurrent
// clients (the POS servers and registers of a store), with p50/p99.
func BenchmarkToken(b *testing.B) {
	a := startAgent(b, time.Hour)
	a.license(b)
	runClients(b, 0, func(ctx context.Context) error { _, err := a.c.Token(ctx, "", 0); return err })
}

func reportLatency(b *testing.B, lat [][]time.Duration, took time.Duration) {
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	if len(all) == 0 {
		return
	}
	at := func(q float64) float64 { return float64(all[int(q*float64(len(all)-1))].Microseconds()) }
	b.ReportMetric(at(0.50), "p50-µs")
	b.ReportMetric(at(0.99), "p99-µs")
	b.ReportMetric(float64(len(all))/took.Seconds(), "req/s")
}

// BenchmarkVerify compares POST /v1/verify over the socket with the same
// verification in process.
func BenchmarkVerify(b *testing.B) {
	a := startAgent(b, time.Hour)
	a.license(b)
	ctx := context.Background()
	tok, err := a.c.Token(ctx, "", 0)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("socket", func(b *testing.B) {
		for b.Loop() {
			if _, err := a.c.VerifyToken(ctx, VerifyRequest{Token: tok.Token}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("socket-50-clients", func(b *testing.B) {
		b.SetParallelism(25) // 2 cores × 25 = 50 goroutines
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := a.c.VerifyToken(ctx, VerifyRequest{Token: tok.Token}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("in-process", func(b *testing.B) {
		for b.Loop() {
			if _, err := a.srv.opts.HandOff.VerifyPeerToken(tok.Token, ""); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkTokenPaced: 50 clients (the registers of a big store), each
// asking for the token every 20 ms — 2,500 requests a second offered, as
// opposed to BenchmarkToken's closed loop, which measures the queue on a
// saturated machine. Its reference, BenchmarkTokenPacedBare, serves a
// constant answer on the same kind of socket with the same client.
func BenchmarkTokenPaced(b *testing.B) {
	a := startAgent(b, time.Hour)
	a.license(b)
	runClients(b, pace, func(ctx context.Context) error { _, err := a.c.Token(ctx, "", 0); return err })
}

func BenchmarkTokenPacedBare(b *testing.B) {
	sock := filepath.Join(socketDir(b), "bare.sock")
	l, err := Listen(sock, "")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"token":"x"}`))
	})}
	go func() { _ = srv.Serve(l) }()
	b.Cleanup(func() { srv.Close() })
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return dialAgent(ctx, sock) },
		MaxIdleConns: 64, MaxIdleConnsPerHost: 64}
	c := NewClient(&http.Client{Transport: tr}, "http://licensedesk")
	runClients(b, pace, func(ctx context.Context) error {
		var v map[string]any
		return c.do(ctx, "GET", "/v1/token", nil, nil, &v)
	})
}

// pace is how often each paced client asks.
const pace = 20 * time.Millisecond

// runClients runs b.N calls from 50 concurrent clients, each asking every
// `every` (0: again at once, a closed loop), and reports p50/p99 and the
// throughput.
func runClients(b *testing.B, every time.Duration, call func(context.Context) error) {
	const clients = 50
	ctx := context.Background()
	lat := make([][]time.Duration, clients)
	per := b.N/clients + 1
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat[i] = make([]time.Duration, 0, per)
			var tick <-chan time.Time
			if every > 0 {
				time.Sleep(time.Duration(i) * every / clients) // spread the clients over the period
				t := time.NewTicker(every)
				defer t.Stop()
				tick = t.C
			}
			for range per {
				t0 := time.Now()
				if err := call(ctx); err != nil {
					b.Error(err)
					return
				}
				lat[i] = append(lat[i], time.Since(t0))
				if tick != nil {
					<-tick
				}
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	b.StopTimer()
	reportLatency(b, lat, took)
}
