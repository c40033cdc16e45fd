//go:build linux

package app_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/prop"
)

// desktopBus stands in for the desktop shell on the session bus: it owns
// org.freedesktop.Notifications (recording every Notify) and
// org.kde.StatusNotifierWatcher (recording every tray registration), the
// two services License Desk talks to. It is the real protocol on a real
// bus; only the shell that would draw the bubbles and icons is missing.
type desktopBus struct {
	conn *dbus.Conn

	mu      sync.Mutex
	notes   []notification
	items   []trayItem
	changed chan struct{} // closed and replaced on every recorded call
	watcher *prop.Properties
}

// notification is one Notify call.
type notification struct {
	AppName, Icon, Summary, Body string
	ReplacesID                   uint32
	Actions                      []string
	Timeout                      int32
	At                           time.Time
}

// trayItem is one RegisterStatusNotifierItem call: the caller's unique
// name and the service or object path it passed.
type trayItem struct{ Sender, Service string }

// busName and path of the item: systray passes its object path, other
// implementations a well-known name (the spec allows both).
func (it trayItem) busName() string {
	if strings.HasPrefix(it.Service, "/") {
		return it.Sender
	}
	return it.Service
}

func (it trayItem) objectPath() dbus.ObjectPath {
	if strings.HasPrefix(it.Service, "/") {
		return dbus.ObjectPath(it.Service)
	}
	return "/StatusNotifierItem"
}

const (
	notificationsName = "org.freedesktop.Notifications"
	watcherName       = "org.kde.StatusNotifierWatcher"
)

func startDesktopBus(t *testing.T) *desktopBus {
	t.Helper()
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		t.Fatalf("session bus: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	b := &desktopBus{conn: conn, changed: make(chan struct{})}

	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	must("export notifications", conn.Export(notificationsServer{b}, "/org/freedesktop/Notifications", notificationsName))
	must("export watcher", conn.Export(watcherServer{b}, "/StatusNotifierWatcher", watcherName))
	b.watcher, err = prop.Export(conn, "/StatusNotifierWatcher", prop.Map{watcherName: {
		"RegisteredStatusNotifierItems":  {Value: []string{}, Emit: prop.EmitTrue},
		"IsStatusNotifierHostRegistered": {Value: true, Emit: prop.EmitTrue},
		"ProtocolVersion":                {Value: int32(0), Emit: prop.EmitTrue},
	}})
	must("export watcher properties", err)
	for _, name := range []string{notificationsName, watcherName} {
		reply, err := conn.RequestName(name, dbus.NameFlagDoNotQueue)
		must("request "+name, err)
		if reply != dbus.RequestNameReplyPrimaryOwner {
			t.Fatalf("%s already has an owner on this session bus (a notification daemon or tray?): "+
				"run the test in its own bus with dbus-run-session", name)
		}
	}
	return b
}

func (b *desktopBus) record(f func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	f()
	close(b.changed)
	b.changed = make(chan struct{})
}

// waitFor polls cond (under the lock) after each recorded call until it
// returns true, or fails the test when ctx ends.
func (b *desktopBus) waitFor(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	for {
		b.mu.Lock()
		ok, changed := cond(), b.changed
		b.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s; notifications so far: %s", what, b.summaries())
		}
	}
}

// waitNotification waits for a Notify with the summary, and returns it.
func (b *desktopBus) waitNotification(ctx context.Context, t *testing.T, summary string) notification {
	t.Helper()
	var got notification
	b.waitFor(ctx, t, fmt.Sprintf("notification %q", summary), func() bool {
		for _, n := range b.notes {
			if n.Summary == summary {
				got = n
				return true
			}
		}
		return false
	})
	return got
}

func (b *desktopBus) count(summary string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, note := range b.notes {
		if note.Summary == summary {
			n++
		}
	}
	return n
}

func (b *desktopBus) summaries() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var s []string
	for _, n := range b.notes {
		s = append(s, fmt.Sprintf("%s %q", n.At.Format("15:04:05"), n.Summary))
	}
	return "[" + strings.Join(s, ", ") + "]"
}

func (b *desktopBus) waitTrayItem(ctx context.Context, t *testing.T) trayItem {
	t.Helper()
	var it trayItem
	b.waitFor(ctx, t, "a StatusNotifierItem registration", func() bool {
		if len(b.items) == 0 {
			return false
		}
		it = b.items[len(b.items)-1]
		return true
	})
	return it
}

type notificationsServer struct{ b *desktopBus }

func (s notificationsServer) Notify(appName string, replacesID uint32, icon, summary, body string,
	actions []string, _ map[string]dbus.Variant, timeout int32) (uint32, *dbus.Error) {
	var id uint32
	s.b.record(func() {
		s.b.notes = append(s.b.notes, notification{AppName: appName, ReplacesID: replacesID, Icon: icon,
			Summary: summary, Body: body, Actions: actions, Timeout: timeout, At: time.Now()})
		id = uint32(len(s.b.notes))
	})
	return id, nil
}

func (s notificationsServer) GetCapabilities() ([]string, *dbus.Error) {
	return []string{"body"}, nil
}

func (s notificationsServer) GetServerInformation() (name, vendor, version, spec string, err *dbus.Error) {
	return "licensedesk-e2e", "License Desk", "1", "1.2", nil
}

func (s notificationsServer) CloseNotification(uint32) *dbus.Error { return nil }

type watcherServer struct{ b *desktopBus }

func (s watcherServer) RegisterStatusNotifierItem(sender dbus.Sender, service string) *dbus.Error {
	it := trayItem{Sender: string(sender), Service: service}
	var all []string
	s.b.record(func() {
		s.b.items = append(s.b.items, it)
		for _, x := range s.b.items {
			all = append(all, x.busName()+string(x.objectPath()))
		}
	})
	s.b.watcher.SetMust(watcherName, "RegisteredStatusNotifierItems", all)
	_ = s.b.conn.Emit("/StatusNotifierWatcher", watcherName+".StatusNotifierItemRegistered", it.busName()+string(it.objectPath()))
	return nil
}

func (s watcherServer) RegisterStatusNotifierHost(string) *dbus.Error { return nil }

// menuItem is one entry of a com.canonical.dbusmenu layout.
type menuItem struct {
	ID       int32
	Label    string
	Type     string // "separator" or ""
	Enabled  bool
	Children []menuItem
}

// trayMenu reads the item's menu the way a tray host does: the Menu
// property of the item, then GetLayout on that object.
func (b *desktopBus) trayMenu(it trayItem) (dbus.ObjectPath, []menuItem, error) {
	item := b.conn.Object(it.busName(), it.objectPath())
	v, err := item.GetProperty("org.kde.StatusNotifierItem.Menu")
	if err != nil {
		return "", nil, fmt.Errorf("Menu property: %w", err)
	}
	path, ok := v.Value().(dbus.ObjectPath)
	if !ok {
		return "", nil, fmt.Errorf("Menu property is %T", v.Value())
	}
	var rev uint32
	var root struct {
		ID       int32
		Props    map[string]dbus.Variant
		Children []dbus.Variant
	}
	err = b.conn.Object(it.busName(), path).Call("com.canonical.dbusmenu.GetLayout", 0,
		int32(0), int32(-1), []string{}).Store(&rev, &root)
	if err != nil {
		return path, nil, fmt.Errorf("GetLayout: %w", err)
	}
	items, err := menuChildren(root.Children)
	return path, items, err
}

func menuChildren(vs []dbus.Variant) ([]menuItem, error) {
	var out []menuItem
	for _, v := range vs {
		// A child is a (ia{sv}av) struct inside a variant.
		f, ok := v.Value().([]any)
		if !ok || len(f) != 3 {
			return nil, fmt.Errorf("menu child is %s", v.Signature())
		}
		id, _ := f[0].(int32)
		props, _ := f[1].(map[string]dbus.Variant)
		kids, _ := f[2].([]dbus.Variant)
		m := menuItem{ID: id, Enabled: true}
		if l, ok := props["label"]; ok {
			m.Label, _ = l.Value().(string)
		}
		if ty, ok := props["type"]; ok {
			m.Type, _ = ty.Value().(string)
		}
		if e, ok := props["enabled"]; ok {
			m.Enabled, _ = e.Value().(bool)
		}
		if visible, ok := props["visible"]; ok && visible.Value() == false {
			continue
		}
		var err error
		if m.Children, err = menuChildren(kids); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// clickMenu sends the dbusmenu "clicked" event a tray host sends when the
// person chooses the item.
func (b *desktopBus) clickMenu(it trayItem, path dbus.ObjectPath, id int32) error {
	return b.conn.Object(it.busName(), path).Call("com.canonical.dbusmenu.Event", 0,
		id, "clicked", dbus.MakeVariant(""), uint32(time.Now().Unix())).Err
}
