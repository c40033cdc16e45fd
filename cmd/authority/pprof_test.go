package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/rs/zerolog"
)

// TestProfilesOnlyOnLoopback: -pprof refuses an address other programs
// on the network could reach.
func TestProfilesOnlyOnLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", "192.0.2.1:6060", ":6060"} {
		if stop, err := serveProfiles(addr, false, zerolog.Nop()); err == nil {
			stop()
			t.Errorf("serveProfiles(%q) served", addr)
		}
	}
	stop, err := serveProfiles("127.0.0.1:0", false, zerolog.Nop())
	if err != nil {
		t.Fatalf("loopback: %v", err)
	}
	stop()
}

// TestSchedHistogram: /debug/sched is a histogram a load test can
// subtract and read: one more boundary than counts, ascending, and the
// goroutines that just ran are in it.
func TestSchedHistogram(t *testing.T) {
	var wg sync.WaitGroup
	for range 100 {
		wg.Add(1)
		go func() { defer wg.Done() }()
	}
	wg.Wait()
	rec := httptest.NewRecorder()
	schedHistogram(rec, httptest.NewRequest(http.MethodGet, "/debug/sched", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("HTTP %d: %s", rec.Code, rec.Body)
	}
	var h struct {
		Buckets []float64 `json:"buckets"`
		Counts  []uint64  `json:"counts"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &h); err != nil {
		t.Fatalf("not JSON: %v: %s", err, rec.Body)
	}
	if len(h.Counts) == 0 || len(h.Buckets) != len(h.Counts)+1 {
		t.Fatalf("%d boundaries for %d counts", len(h.Buckets), len(h.Counts))
	}
	var total uint64
	for i, n := range h.Counts {
		total += n
		if h.Buckets[i+1] <= h.Buckets[i] {
			t.Fatalf("boundaries not ascending at %d: %v, %v", i, h.Buckets[i], h.Buckets[i+1])
		}
	}
	if total < 100 {
		t.Fatalf("%d scheduling delays recorded after 100 goroutines ran", total)
	}
}
