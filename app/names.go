package app

// AppID is the Fyne application id (also in FyneApp.toml).
const AppID = "com.licensedesk.app"

// WindowTitle is what tests and window managers look for.
const WindowTitle = "License Desk"

// windowSocket makes the window a single instance per data directory.
const windowSocket = "window.sock"
