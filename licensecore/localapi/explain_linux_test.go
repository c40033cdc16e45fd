package localapi

import "licensedesk/screens"

// explain is the screens' wording of an error: a round trip must keep it.
var explain = screens.Explain
