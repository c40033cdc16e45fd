//go:build !windows

package localapi

// pipeHTTPUnsupported: Unix sockets carry the API everywhere else.
func pipeHTTPUnsupported() string { return "" }
