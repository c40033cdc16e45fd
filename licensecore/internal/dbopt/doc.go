// Package dbopt holds what the license store and the reference authority
// share about Badger: options sized for a desktop, a zerolog adapter for
// Badger's logger, and how to tell that another process holds a store
// (InUse, per platform). It is internal to licensecore, so both may import it
// without the authority importing the client's domain package.
package dbopt
