#!/usr/bin/env bash
# Benchmarks of licensecore against the goals of issue 2:
#   verify/raw ≥ 0.85   full token verification vs a bare ed25519.Verify
#   cached ≥ 1M ops/s    tokens answered from the verifier's cache
#   store RSS < 20 MB, store on disk < 50 MiB
#   held/raw ≥ 0.85      verify with the cnf (holder) check vs a bare ed25519.Verify
#   DPoP                 a refresh round trip with and without the proof, same run
# Usage: bench/licensecore-bench.sh [benchtime] [count]   (defaults 2s, 5)
set -euo pipefail
cd "$(dirname "$0")/.."
benchtime=${1:-2s}
count=${2:-5}
out=$(mktemp)
tmp=$(mktemp -d)
trap 'rm -rf "$out" "$tmp"' EXIT

go test -run '^$' -bench '^(BenchmarkVerify|BenchmarkEd25519Raw|BenchmarkVerifyCached|BenchmarkStoreOpen|BenchmarkVerifyHeldCold|BenchmarkRawEd25519|BenchmarkRefreshRoundTrip)$' \
	-benchtime "$benchtime" -count "$count" -benchmem ./licensecore/ | tee "$out"

# median of column "ns/op" (or another unit) for one benchmark name
median() { # name unit
	awk -v name="$1" -v unit="$2" '$1 ~ "^"name"(-[0-9]+)?$" { for (i = 2; i < NF; i++) if ($(i+1) == unit) print $i }' "$out" |
		sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) exit 1; print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2 }'
}
verify=$(median BenchmarkVerify ns/op)
raw=$(median BenchmarkEd25519Raw ns/op)
serial=$(median BenchmarkVerifyCached/serial ops/s)
parallel=$(median BenchmarkVerifyCached/parallel ops/s)
open=$(median BenchmarkStoreOpen ns/op)
held=$(median BenchmarkVerifyHeldCold ns/op)
raw2=$(median BenchmarkRawEd25519 ns/op)
nodpop=$(median BenchmarkRefreshRoundTrip/no-dpop ns/op)
dpop=$(median BenchmarkRefreshRoundTrip/dpop ns/op)

go run ./bench/storefootprint -dir "$tmp/store" >"$tmp/fp"
rss=$(awk '$1 == "rss_delta_kib" { print $2 }' "$tmp/fp")
disk_open=$(awk '$1 == "disk_open_bytes" { print $2 }' "$tmp/fp")
du_closed=$(du --apparent-size -sb "$tmp/store" | cut -f1)

verdict() { if awk "BEGIN { exit !($1) }"; then echo ok; else echo MISSED; fi; }
echo
echo "== licensecore benchmarks (median of $count × $benchtime)"
awk -v v="$verify" -v r="$raw" 'BEGIN { printf "verify %.0f ns/op, ed25519 raw %.0f ns/op, ratio raw/verify %.3f (goal >= 0.85)  ", v, r, r / v }'
verdict "$raw / $verify >= 0.85"
awk -v s="$serial" -v p="$parallel" 'BEGIN { printf "cached verify: %.2f M ops/s serial, %.2f M ops/s parallel (goal >= 1M)  ", s / 1e6, p / 1e6 }'
verdict "$parallel >= 1e6 && $serial >= 1e6"
awk -v o="$open" 'BEGIN { printf "store open+close: %.1f ms\n", o / 1e6 }'
awk -v k="$rss" 'BEGIN { printf "store RSS delta (open + license + 100 audit entries): %.1f MB (goal < 20)  ", k * 1024 / 1e6 }'
verdict "$rss * 1024 < 20e6"
awk -v o="$disk_open" -v c="$du_closed" 'BEGIN { printf "store on disk (apparent): %.1f MiB while open, %.2f MiB after close (goal < 50 MiB)  ", o / 1048576, c / 1048576 }'
verdict "$disk_open < 50 * 1048576 && $du_closed < 50 * 1048576"
awk -v h="$held" -v r="$raw2" 'BEGIN { printf "verify with holder check %.0f ns/op, ed25519 raw %.0f ns/op, ratio raw/held %.3f (goal >= 0.85)  ", h, r, r / h }'
verdict "$raw2 / $held >= 0.85"
awk -v a="$nodpop" -v b="$dpop" 'BEGIN { printf "refresh round trip: %.0f µs without DPoP, %.0f µs with (+%.0f µs)\n", a / 1000, b / 1000, (b - a) / 1000 }'
