# License Desk — two entry points for a fresh Debian machine:
#   make run    the app in demo mode (reference authority on loopback)
#   make test   formatting, vet, staticcheck and the race-enabled test suite
# Both install the system packages they need first (apt-get, as root or via sudo).

GO        ?= go
# no_emoji: Fyne without its 4.2 MB colour emoji font, which the app never
# shows and which Fyne parses again for every text style it measures (about
# 55 ms of the window's start-up). Scripts take TAGS from here.
TAGS      := migrated_fynedo,no_emoji
export TAGS
GOFLAGS_T := -tags $(TAGS)
STATICCHECK_VERSION := v0.8.2

# Packages the GLFW driver needs to compile (DESIGN.md §4).
BUILD_PKGS := gcc pkg-config libgl1-mesa-dev libx11-dev libxcursor-dev libxrandr-dev \
              libxinerama-dev libxi-dev libxxf86vm-dev libwayland-dev libxkbcommon-dev
# Packages the end-to-end tests need: a real X server, browser, D-Bus, screenshots,
# and a real Secret Service for the keys (gnome-keyring; secret-tool to look inside).
TEST_PKGS  := xvfb xdotool x11-apps imagemagick chromium dbus dbus-x11 procps xclip \
              gnome-keyring libsecret-tools

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
GOBIN := $(shell $(GO) env GOPATH)/bin

.PHONY: run test deps test-deps build authority lint unit e2e keyring bench clean install uninstall

# Install only what is missing, so a warm machine skips apt entirely.
define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing system packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
endef

deps:
	$(call apt_install,$(BUILD_PKGS))

test-deps: deps
	$(call apt_install,$(TEST_PKGS))
	@# node and npm for the cross-language JOSE check (any install will do: a
	@# nodesource node already brings npm, Debian splits them).
	@command -v node >/dev/null && command -v npm >/dev/null || { echo "Installing nodejs npm"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null; }
	@[ -x "$(GOBIN)/staticcheck" ] || $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

# Two builds of one program: licensedesk (the window, and everything else)
# and licensedesk-agent (the headless build: the agent, the tray and the
# command line without Fyne or OpenGL, for the processes that stay running).
build: deps
	$(GO) build $(GOFLAGS_T) -o bin/licensedesk .
	$(GO) build -tags $(TAGS),headless -o bin/licensedesk-agent .
	$(GO) build -o bin/authority ./cmd/authority

run: build
	./bin/licensedesk -demo

lint: test-deps
	@out="$$(gofmt -l .)"; if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet $(GOFLAGS_T) ./...
	$(GOBIN)/staticcheck $(GOFLAGS_T) ./...
	$(GO) vet -tags $(TAGS),headless . ./app
	$(GOBIN)/staticcheck -tags $(TAGS),headless . ./app
	@if $(GO) list -tags $(TAGS),headless -deps . | grep -q '^fyne.io/fyne'; then echo "the headless build must not link Fyne"; exit 1; fi
	@if $(GO) list -deps ./licensecore/... | grep -q '^fyne.io/'; then echo "licensecore must not import Fyne"; exit 1; fi
	@if $(GO) list -deps ./licensecore/authority/... | grep -qx 'licensedesk/licensecore'; then echo "the authority must import licensecore/wire, not licensecore"; exit 1; fi

# The suite runs on a virtual X display inside its own D-Bus session, so the
# desktop end-to-end test (app/e2e_test.go) runs too: LICENSEDESK_E2E=1 makes
# it fail rather than skip when something it needs is missing. Screenshots
# and logs land in ci-artifacts/ (keep them as CI artifacts).
# The session has a Secret Service: gnome-keyring, its login keyring made
# fresh in a temporary XDG_DATA_HOME and unlocked with a password on stdin
# (it ends with the session). LICENSEDESK_KEYRING=1 makes the keyring tests
# fail rather than skip without it.
ARTIFACTS := $(CURDIR)/ci-artifacts
define in_desktop
	@rm -rf $(ARTIFACTS)/e2e; mkdir -p $(ARTIFACTS)
	@xdg=$$(mktemp -d); chmod 700 $$xdg; mkdir -m 700 $$xdg/data; \
	xvfb-run -a -s "-screen 0 1024x768x24" dbus-run-session -- \
	  env LICENSEDESK_E2E=1 LICENSEDESK_KEYRING=1 LICENSEDESK_ARTIFACTS=$(ARTIFACTS) LICENSEDESK_SHOTS=$(ARTIFACTS)/screens \
	    XDG_RUNTIME_DIR=$$xdg XDG_DATA_HOME=$$xdg/data \
	  sh -c 'printf test | gnome-keyring-daemon --unlock --components=secrets >/dev/null || exit 1; exec "$$@"' in_desktop $(1); \
	rc=$$?; rm -rf $$xdg; exit $$rc
endef

# Only the key tests, against the real Secret Service.
keyring: test-deps
	$(call in_desktop,$(GO) test $(GOFLAGS_T) -race -count=1 -run 'Secret|Keys' -v ./licensecore ./app)

unit: test-deps
	$(call in_desktop,$(GO) test $(GOFLAGS_T) -race -count=1 -timeout 15m ./...)

# Only the desktop end-to-end tests (wizard and tray, offline activation, cloud pool), verbose.
E2E_RUN ?= ^TestEndToEnd
e2e: test-deps
	$(call in_desktop,$(GO) test $(GOFLAGS_T) -race -count=1 -timeout 15m -run '$(E2E_RUN)' -v ./app)

# The Windows lane (wine, with the GUI smoke) runs after the Linux suites,
# then both installers are built and tested for real; see docs/INSTALL.md.
test: lint unit windows-test dist-test

bench: test-deps
	bash bench/licensecore-bench.sh
	bash bench/authority-load.sh
	bash bench/soak.sh

# Install the program, the agent's systemd units, the menu and autostart
# entries. As root the system agent (group licensedesk may read tokens) is
# enabled; otherwise the per-user agent. PREFIX=/usr/local DESTDIR= as usual.
PREFIX ?= /usr/local
install: build
	install -Dm755 bin/licensedesk $(DESTDIR)$(PREFIX)/bin/licensedesk
	install -Dm755 bin/licensedesk-agent $(DESTDIR)$(PREFIX)/bin/licensedesk-agent
	install -Dm644 assets/icon.png $(DESTDIR)$(PREFIX)/share/icons/hicolor/256x256/apps/licensedesk.png
	install -Dm644 assets/xdg/licensedesk.desktop $(DESTDIR)$(PREFIX)/share/applications/licensedesk.desktop
	install -Dm644 assets/xdg/licensedesk-tray.desktop $(DESTDIR)/etc/xdg/autostart/licensedesk-tray.desktop
	sed 's|/usr/bin/licensedesk|$(PREFIX)/bin/licensedesk|' assets/systemd/licensedesk-agent.service > licensedesk-agent.service.tmp
	install -Dm644 licensedesk-agent.service.tmp $(DESTDIR)/etc/systemd/system/licensedesk-agent.service
	sed 's|/usr/bin/licensedesk|$(PREFIX)/bin/licensedesk|' assets/systemd/licensedesk-agent.user.service > licensedesk-agent.service.tmp
	install -Dm644 licensedesk-agent.service.tmp $(DESTDIR)/etc/systemd/user/licensedesk-agent.service
	rm -f licensedesk-agent.service.tmp
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then \
	  getent group licensedesk >/dev/null || groupadd --system licensedesk; \
	  getent passwd licensedesk >/dev/null || useradd --system --gid licensedesk --home-dir /var/lib/licensedesk --shell /usr/sbin/nologin licensedesk; \
	  if [ -d /run/systemd/system ]; then systemctl daemon-reload && systemctl enable --now licensedesk-agent.service; fi; \
	  echo "System agent installed; add POS users to the licensedesk group to let them read the token."; \
	fi

uninstall:
	-@if [ -d /run/systemd/system ]; then systemctl disable --now licensedesk-agent.service 2>/dev/null; fi
	rm -f $(DESTDIR)$(PREFIX)/bin/licensedesk $(DESTDIR)$(PREFIX)/bin/licensedesk-agent $(DESTDIR)$(PREFIX)/share/icons/hicolor/256x256/apps/licensedesk.png \
	  $(DESTDIR)$(PREFIX)/share/applications/licensedesk.desktop $(DESTDIR)/etc/xdg/autostart/licensedesk-tray.desktop \
	  $(DESTDIR)/etc/systemd/system/licensedesk-agent.service $(DESTDIR)/etc/systemd/user/licensedesk-agent.service
	@echo "License data in /var/lib/licensedesk and ~/.config/licensedesk is kept."

clean:
	rm -rf bin

# ==== Windows lane and installers (docs/INSTALL.md) ====
.PHONY: windows-test windows-lane windows-gui dist dist-test

# The pure-Go packages' tests built for windows/amd64 and run under wine,
# GOOS=darwin go vet, and the Windows app under wine on Xvfb, after its
# window reached the agent over the named pipe, with a screenshot in
# ci-artifacts/windows/. Installs mingw-w64 and wine when missing; the wine
# prefix is cached in ~/.cache/licensedesk-wine. The mingw build of the Fyne
# app takes about 4.5 minutes cold, seconds warm.
windows-test:
	bash .ci/windows-lane.sh -gui

# The lane without the GUI smoke (no mingw build), for quick iterations.
windows-lane:
	bash .ci/windows-lane.sh

# The Windows GUI smoke alone.
windows-gui:
	bash .ci/windows-lane.sh -gui

# Both installers into dist/: LicenseDesk-<version>-setup.exe (NSIS) and
# licensedesk_<version>-<build>_amd64.deb (nfpm); FyneApp.toml names them.
dist: deps
	bash .ci/dist.sh

# The installers tested for real: the setup.exe installed, started and
# uninstalled silently under wine; the .deb checked by lintian, installed
# on this machine, started under Xvfb, then purged.
dist-test: dist
	bash .ci/wine-installer-test.sh
	bash .ci/deb-test.sh
