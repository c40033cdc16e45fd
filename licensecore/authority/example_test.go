package authority_test

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"

	"github.com/rs/zerolog"

	"licensedesk/licensecore/authority"
)

// The desktop app's demo mode: an authority in-process on a loopback port,
// seeded with the demo organization plus this PC as a device.
func ExampleNew() {
	dir, _ := os.MkdirTemp("", "authority-example-")
	defer os.RemoveAll(dir)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	base := "http://" + ln.Addr().String()
	// The store key (data.key) and the root key (data.root) are made
	// beside the data directory, here inside dir.
	srv, err := authority.New(authority.Options{DataDir: filepath.Join(dir, "data"), Issuer: base, Logger: zerolog.Nop()})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	if err := srv.Seed(authority.DemoSeed(authority.DeviceSeed{ServerID: "THIS-PC", Name: "This PC", Features: []string{"xms"}})); err != nil {
		fmt.Println(err)
		return
	}
	hs := &http.Server{Handler: srv.Handler()}
	go hs.Serve(ln)
	defer hs.Close()

	resp, err := http.Get(base + "/healthz")
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.Status, "— sign in as", authority.DemoUsername)
	// Output: 200 OK — sign in as demo
}
