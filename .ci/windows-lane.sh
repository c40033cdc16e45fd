#!/usr/bin/env bash
# The Windows lane: the pure-Go packages' tests built for windows/amd64 and
# run under wine (go test -exec wine), `GOOS=darwin go vet` on the same
# packages (macOS cannot be built here: no SDK), and, with -gui, the Windows
# app started under wine on an Xvfb display with a screenshot in
# ci-artifacts/windows/. Prints passed/failed/skipped per package and a
# closing "windows: N passed, N failed, N skipped" line.
# Usage: .ci/windows-lane.sh [-gui] [-installer]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
gui=0
installer=0
for a in "$@"; do
	case $a in
	-gui) gui=1 ;;
	-installer) installer=1 ;;
	*) echo "usage: $0 [-gui] [-installer]" >&2; exit 2 ;;
	esac
done
. .ci/wine-env.sh
wine_setup

art=$root/ci-artifacts/windows
mkdir -p "$art"
pkgs=(./licensecore/ ./licensecore/wire/ ./licensecore/authority/ ./licensecore/internal/dbopt/)
[ -d licensecore/localapi ] && pkgs+=(./licensecore/localapi/)

echo "== macOS: GOOS=darwin go vet ${pkgs[*]}"
GOOS=darwin GOARCH=arm64 CGO_ENABLED=0 go vet -tags migrated_fynedo "${pkgs[@]}"
# The app's own tests without the window (the headless build: config,
# paths, keys, logging, the status file, which program runs what); its
# end-to-end tests are Linux desktop tests.
pkgs+=(./app/)

echo "== Windows: cross-compile the pure-Go commands"
GOOS=windows GOARCH=amd64 CGO_ENABLED=0 go vet -tags migrated_fynedo,headless "${pkgs[@]}" ./cmd/...
echo "== the headless program (agent, tray, command line) for Windows, pure Go"
GOOS=windows GOARCH=amd64 CGO_ENABLED=0 go build -tags migrated_fynedo,headless -o /dev/null .

total_p=0 total_f=0 total_s=0 rc=0
table=""
for p in "${pkgs[@]}"; do
	name=$(basename "$p")
	log=$art/test-$name.log
	echo "== wine: go test $p (log: ${log#"$root"/})"
	set +e
	# The wine tag and -checklinkname=0: licensecore/internal/winefix, so
	# t.TempDir cleanup works under wine 8.
	GOOS=windows GOARCH=amd64 CGO_ENABLED=0 go test -tags migrated_fynedo,headless,wine -ldflags=-checklinkname=0 \
		-exec wine -count=1 -timeout 25m -v "$p" >"$log" 2>&1
	prc=$?
	set -e
	np=$(grep -cE '^\s*--- PASS' "$log" || true)
	nf=$(grep -cE '^\s*--- FAIL' "$log" || true)
	ns=$(grep -cE '^\s*--- SKIP' "$log" || true)
	if [ "$prc" != 0 ]; then
		rc=1
		[ "$nf" = 0 ] && nf=1 # a build failure, panic or timeout fails no test by name
		grep -E '^\s*--- FAIL|^panic:|^FAIL|\.go:[0-9]+:' "$log" | head -40 || true
	fi
	grep -E '^\s*--- SKIP' -A1 "$log" | grep -vE '^\s*--- SKIP|^--$' | sed 's/^ */    skip: /' | sort | uniq -c | head -20 || true
	table+=$(printf '%-34s %4d passed, %d failed, %d skipped' "$p" "$np" "$nf" "$ns")$'\n'
	total_p=$((total_p + np)) total_f=$((total_f + nf)) total_s=$((total_s + ns))
done
wineserver -k 2>/dev/null || true

if [ "$gui" = 1 ]; then
	bash .ci/wine-gui-smoke.sh || rc=1
fi
if [ "$installer" = 1 ]; then
	bash .ci/wine-installer-test.sh || rc=1
fi

echo "== Windows lane (wine) per package:"
printf '%s' "$table" | tee "$art/counts.txt"
echo "windows: $total_p passed, $total_f failed, $total_s skipped"
exit $rc
