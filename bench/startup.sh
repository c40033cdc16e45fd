#!/usr/bin/env bash
# Start-up and memory of License Desk beside a bare Fyne window:
#   time from exec to the window mapped, and to the license shown
#   (goal app/bare ≤ 1.15; the window is a client of an agent that already
#   runs, as after login), RSS after 5 s idle (goal ≤ 1.25), and CPU used
#   while idle over 60 s (goal ~0); then, with the window closed, what
#   stays running — the agent and the tray — beside the bare window: RSS
#   (goal ≤ 0.3×) and CPU over the idle period (goal ≤ 0.1 % of a core).
# Both programs are built and measured in the same run, alternately, on the
# same X server, each once unmeasured first so both start with warm caches.
# Usage: bench/startup.sh [runs] [idle-seconds]   (defaults 5, 60)
# Without $DISPLAY it re-runs itself under xvfb-run + dbus-run-session.
set -euo pipefail
cd "$(dirname "$0")/.."
TAGS=${TAGS:-migrated_fynedo,no_emoji} # the Makefile's build tags
runs=${1:-5}
idle=${2:-60}

if [ -z "${DISPLAY:-}" ]; then
	rt=$(mktemp -d) # 0700, as XDG_RUNTIME_DIR must be
	trap 'rm -rf "$rt"' EXIT
	xvfb-run -a -s "-screen 0 1024x768x24" dbus-run-session -- env XDG_RUNTIME_DIR="$rt" bash "$0" "$@"
	exit $?
fi
if [ -z "${DBUS_SESSION_BUS_ADDRESS:-}" ]; then
	exec dbus-run-session -- bash "$0" "$@"
fi

work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	pkill -f -- "$work/home" 2>/dev/null || true # the agent and tray the window started
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
addr=${BENCH_AUTHORITY_ADDR:-127.0.0.1:18766}

echo "== building (warm cache: seconds)"
go build -tags "$TAGS" -o "$work/licensedesk" .
# The headless build beside it: the window starts the agent and the tray
# from it, as an installed License Desk does.
go build -tags "$TAGS",headless -o "$work/licensedesk-agent" .
# The yardstick is a bare Fyne window as Fyne builds by default;
# BARE_TAGS=migrated_fynedo,no_emoji builds it with the app's tags instead.
go build -tags "${BARE_TAGS:-migrated_fynedo}" -o "$work/barewindow" ./bench/barewindow
go build -o "$work/authority" ./cmd/authority

echo "== licensing a data directory (device flow + approval in headless Chromium)"
LICENSEDESK_PREPARE_HOME="$work/home" LICENSEDESK_PREPARE_AUTHORITY_DATA="$work/authority-data" \
	LICENSEDESK_PREPARE_ADDR="$addr" \
	go test -tags migrated_fynedo -count=1 -run '^TestPrepareLicensedHome$' ./app >"$work/prepare.log" 2>&1 ||
	{ cat "$work/prepare.log"; exit 1; }
# The license's issuer keeps answering during the benchmark, as in a shop.
"$work/authority" -addr "$addr" -data "$work/authority-data" >"$work/authority.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -fs "http://$addr/healthz" >/dev/null 2>&1 && break; sleep 0.05; done

# Both programs get the same fresh Fyne config and cache directories.
export XDG_CONFIG_HOME="$work/config" XDG_CACHE_HOME="$work/cache"
mkdir -p "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME"
app_cmd=(env LICENSEDESK_HOME="$work/home" "$work/licensedesk" -authority "http://$addr")
bare_cmd=("$work/barewindow")

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# Pixel probes on a strip of the window, one per program: what "shown"
# means for it. Both crops are small so that the probe itself (import +
# grep) costs about the same for both programs. The app draws the license status "Licensed" in the theme's
# success green; the bare window draws its light label text.
shown_app() { # window id → exit 0 when the green status value is drawn
	local n
	n=$(import -window "$1" -depth 8 -crop 88x28+36+84 +repage txt:- 2>/dev/null | grep -cE '#[0-7][0-9A-F][C-F][0-9A-F][0-7][0-9A-F]' || true)
	[ "${n:-0}" -ge 20 ]
}
shown_bare() {
	local n
	n=$(import -window "$1" -depth 8 -crop 200x40+0+0 +repage txt:- 2>/dev/null | grep -cE '#[89A-F][0-9A-F][89A-F][0-9A-F][89A-F]' || true)
	[ "${n:-0}" -ge 20 ]
}

# start NAME TITLE PROBE CMD… — starts the program and waits for its window
# and content. Sets PID, WIN, T_MAP and T_SHOWN (ms since exec).
start() {
	local name=$1 title=$2 probe=$3 t0 deadline
	shift 3
	t0=$(now_ms)
	"$@" >>"$work/$name.log" 2>&1 &
	PID=$!
	pids+=("$PID")
	deadline=$((t0 + 30000))
	WIN=""
	until WIN=$(xdotool search --onlyvisible --name "^$title\$" 2>/dev/null | head -1) && [ -n "$WIN" ]; do
		kill -0 "$PID" 2>/dev/null || {
			echo "$name exited before its window appeared:"
			grep -m1 -B6 -A8 -E '^(panic|fatal error|SIG)' "$work/$name.log" || tail "$work/$name.log"
			exit 1
		}
		[ "$(now_ms)" -lt "$deadline" ] || { echo "$name: no window"; exit 1; }
		sleep 0.01
	done
	T_MAP=$(($(now_ms) - t0))
	until "$probe" "$WIN"; do
		[ "$(now_ms)" -lt "$deadline" ] || { echo "$name: content never shown"; exit 1; }
		sleep 0.01
	done
	T_SHOWN=$(($(now_ms) - t0))
}

stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
rss_kib() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; } # utime + stime
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2 }'; }

measure() { # name title probe cmd… → appends "map shown rss" to $work/name.runs
	local name=$1 title=$2 probe=$3
	shift 3
	start "$name" "$title" "$probe" "$@"
	sleep 5
	echo "$T_MAP $T_SHOWN $(rss_kib "$PID")" >>"$work/$name.runs"
	stop "$PID"
	sleep 0.5
}

echo "== warm-up (not counted)"
for p in app bare; do
	if [ $p = app ]; then start app "License Desk" shown_app "${app_cmd[@]}"; else start bare "Bare Window" shown_bare "${bare_cmd[@]}"; fi
	stop "$PID"
done

echo "== $runs runs each, alternating"
for i in $(seq "$runs"); do
	measure bare "Bare Window" shown_bare "${bare_cmd[@]}"
	measure app "License Desk" shown_app "${app_cmd[@]}"
	printf '  run %d: bare %s | app %s   (mapped ms, shown ms, RSS KiB)\n' "$i" \
		"$(tail -1 "$work/bare.runs")" "$(tail -1 "$work/app.runs")"
done

echo "== idle CPU over ${idle}s (both running, after 5 s to settle)"
start bare "Bare Window" shown_bare "${bare_cmd[@]}"
bare_pid=$PID
start app "License Desk" shown_app "${app_cmd[@]}"
app_pid=$PID
sleep 5
hz=$(getconf CLK_TCK)
b0=$(cpu_ticks "$bare_pid") a0=$(cpu_ticks "$app_pid")
sleep "$idle"
b1=$(cpu_ticks "$bare_pid") a1=$(cpu_ticks "$app_pid")
stop "$app_pid"
stop "$bare_pid"

col() { awk -v c="$1" '{ print $c }' "$work/$2.runs" | median; }
bm=$(col 1 bare) am=$(col 1 app) bs=$(col 2 bare) as=$(col 2 app) br=$(col 3 bare) ar=$(col 3 app)
verdict() { if awk "BEGIN { exit !($1) }"; then echo ok; else echo MISSED; fi; }

echo
echo "== start-up and memory, median of $runs runs ($(nproc) cores, Xvfb, Mesa software GL)"
printf '%-28s %12s %12s %8s  %s\n' "" "bare window" "License Desk" "ratio" "goal"
printf '%-28s %12s %12s %8.2f  %s %s\n' "exec → window mapped (ms)" "$bm" "$am" "$(awk -v a="$am" -v b="$bm" 'BEGIN { print a / b }')" "≤ 1.15" "$(verdict "$am / $bm <= 1.15")"
printf '%-28s %12s %12s %8.2f  %s %s\n' "exec → content shown (ms)" "$bs" "$as" "$(awk -v a="$as" -v b="$bs" 'BEGIN { print a / b }')" "≤ 1.15" "$(verdict "$as / $bs <= 1.15")"
printf '%-28s %12s %12s %8.2f  %s %s\n' "RSS after 5 s idle (MiB)" "$(awk -v v="$br" 'BEGIN { printf "%.1f", v / 1024 }')" "$(awk -v v="$ar" 'BEGIN { printf "%.1f", v / 1024 }')" "$(awk -v a="$ar" -v b="$br" 'BEGIN { print a / b }')" "≤ 1.25" "$(verdict "$ar / $br <= 1.25")"
printf '%-28s %12s %12s %8s  %s\n' "CPU over ${idle}s idle (ms)" "$(((b1 - b0) * 1000 / hz))" "$(((a1 - a0) * 1000 / hz))" "" "~0"
awk -v a=$((a1 - a0)) -v b=$((b1 - b0)) -v hz="$hz" -v s="$idle" \
	'BEGIN { printf "idle CPU: License Desk %.3f %%, bare window %.3f %% of one core\n", 100 * a / hz / s, 100 * b / hz / s }'

echo
echo "== with the window closed: the agent and the tray over ${idle}s idle"
agent_pid=$(pgrep -f -- "agent -data $work/home" | head -1)
tray_pid=$(pgrep -f -- "tray -data $work/home" | head -1)
if [ -z "$agent_pid" ] || [ -z "$tray_pid" ]; then
	echo "the window did not leave an agent ($agent_pid) and a tray ($tray_pid) running"
	exit 1
fi
start bare "Bare Window" shown_bare "${bare_cmd[@]}"
bare_pid=$PID
sleep 5
g0=$(cpu_ticks "$agent_pid") t0=$(cpu_ticks "$tray_pid") b0=$(cpu_ticks "$bare_pid")
sleep "$idle"
g1=$(cpu_ticks "$agent_pid") t1=$(cpu_ticks "$tray_pid") b1=$(cpu_ticks "$bare_pid")
gr=$(rss_kib "$agent_pid") tr=$(rss_kib "$tray_pid") brr=$(rss_kib "$bare_pid")
stop "$bare_pid"
mib() { awk -v v="$1" 'BEGIN { printf "%.1f", v / 1024 }'; }
echo "agent: $(tr '\0' ' ' </proc/"$agent_pid"/cmdline | cut -c1-60)…"
echo "tray:  $(tr '\0' ' ' </proc/"$tray_pid"/cmdline | cut -c1-60)…"
printf '%-34s %10s %10s %10s %10s  %s\n' "" "bare" "agent" "tray" "agent+tray" "goal"
printf '%-34s %10s %10s %10s %10s  %s %s\n' "RSS (MiB)" "$(mib "$brr")" "$(mib "$gr")" "$(mib "$tr")" "$(mib $((gr + tr)))" \
	"≤ 0.3× bare" "$(verdict "($gr + $tr) / $brr <= 0.3") ($(awk -v a=$((gr + tr)) -v b="$brr" 'BEGIN { printf "%.2f", a / b }')×)"
awk -v g=$((g1 - g0)) -v t=$((t1 - t0)) -v b=$((b1 - b0)) -v hz="$hz" -v s="$idle" 'BEGIN {
	printf "%-34s %9.3f%% %9.3f%% %9.3f%% %9.3f%%  ≤ 0.1 %%\n", "CPU over the idle period (% of a core)", 100*b/hz/s, 100*g/hz/s, 100*t/hz/s, 100*(g+t)/hz/s }'
