package localapi

import "licensedesk/screens/plain"

// explain is the screens' wording of an error: a round trip must keep it.
var explain = plain.Explain
