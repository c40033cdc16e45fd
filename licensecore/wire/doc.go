// Package wire is the contract between License Desk and its Authorization
// server: everything that crosses the network or a file between them. The
// client (licensecore) and the reference authority (licensecore/authority)
// both import it, and it imports neither.
//
//   - claims.go: the license token's claims, audience and size limit;
//   - jwks.go: JWK/JWKS, key ids and the strict key-set parser;
//   - lifecycle.go: verify, release and switch requests and answers, with
//     typed results;
//   - pool.go: the signed cloud-pool envelopes, answers and their checks,
//     and Customer ID parsing;
//   - challenge.go: the challenge and response codes (Damm-checked,
//     Ed25519-signed) and install-code normalising;
//   - files.go: the license request and license file formats;
//   - errors.go: the sentinels of malformed input, and the error answer
//     (ErrorAnswer) with its codes and reasons, so no side matches text.
//
// JSON field names and URL paths keep their historical spelling ("licence")
// because deployed peers depend on them; Go identifiers are US English.
package wire
