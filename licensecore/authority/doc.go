// Package authority is License Desk's reference Authorization server: the
// OAuth 2.0 Device Authorization Grant (RFC 8628) that hands a POS server a
// signed license token (an EdDSA JWT carrying wire.Claims) and a
// rotating refresh token.
//
// It keeps organizations, users, devices, licenses, pending device codes,
// refresh tokens, issued tokens and signing keys in Badger with SyncWrites,
// so a restart loses neither an issued license nor a pending authorization.
// Pending device codes are also indexed in memory: polling /token never
// touches the disk, and the writes that do happen (new code, approval,
// redemption) share fsyncs through Badger's group commit.
//
// The package has no global state; the desktop app's demo mode embeds it on
// loopback with New, Seed(DemoSeed(thisPC)) and Handler, and the standalone
// binary is cmd/authority.
//
// # Endpoints
//
//	POST /device/authorize         RFC 8628 §3.1 (client_id, optional device_name, install_code)
//	POST /token                    device_code and refresh_token grants (RFC 6749 JSON errors)
//	GET  /.well-known/jwks.json    every published signing key
//	GET  /healthz                  {"status":"ok"}
//	GET  /device?user_code=…       verification_uri(_complete), the person's pages below
//	POST /licence/verify           license lifecycle (lifecycle.go): verify, release, and the
//	POST /licence/release          perpetual/subscription switch approved on the /switch page
//	POST /licence/switch
//	GET  /licence/switch/{id}
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
//	every page      once logged in, form#logout-form with button#logout (POST /logout)
//
// Public clients send client_id in the request body: HTTP Basic
// authentication is refused with invalid_client so that golang.org/x/oauth2's
// auth-style probe falls back to the body without counting as a poll (set
// Endpoint.AuthStyle to oauth2.AuthStyleInParams to skip the probe).
package authority
