#!/usr/bin/env bash
# GUI smoke test of the Windows build: cross-builds licensedesk.exe with
# mingw (cgo; the build cache keeps it warm, about 4.5 minutes cold), starts
# it under wine on an Xvfb display in demo mode, waits for the "License
# Desk" window and saves a screenshot to ci-artifacts/windows/.
#   LICENSEDESK_EXE   use this licensedesk.exe instead of building one
set -euo pipefail
cd "$(dirname "$0")/.."
TAGS=${TAGS:-migrated_fynedo,no_emoji} # the Makefile's build tags
root=$PWD
. .ci/wine-env.sh
wine_setup
apt_install xvfb xdotool imagemagick
art=$root/ci-artifacts/windows
mkdir -p "$art"

exe=${LICENSEDESK_EXE:-}
if [ -z "$exe" ]; then
	exe=$WINE_CACHE/bin/licensedesk.exe
	mkdir -p "$(dirname "$exe")"
	echo "== cross-building $exe (mingw, cgo)"
	CGO_ENABLED=1 GOOS=windows GOARCH=amd64 CC=x86_64-w64-mingw32-gcc \
		go build -tags "$TAGS" -o "$exe" .
fi

data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
cat >"$data/smoke.sh" <<'SMOKE'
set -u
exe=$1 data=$2 art=$3
# Z: is the Linux root in every wine prefix.
windata="Z:$(printf '%s' "$data/store" | tr / '\\')"
wine "$exe" -demo -demo-addr 127.0.0.1:0 -data "$windata" >"$art/gui.log" 2>&1 &
pid=$!
win=""
for _ in $(seq 1 180); do
	win=$(xdotool search --onlyvisible --name '^License Desk' 2>/dev/null | head -1) && [ -n "$win" ] && break
	kill -0 $pid 2>/dev/null || break
	sleep 0.5
done
rc=0
if [ -n "$win" ]; then
	sleep 3 # let the first frame paint
	echo "window: $(xdotool getwindowname "$win")"
	import -window root "$art/gui-under-wine.png"
	echo "screenshot: $art/gui-under-wine.png"
	# The window opens only after the agent answered its status over the
	# named pipe; the demo authority's address comes from its settings.
	if grep -q 'Demo Authorization server' "$art/gui.log"; then
		echo "the window reached the agent: $(grep -m1 'Demo Authorization server' "$art/gui.log")"
	else
		echo "the window's log shows no settings from the agent" >&2
		rc=1
	fi
else
	echo "no License Desk window within 90 s; the app's log:" >&2
	tail -40 "$art/gui.log" >&2
	import -window root "$art/gui-under-wine-failed.png" || true
	rc=1
fi
kill $pid 2>/dev/null
wineserver -k 2>/dev/null
exit $rc
SMOKE
echo "== starting licensedesk.exe -demo under wine on Xvfb"
xvfb-run -a -s "-screen 0 1024x768x24" bash "$data/smoke.sh" "$exe" "$data" "$art"
