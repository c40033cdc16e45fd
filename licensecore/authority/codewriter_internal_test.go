package authority

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"
)

// New device codes reach the disk in background group commits; a clean
// shutdown must write the ones still queued. Codes are made far faster
// than a group commit syncs, so when Close comes, most of them are still
// in the queue: an authority that stopped its writer without draining the
// queue forgets them, and their devices' next poll is "unknown code".
func TestCloseWritesQueuedCodes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	opts := Options{DataDir: dir, Issuer: "http://127.0.0.1:1", Logger: zerolog.Nop(),
		Argon2: Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1}}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	const n = 3 * maxCodeBatch
	made := make([]string, 0, n)
	for i := range n {
		resp, e := s.newDeviceCode("licensedesk", fmt.Sprintf("Till %d", i), "", "")
		if e != nil {
			t.Fatal(e)
		}
		made = append(made, secretHash(resp.DeviceCode))
	}
	queued := len(s.codeQueue)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = New(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	missing := 0
	for _, h := range made {
		if s.codes[h] == nil {
			missing++
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d new codes lost by a clean shutdown (%d were still queued at Close)", missing, n, queued)
	}
	t.Logf("%d codes, %d still queued at Close, all kept", n, queued)
}
