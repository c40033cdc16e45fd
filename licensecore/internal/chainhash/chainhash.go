package chainhash

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
)

// Digest is the hex SHA-256 of seq (8 bytes, big endian) followed by each
// field as its length (8 bytes, big endian) and its bytes.
func Digest(seq uint64, fields ...string) string {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], seq)
	h.Write(n[:])
	for _, f := range fields {
		binary.BigEndian.PutUint64(n[:], uint64(len(f)))
		h.Write(n[:])
		h.Write([]byte(f))
	}
	return hex.EncodeToString(h.Sum(nil))
}
