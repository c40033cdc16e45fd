package testkey

import (
	"bytes"
	"crypto/ed25519"
)

// New derives an Ed25519 key pair from a one-byte seed.
func New(seed byte) (ed25519.PrivateKey, ed25519.PublicKey) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
	return priv, priv.Public().(ed25519.PublicKey)
}
