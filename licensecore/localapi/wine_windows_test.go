package localapi

import "golang.org/x/sys/windows/registry"

// pipeHTTPUnsupported says why the API tests cannot run here: under wine 8
// an HTTP exchange over a go-winio named pipe never completes (the pipe is
// created and connected — TestListenPipeTwice passes — but the first
// request times out), so the lane skips them; on Windows they run.
func pipeHTTPUnsupported() string {
	k, err := registry.OpenKey(registry.CURRENT_USER, `Software\Wine`, registry.QUERY_VALUE)
	if err != nil {
		return ""
	}
	k.Close()
	return "under wine, HTTP over a named pipe does not complete (wine 8 and go-winio)"
}
