package licensecore

// The Windows lane runs these tests under wine; see internal/winefix.
import _ "licensedesk/licensecore/internal/winefix"
