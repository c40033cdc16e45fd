package licensecore

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"licensedesk/licensecore/wire"
)

// TestDPoPTransportFollowsAuthorityClock: a PC clock hours off does not
// make the proofs stale for good: the first refusal carries the
// authority's Date, and the request goes again with a corrected proof
// (once); later requests use the learnt offset at once.
func TestDPoPTransportFollowsAuthorityClock(t *testing.T) {
	for _, skew := range []time.Duration{-3 * time.Hour, 26 * time.Hour, 0} {
		t.Run(skew.String(), func(t *testing.T) {
			var base string
			var calls, refused atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				body, _ := io.ReadAll(r.Body)
				if string(body) != "grant=refresh" {
					t.Errorf("the body was not sent again: %q", body)
				}
				if _, _, err := wire.VerifyDPoPProof(r.Header.Get(wire.HeaderDPoP), r.Method, base+r.URL.Path, time.Now(), 5*time.Minute); err != nil {
					refused.Add(1)
					http.Error(w, `{"error":"invalid_dpop_proof"}`, http.StatusBadRequest)
					return
				}
				_, _ = w.Write([]byte(`{}`))
			}))
			defer srv.Close()
			base = srv.URL
			tr := &dpopTransport{key: keyA.priv, now: func() time.Time { return time.Now().Add(skew) }, base: srv.Client().Transport}
			hc := &http.Client{Transport: tr}
			for i := range 3 {
				resp, err := hc.Post(base+"/token", "application/x-www-form-urlencoded", strings.NewReader("grant=refresh"))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("request %d: %d", i, resp.StatusCode)
				}
			}
			wantRefused := int32(0)
			if skew != 0 {
				wantRefused = 1
			}
			if refused.Load() != wantRefused || calls.Load() != 3+wantRefused {
				t.Fatalf("%d calls, %d refused; want %d refused", calls.Load(), refused.Load(), wantRefused)
			}
		})
	}
}
