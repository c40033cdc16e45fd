#!/usr/bin/env bash
# Tests the .deb on this machine (CI's machine is a throw-away Debian, as
# root): lintian (clean apart from assets/debian/lintian-overrides),
# installs dist/licensedesk_*.deb with apt (dpkg -i plus its libraries),
# checks the files and the licensedesk user and group, starts the installed
# program under Xvfb in demo mode and screenshots its window into
# ci-artifacts/deb/, then purges the package and checks it is gone.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
. .ci/wine-env.sh # apt_install
deb=$(ls dist/licensedesk_*_amd64.deb 2>/dev/null | head -1)
[ -n "$deb" ] || { echo "no dist/licensedesk_*_amd64.deb: run make dist first" >&2; exit 1; }
if dpkg -s licensedesk >/dev/null 2>&1; then
	echo "licensedesk is installed on this machine already; not touching it" >&2
	exit 1
fi
apt_install lintian xvfb xdotool imagemagick dbus dbus-x11
art=$root/ci-artifacts/deb
mkdir -p "$art"
pass=0 fail=0
check() {
	local what=$1
	shift
	if "$@"; then pass=$((pass + 1)); echo "ok   $what"; else fail=$((fail + 1)); echo "FAIL $what"; fi
}

echo "== lintian $deb"
set +e
lintian --fail-on error,warning --display-info "$deb" | tee "$art/lintian.txt"
lrc=${PIPESTATUS[0]}
set -e
check "lintian: no errors or warnings" test "$lrc" = 0

echo "== apt-get install $deb"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "./$deb" >/dev/null
trap 'dpkg --purge licensedesk >/dev/null 2>&1 || true' EXIT
for f in /usr/bin/licensedesk /usr/bin/licensedesk-agent /usr/share/applications/licensedesk.desktop \
	/etc/xdg/autostart/licensedesk-tray.desktop /usr/lib/systemd/system/licensedesk-agent.service \
	/usr/lib/systemd/user/licensedesk-agent.service /usr/share/icons/hicolor/256x256/apps/licensedesk.png; do
	check "installed $f" test -s "$f"
done
check "the licensedesk group" getent group licensedesk
check "the licensedesk system user" getent passwd licensedesk
command -v desktop-file-validate >/dev/null && check "desktop entries valid" desktop-file-validate \
	/usr/share/applications/licensedesk.desktop /etc/xdg/autostart/licensedesk-tray.desktop
command -v systemd-analyze >/dev/null && check "systemd unit valid" systemd-analyze verify /usr/lib/systemd/system/licensedesk-agent.service

echo "== the installed program under Xvfb"
tmp=$(mktemp -d)
cat >"$tmp/run.sh" <<'RUN'
set -u
art=$1 tmp=$2
mkdir -m 700 "$tmp/xdg" "$tmp/home"
# A home of its own: the keyring the app may start stays in $tmp.
HOME=$tmp/home XDG_RUNTIME_DIR=$tmp/xdg /usr/bin/licensedesk -demo -demo-addr 127.0.0.1:0 -data "$tmp/data" >"$art/app.log" 2>&1 &
pid=$!
win=""
for _ in $(seq 1 120); do
	win=$(xdotool search --onlyvisible --name '^License Desk' 2>/dev/null | head -1) && [ -n "$win" ] && break
	kill -0 $pid 2>/dev/null || break
	sleep 0.5
done
rc=1
if [ -n "$win" ]; then
	sleep 2
	import -window root "$art/installed-window.png" && rc=0
	echo "screenshot: $art/installed-window.png"
else
	tail -30 "$art/app.log" >&2
fi
# A logout's SIGTERM must end the window within seconds.
kill $pid 2>/dev/null
for _ in $(seq 1 100); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
if kill -0 $pid 2>/dev/null; then
	echo "the window did not end within 10 s of SIGTERM" >&2
	kill -QUIT $pid 2>/dev/null; sleep 1; kill -9 $pid 2>/dev/null
	rc=1
fi
wait $pid 2>/dev/null
# The window started its agent and tray from the headless program; stop
# them, so nothing of the package runs when it is purged.
agent=$(pgrep -af -- "agent -data $tmp/data" | head -1)
case $agent in
*"/usr/bin/licensedesk-agent agent"*) echo "agent: ${agent%% -data*}" ;;
*) echo "the agent did not run from /usr/bin/licensedesk-agent: '$agent'" >&2; rc=1 ;;
esac
/usr/bin/licensedesk-agent stop -data "$tmp/data" >/dev/null 2>&1
pkill -f -- "-data $tmp/data" 2>/dev/null
exit $rc
RUN
check "the installed program's window (screenshot)" xvfb-run -a -s "-screen 0 1024x768x24" dbus-run-session -- bash "$tmp/run.sh" "$art" "$tmp"
rm -rf "$tmp"

echo "== dpkg --purge licensedesk"
dpkg --purge licensedesk >/dev/null
check "programs removed" test ! -e /usr/bin/licensedesk -a ! -e /usr/bin/licensedesk-agent
check "service data removed by purge" test ! -e /var/lib/licensedesk
ls -l "$deb"
echo "deb: $pass passed, $fail failed"
[ "$fail" = 0 ]
