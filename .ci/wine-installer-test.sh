#!/usr/bin/env bash
# Tests the Windows installer under wine: installs
# dist/LicenseDesk-<version>-setup.exe silently (/S), checks the files, the
# Start menu entry, the sign-in entry and the uninstall entry, starts the
# installed licensedesk.exe briefly (status -json on a fresh data
# directory), uninstalls silently (/S, data kept), checks that the program
# is gone and the data stays, then /S /PURGE on a second install. A fresh
# prefix copy per run, so the cached one stays clean.
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
check "license data kept" test -f "$data/marker"

echo "== install again, uninstall.exe /S /PURGE"
wine "$setup" /S
wineserver -w
wine "$inst/uninstall.exe" /S /PURGE "_?=C:\\Program Files\\License Desk"
wineserver -w
check "license data removed with /PURGE" test ! -e "$data"

ls -l "$setup"
echo "installer: $pass passed, $fail failed"
[ "$fail" = 0 ]
