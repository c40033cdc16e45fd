// Package chainhash is the entry hash of the hash-chained audit logs, the
// license store's and the reference authority's: SHA-256 over an entry's
// sequence number and its fields, each field length-prefixed so that no
// two entries share an encoding ("ab"+"c" and "a"+"bc" hash differently).
package chainhash
