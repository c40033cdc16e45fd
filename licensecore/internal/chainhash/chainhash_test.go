package chainhash

import "testing"

// The encoding is what stored audit logs were hashed with: a change would
// break every chain already on disk.
func TestDigest(t *testing.T) {
	// Computed apart (Python hashlib) from the encoding the package documents.
	const want = "bbe41fafe5b404c083103876dbe961cab64656c76123063d669c632a95281417"
	if got := Digest(7, "ab", "c"); got != want {
		t.Fatalf("Digest(7, ab, c) = %s, want %s", got, want)
	}
	if Digest(7, "ab", "c") == Digest(7, "a", "bc") {
		t.Fatal("fields moved across a boundary hash alike")
	}
}
