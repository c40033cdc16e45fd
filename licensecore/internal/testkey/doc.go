// Package testkey gives the tests of licensecore and licensecore/wire the
// same deterministic Ed25519 keys, so keys and key ids are stable across
// runs and packages. Test code only.
package testkey
