package app

import (
	"time"

	"github.com/rs/zerolog"

	"licensedesk/licensecore"
	"licensedesk/screens/plain"
)

// noticeSink sends one desktop notification (fyne.App.SendNotification in
// the app).
type noticeSink func(title, body string)

// notifier sends each due notice once per threshold; what was sent is
// remembered in the store so a restart does not repeat it.
type notifier struct {
	store *licensecore.Store
	log   zerolog.Logger
	send  noticeSink
}

func (n *notifier) check(st licensecore.Status, p licensecore.Policy) {
	for _, notice := range licensecore.DueNotices(st, p) {
		fresh := false
		for _, k := range notice.Keys {
			already, err := n.store.MarkNotified(k, st.At)
			if err != nil {
				n.log.Warn().Err(err).Msg("could not record a notification")
				return
			}
			fresh = fresh || !already
		}
		if fresh {
			title, body := plain.NoticeText(notice, st, time.Local)
			n.log.Info().Str("title", title).Msg("notification sent")
			n.send(title, body)
		}
	}
}
