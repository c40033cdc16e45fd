#!/usr/bin/env bash
# A year of refreshes for a fleet of 200 installations against the real
# authority, at three fault probabilities per HTTP call (bench/soak/main.go
# says what is simulated and checked). Extra arguments go to every run,
# e.g. `bash bench/soak.sh -days 30` for a quick look, or `-skew 0 -jumps 0`
# to see the network faults alone. Exits non-zero when any run had a
# lock-out or an invariant violation (every run still prints its summary).
set -u
cd "$(dirname "$0")/.."
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/soak" ./bench/soak || exit 2
rc=0
for p in 0.01 0.10 0.30; do
	echo "=== fault probability $p"
	"$bin/soak" -installs 200 -days 365 -fault "$p" "$@" || rc=1
	echo
done
exit $rc
