package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"runtime/metrics"
	"time"

	"github.com/rs/zerolog"
)

// serveProfiles serves Go's runtime profiles on their own listener at addr,
// which must be a loopback address: profiles show what the server is doing
// and the heap may hold secrets, so they are never served to the network,
// nor on the authority's own port. With contention, block and mutex
// profiling are turned on (every blocking event, every contended lock):
// that costs some speed, so only a run that wants those profiles asks for
// it. /debug/sched is the runtime's histogram of how long goroutines
// waited for a CPU (schedHistogram).
func serveProfiles(addr string, contention bool, log zerolog.Logger) (stop func(), err error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("-pprof %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("-pprof %q: profiles are only served on a loopback address", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	if contention {
		runtime.SetBlockProfileRate(1)
		runtime.SetMutexProfileFraction(1)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/sched", schedHistogram)
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("profiles")
		}
	}()
	log.Info().Str("addr", ln.Addr().String()).Msg("serving profiles at /debug/pprof/")
	return func() {
		_ = srv.Close()
		runtime.SetBlockProfileRate(0)
		runtime.SetMutexProfileFraction(0)
	}, nil
}

// schedHistogram answers the runtime's /sched/latencies:seconds histogram
// as JSON: bucket boundaries in seconds (an open end as ±1e308) and the
// count of each bucket, cumulative since the start. A load test reads it
// before and after a span to tell the authority's own scheduling delays
// from the rest of a request's latency.
func schedHistogram(w http.ResponseWriter, _ *http.Request) {
	sample := []metrics.Sample{{Name: "/sched/latencies:seconds"}}
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindFloat64Histogram {
		http.Error(w, "this Go runtime has no scheduling latency histogram", http.StatusNotFound)
		return
	}
	h := sample[0].Value.Float64Histogram()
	out := struct {
		Buckets []float64 `json:"buckets"`
		Counts  []uint64  `json:"counts"`
	}{Counts: h.Counts}
	for _, b := range h.Buckets {
		out.Buckets = append(out.Buckets, max(-math.MaxFloat64, min(b, math.MaxFloat64)))
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}
