// Package plain holds what License Desk says, without a toolkit: the
// sentence for every error, dates and durations in words, the status line
// and headline, notices and notifications, the tray's lines, menu and
// icons, and the settings a person may change with their checks. The Fyne
// screens, the headless agent and tray, and the command line all word
// things through it, so each sentence exists once; it never imports Fyne.
package plain
