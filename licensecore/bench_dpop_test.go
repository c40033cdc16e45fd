package licensecore

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"licensedesk/licensecore/wire"
)

// BenchmarkRefreshRoundTrip measures what DPoP adds to a refresh round
// trip, side by side in one run: the same form POST over loopback HTTP,
// once with the client's proof (made by dpopTransport, checked by the
// server with wire.VerifyDPoPProof, as the authority does) and once
// without. The refresh grant's own work (the authority's store
// transaction) is the same in both and left out, so the difference is the
// proof alone.
func BenchmarkRefreshRoundTrip(b *testing.B) {
	answer := []byte(`{"access_token":"x","token_type":"Bearer","refresh_token":"r","expires_in":3600}`)
	for _, tc := range []struct {
		name string
		dpop bool
	}{{"no-dpop", false}, {"dpop", true}} {
		b.Run(tc.name, func(b *testing.B) {
			var base string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_ = r.ParseForm()
				if tc.dpop {
					if _, _, err := wire.VerifyDPoPProof(r.Header.Get(wire.HeaderDPoP), r.Method, base+r.URL.Path, time.Now(), 5*time.Minute); err != nil {
						http.Error(w, err.Error(), http.StatusBadRequest)
						return
					}
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write(answer)
			}))
			defer srv.Close()
			base = srv.URL
			hc := srv.Client()
			if tc.dpop {
				hc.Transport = &dpopTransport{key: keyA.priv, now: time.Now, base: hc.Transport}
			}
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {strings.Repeat("r", 43)}, "client_id": {"license-desk"}}.Encode()
			b.ReportAllocs()
			for b.Loop() {
				resp, err := hc.Post(base+"/token", "application/x-www-form-urlencoded", strings.NewReader(form))
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
		})
	}
}
