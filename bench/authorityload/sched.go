package main

// How long goroutines waited for a CPU, in the load generator and (with
// -server-sched) in the authority: the runtime's /sched/latencies:seconds
// histograms, sampled every second. A request's latency includes both
// processes' waits; on one machine the load generator's are not the
// authority's doing.

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"runtime/metrics"
	"sync"
	"time"
)

// hist is a cumulative histogram: len(Buckets) == len(Counts)+1
// boundaries in seconds.
type hist struct {
	Buckets []float64 `json:"buckets"`
	Counts  []uint64  `json:"counts"`
}

// minus is the histogram of what happened between o and h.
func (h hist) minus(o hist) hist {
	d := hist{Buckets: h.Buckets, Counts: make([]uint64, len(h.Counts))}
	for i := range h.Counts {
		d.Counts[i] = h.Counts[i]
		if i < len(o.Counts) && o.Counts[i] <= h.Counts[i] {
			d.Counts[i] -= o.Counts[i]
		}
	}
	return d
}

// quantile is the upper bound of the bucket holding quantile q (the lower
// bound for the open last bucket); -1 with no samples.
func (h hist) quantile(q float64) time.Duration {
	var total uint64
	for _, n := range h.Counts {
		total += n
	}
	if total == 0 {
		return -1
	}
	want, seen := uint64(q*float64(total)), uint64(0)
	for i, n := range h.Counts {
		if seen += n; seen > want {
			upper := h.Buckets[i+1]
			if math.IsInf(upper, 1) || upper >= math.MaxFloat64 {
				upper = h.Buckets[i]
			}
			return time.Duration(upper * float64(time.Second)).Round(time.Microsecond)
		}
	}
	return -1
}

func ownSched() hist {
	sample := []metrics.Sample{{Name: "/sched/latencies:seconds"}}
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindFloat64Histogram {
		return hist{}
	}
	h := sample[0].Value.Float64Histogram()
	return hist{Buckets: h.Buckets, Counts: h.Counts}
}

func fetchSched(c *http.Client, url string) (hist, bool) {
	if url == "" {
		return hist{}, false
	}
	resp, err := c.Get(url)
	if err != nil {
		return hist{}, false
	}
	defer resp.Body.Close()
	var h hist
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&h) != nil || len(h.Buckets) != len(h.Counts)+1 {
		return hist{}, false
	}
	return h, true
}

// waits samples both histograms at the start and every second after.
type waits struct {
	client *http.Client
	url    string
	done   chan struct{}
	wg     sync.WaitGroup

	mu           sync.Mutex
	self, server []hist // cumulative, one per second from the start
	serverOK     bool
}

func startWaits(c *http.Client, url string) *waits {
	w := &waits{client: c, url: url, done: make(chan struct{})}
	w.sample()
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-w.done:
				w.sample()
				return
			case <-tick.C:
				w.sample()
			}
		}
	}()
	return w
}

func (w *waits) sample() {
	server, ok := fetchSched(w.client, w.url)
	self := ownSched()
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.server) == 0 {
		w.serverOK = ok
	}
	w.serverOK = w.serverOK && ok
	w.self = append(w.self, self)
	w.server = append(w.server, server)
}

func (w *waits) stop() {
	close(w.done)
	w.wg.Wait()
}

// second is the p99 of each process's waits in second sec of the run
// ("-" when unknown).
func (w *waits) second(sec int) (self, server string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	self, server = "-", "-"
	if sec+1 < len(w.self) {
		self = fmt.Sprint(w.self[sec+1].minus(w.self[sec]).quantile(0.99))
		if w.serverOK {
			server = fmt.Sprint(w.server[sec+1].minus(w.server[sec]).quantile(0.99))
		}
	}
	return self, server
}

// report prints each process's waits over the whole run.
func (w *waits) report() {
	w.mu.Lock()
	defer w.mu.Unlock()
	last := len(w.self) - 1
	line := func(who string, h []hist) {
		d := h[last].minus(h[0])
		fmt.Printf("%s goroutines waited for a CPU: p50 %s, p99 %s, p99.9 %s\n", who, d.quantile(0.5), d.quantile(0.99), d.quantile(0.999))
	}
	line("load generator:", w.self)
	if w.serverOK {
		line("authority:", w.server)
	}
}
