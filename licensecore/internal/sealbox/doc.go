// Package sealbox derives the AES-256-GCM sealers that the license store's
// secrets file and the authority's root key file use: one place for the key
// derivation (HKDF-SHA256 with a purpose label), so both sides seal alike.
package sealbox
