// Package localapi is the License Desk agent's local API: HTTP and JSON,
// versioned under /v1/, over a Unix socket (a named pipe on Windows).
// The agent owns the store and the Manager; the window, the tray,
// the command line and the POS server are its clients.
//
//   - Server (server.go, routes.go) serves every operation the screens use
//     (status with a long poll on its revision, the device flow, refresh,
//     the lifecycle, offline activation, administrators, the customer
//     account and the cloud pool) and, for the POS, GET /v1/token (with a
//     long poll on the jti, so a rotation reaches the POS server at once),
//     GET /v1/jwks and POST /v1/verify. Protected changes carry the
//     administrator session's token as a bearer; licensecore checks it.
//   - Client (client.go) implements the screens' service interfaces with
//     the Manager's signatures, and the POS calls.
//   - errors.go gives every sentinel of licensecore, licensecore/wire and
//     this package a stable code; an error answer carries every code it
//     matches and the typed errors' fields, so errors.Is and errors.As
//     hold on the client as in the agent.
//   - Listen (listen_unix.go) opens the socket: mode 0660 for a group,
//     else 0600; another live agent is ErrAgentRunning, a stale socket is
//     replaced. On Windows, Listen (listen_windows.go, pipe_windows.go)
//     opens a named pipe with an ACL (the owner and SYSTEM; administrators
//     and interactive users too for a group) and its own accept loop,
//     which wine runs as Windows does; go-winio dials and carries the
//     bytes. ListenPipe gives the app's single-instance pipes the same.
//   - openapi.yaml describes every route; OpenAPI serves it.
package localapi
