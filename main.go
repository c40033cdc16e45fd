// Command licensedesk manages a point-of-sale server's license: the
// acquisition wizard, license details, tray indicator and automatic token
// refresh. `licensedesk status --json` prints the status for monitoring.
package main

import (
	"os"

	"licensedesk/app"
)

func main() {
	os.Exit(app.Run(os.Args[1:], os.Stdout, os.Stderr))
}
