// Package authority is License Desk's reference Authorization server: the
// OAuth 2.0 Device Authorization Grant (RFC 8628) that hands a POS server a
// signed license token (an EdDSA JWT carrying wire.Claims) and a
// rotating refresh token.
//
// It keeps organizations, users, devices, licenses, pending device codes,
// refresh-token chains, issued tokens and signing keys in Badger with
// SyncWrites, so a restart loses neither an issued license nor a pending
// authorization. Pending device codes are also indexed in memory: polling
// /token never touches the disk, and the writes that do happen (new code,
// approval, redemption) share fsyncs through Badger's group commit.
//
// The package has no global state; the desktop app's demo mode embeds it on
// loopback with New, Seed(DemoSeed(thisPC)) and Handler, and the standalone
// binary is cmd/authority.
//
// # Trust (licensecore/wire/trust.go)
//
// Root. A long-lived Ed25519 root key signs the published key set and
// nothing else (RootPublicKey; License Desk pins it, shown as
// wire.Fingerprint). It lives in Options.RootKeyFile (default DataDir +
// ".root"), apart from the signing keys, made on a first start or by
// InitRoot (`authority root init`), never overwritten, never silently
// replaced: a store without its root is refused (ErrNoRoot).
//
// Keys at rest. The store is encrypted with a 32-byte store key kept
// outside the data directory: Options.KeyFile (default DataDir + ".key",
// base64url, mode 0600, made on a first start) or, when set, the
// environment variable LICENSEDESK_AUTHORITY_KEY (KeyEnv; base64url, 32
// bytes). The root key file is sealed with it (AES-256-GCM). A wrong key
// is ErrWrongKey, a missing or malformed one ErrStoreKey; a missing key
// file is not replaced when the store exists. Signing keys rotate
// (RotateKey); a rotated-out key stays published for max(TokenLifetime,
// wire.OfflineWindow) plus a day, so a 30-day license file still verifies.
//
// DPoP (RFC 9449). The API endpoints verify a DPoP proof when one is sent
// (method, Issuer + path, iat within 5 minutes of the authority's clock,
// jti not seen before: a bounded replay cache) and answer a bad one with
// invalid_dpop_proof. The token endpoint requires one: the key that
// redeems a device code (and, if the authorization was started with a
// proof, the key that started it) binds the chain of refresh tokens and is
// the license token's cnf.jkt. Refresh, release and switch need the
// chain's key (else invalid_grant, reason key_mismatch); pool calls need
// the install key of their envelope (else invalid_request, key_mismatch);
// the switch status needs the key that asked. /device/authorize and
// /licence/verify take a proof but do not require one.
//
// Chains (chain.go). One live chain per Server ID: a new approval revokes
// the old PC's chain (licence_moved, "This license was moved to <PC> on
// <date>"). A spent refresh token used again revokes its chain
// (chain_revoked), except while the pair that rotation issued has never
// been used: the same key then gets the same pair again within
// Options.RefreshGrace (10 minutes), and a new pair after it (a lost
// answer never locks a PC out). A device with an install code is approved and entitled only for
// the PC presenting it; a device without one is bound to the first PC
// approved or entitled (ErrInstallMismatch otherwise).
//
// Signed answers. Every answer of the endpoints below but /healthz, the
// key sets and the pages carries wire.HeaderSignature, HeaderKeyID and
// HeaderSignedAt: wire.SignAnswer by the active signing key over the
// method, path, the client's wire.HeaderNonce, the request's DPoP
// thumbprint, the status and the body.
//
// # Endpoints
//
//	POST /device/authorize         RFC 8628 §3.1 (client_id, optional device_name, install_code)
//	POST /token                    device_code and refresh_token grants (RFC 6749 JSON errors), DPoP
//	GET  /.well-known/jwks.json    every published signing key
//	GET  /.well-known/jwks.jws     the same set signed by the root (application/jose)
//	GET  /healthz                  {"status":"ok"}
//	GET  /.well-known/oauth-authorization-server   RFC 8414 metadata (metadata.go)
//	GET  /device?user_code=…       verification_uri(_complete), the person's pages below
//	POST /licence/verify           license lifecycle (lifecycle.go): verify, release, and the
//	POST /licence/release          perpetual/subscription switch approved on the /switch page
//	POST /licence/switch
//	GET  /licence/switch/{id}
//	GET  /customers/{id}           customers and the cloud pool (pool.go)
//	POST /pool/{list,held,activate,transfer}
//
// # Pages and the names a browser test can rely on
//
// Every form carries a hidden input name="csrf_token"; a POST without the
// session's token is answered 403.
//
//	/login          form#login-form: input#username[name=username], input#password[name=password],
//	                button#login
//	/org            form#org-form: select#org[name=org], button#choose-org
//	/device         form#device-form: select#device[name=device], input#user_code[name=user_code],
//	                button#authorize
//	/device (POST)  the confirmation page: span#requesting-device-name, span#requesting-install-code,
//	                span#chosen-device, span#confirm-user-code; form#confirm-form with
//	                button#approve[name=action][value=approve] and button#deny[name=action][value=deny]
//	result pages    h1#success (authorized), h1#denied (denied), h1#error with p#error-message
//	                (409 and nothing approved for a PC whose install code is not the device's)
//	every page      once logged in, form#logout-form with button#logout (POST /logout)
//
// # Roles, audit and limits
//
// Users are the vendor's staff or customers' users (roles.go); the vendor's
// pages — /licenses (revoke, rotate the signing key), /audit and
// /audit.jsonl — are in vendor.go, and every decision goes to a hash-chained
// audit log (audit.go) in the transaction that makes it. Failed sign-ins and
// wrong user codes are reserved before they are checked (ratelimit.go);
// visitors not signed in have their own session pool; /device/authorize is
// limited per address and per client, counting live codes only, and
// answers 429 slow_down with Retry-After. HTTPServer is the one server
// configuration for the standalone and the embedded authority.
//
// Public clients send client_id in the request body: HTTP Basic
// authentication is refused with invalid_client so that golang.org/x/oauth2's
// auth-style probe falls back to the body without counting as a poll (set
// Endpoint.AuthStyle to oauth2.AuthStyleInParams to skip the probe).
package authority
