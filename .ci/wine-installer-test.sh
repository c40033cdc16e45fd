#!/usr/bin/env bash
# Tests the Windows installer under wine: installs
# dist/LicenseDesk-<version>-setup.exe silently (/S), checks the files, the
# Start menu entry, the sign-in entry and the uninstall entry, the agent
# service (registered, started by the installer, answering on its named
# pipe, stopped and started again with `service stop|start`), starts the
# installed licensedesk.exe briefly (status -json on a fresh data
# directory), uninstalls silently (/S, data kept), checks that the program
# and the service are gone and the data stays, then installs twice (the
# second over the first, as an upgrade does: the service is registered
# again) and /S /PURGE. A fresh prefix copy per run, so the cached one
# stays clean.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
. .ci/wine-env.sh
wine_setup
setup=$(ls dist/LicenseDesk-*-setup.exe 2>/dev/null | head -1)
[ -n "$setup" ] || { echo "no dist/LicenseDesk-*-setup.exe: run make dist first" >&2; exit 1; }
art=$root/ci-artifacts/windows
mkdir -p "$art"

# No display: the installer runs silently, and nothing it starts may wait
# on a window.
unset DISPLAY WAYLAND_DISPLAY
tmp=$(mktemp -d)
trap 'WINEPREFIX=$tmp/prefix wineserver -k 2>/dev/null || true; rm -rf "$tmp"' EXIT
cp -a "$WINEPREFIX" "$tmp/prefix"
export WINEPREFIX=$tmp/prefix
c=$WINEPREFIX/drive_c
inst="$c/Program Files/License Desk"
data="$c/ProgramData/LicenseDesk"
pass=0 fail=0
check() { # description command...
	local what=$1
	shift
	if "$@"; then
		pass=$((pass + 1))
		echo "ok   $what"
	else
		fail=$((fail + 1))
		echo "FAIL $what"
	fi
}
reg_has() { # hive-file text
	grep -qiF "$2" "$WINEPREFIX/$1"
}

agent=$inst/licensedesk-agent.exe
sock='C:\ProgramData\LicenseDesk\agent.sock' # the service's pipe: -data's agent.sock
svckey='HKLM\System\CurrentControlSet\Services\LicenseDeskAgent'
# svc_registered: the service exists and the service manager runs it as
# `service run` with the data in ProgramData.
svc_registered() {
	wine reg query "$svckey" /v ImagePath 2>/dev/null | tr -d '\r' >"$art/service-imagepath.txt" || return 1
	grep -qF 'licensedesk-agent.exe" service run -data C:\ProgramData\LicenseDesk' "$art/service-imagepath.txt" ||
		grep -qF 'licensedesk-agent.exe service run -data C:\ProgramData\LicenseDesk' "$art/service-imagepath.txt"
}
svc_gone() { ! wine reg query "$svckey" >/dev/null 2>&1; }
# token_rc: the exit code of `licensedesk-agent.exe token` against the
# service's pipe: it asks the agent's /v1/info first, and 4 means no agent
# answered (1 is an answer: this test PC has no license).
token_rc() {
	local rc=0
	timeout 60 wine "$agent" token -socket "$sock" >"$art/service-token.txt" 2>&1 || rc=$?
	echo "$rc"
}
# agent_answers: within 30 s (the service manager starts it in the
# background).
agent_answers() {
	local i rc
	for i in $(seq 30); do
		rc=$(token_rc)
		[ "$rc" != 4 ] && [ "$rc" != 124 ] && return 0
		sleep 1
	done
	echo "     no answer on $sock: $(tr -d '\r' <"$art/service-token.txt")"
	return 1
}
agent_gone() { [ "$(token_rc)" = 4 ]; }
svc_state() { # RUNNING, STOPPED…
	wine sc query LicenseDeskAgent 2>/dev/null | tr -d '\r' | grep -q "STATE.*$1"
}
svc_ctl() { # verb: `licensedesk-agent.exe service verb` succeeds
	local out
	if out=$(timeout 60 wine "$agent" service "$1" 2>&1); then
		return 0
	fi
	echo "     $(printf '%s' "$out" | tr -d '\r' | grep -v -e wine32 -e multiarch -e 'dpkg --add' -e 'apt-get install')"
	return 1
}
log_has() { grep -qF "$1" "$data/licensedesk.log" 2>/dev/null; }

echo "== wine $setup /S"
wine "$setup" /S
wineserver -w
check "licensedesk.exe in Program Files" test -s "$inst/licensedesk.exe"
check "licensedesk-agent.exe in Program Files" test -s "$inst/licensedesk-agent.exe"
check "uninstall.exe in Program Files" test -s "$inst/uninstall.exe"
check "Start menu entry" test -f "$c/ProgramData/Microsoft/Windows/Start Menu/Programs/License Desk/License Desk.lnk"
check "the tray at sign-in (HKLM Run)" reg_has system.reg '"License Desk"="\"C:\\Program Files\\License Desk\\licensedesk-agent.exe\" tray"'
check "Programs and Features entry" reg_has system.reg 'DisplayVersion'
check "the data folder in ProgramData" test -d "$data"
check "the agent service registered (service run, data in ProgramData)" svc_registered
check "the installer's service start ran the agent as a service" log_has '"service":true'

echo "== the agent service"
# Wine ends a session's services with its last program (and wineserver -w
# waits for that): a persistent wineserver keeps the service running
# between the commands below. Its first program starts the service, which
# is automatic. (-p fails while a server runs: the checks above started
# one.)
wineserver -w
wineserver -p
check "the service starts with the session and answers on its pipe" agent_answers
check "the service is RUNNING" svc_state RUNNING
set +e
timeout 60 wine "$agent" status -json -socket "$sock" >"$art/service-status.json" 2>/dev/null
set -e
echo "     status -json through the pipe: $(tr -d '\r\n' <"$art/service-status.json" | head -c 200)"
check "service stop" svc_ctl stop
check "the service is STOPPED" svc_state STOPPED
check "no agent answers after the stop" agent_gone
check "the agent stopped in order (its log, its pid file removed)" \
	bash -c "grep -qF 'agent stopping at the service manager' '$data/licensedesk.log' && test ! -e '$data/agent.pid'"
check "service start" svc_ctl start
check "the agent answers again" agent_answers
check "the service is RUNNING again" svc_state RUNNING
check "service stop again" svc_ctl stop
if [ "$fail" != 0 ]; then
	echo "     the service's log ($data/licensedesk.log), last lines:"
	tail -n 20 "$data/licensedesk.log" 2>/dev/null | sed 's/^/     /'
	wine sc query LicenseDeskAgent 2>/dev/null | tr -d '\r' | sed 's/^/     /'
fi
cp "$data/licensedesk.log" "$art/service-licensedesk.log" 2>/dev/null || true
wineserver -k
wineserver -w

echo "== the installed licensedesk.exe, briefly"
probe=$tmp/probe
mkdir -p "$probe"
set +e
timeout 120 wine "$inst/licensedesk.exe" status -json -data "Z:$(printf '%s' "$probe" | tr / '\\')" >"$art/installed-status.json" 2>"$art/installed-status.err"
src=$?
set -e
echo "status exit code $src; $(head -c 300 "$art/installed-status.json")"
check "the installed exe answers status -json" grep -q '"' "$art/installed-status.json"
mkdir -p "$data" && echo keep >"$data/marker"

echo "== uninstall.exe /S (keeps the data)"
# _?= runs the uninstaller in place, so wine waits for it.
wine "$inst/uninstall.exe" /S "_?=C:\\Program Files\\License Desk"
wineserver -w
check "licensedesk.exe removed" test ! -e "$inst/licensedesk.exe"
check "licensedesk-agent.exe removed" test ! -e "$inst/licensedesk-agent.exe"
check "Start menu entry removed" test ! -e "$c/ProgramData/Microsoft/Windows/Start Menu/Programs/License Desk"
check "sign-in entry removed" bash -c "! grep -qF '\"License Desk\"=' '$WINEPREFIX/system.reg'"
check "the agent service removed" svc_gone
check "license data kept" test -f "$data/marker"

echo "== install again, and over that install (an upgrade), uninstall.exe /S /PURGE"
wine "$setup" /S
wineserver -w
wine "$setup" /S
wineserver -w
check "the agent service registered again by the second install" svc_registered
wine "$inst/uninstall.exe" /S /PURGE "_?=C:\\Program Files\\License Desk"
wineserver -w
check "license data removed with /PURGE" test ! -e "$data"

ls -l "$setup"
echo "installer: $pass passed, $fail failed"
[ "$fail" = 0 ]
