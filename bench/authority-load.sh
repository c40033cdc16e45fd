#!/usr/bin/env bash
# Load benchmark of the reference authority (loopback only): for each N,
# start cmd/authority on a fresh data dir with a 1 s polling interval, run
# bench/authorityload against it, and print one table at the end.
#
#   bench/authority-load.sh                 # N = 1000 and 10000, 30 s each
#   NS="1000" DURATION=20s bench/authority-load.sh
#
# Under attack: ATTACKERS=50 floods /device/authorize and /login from
# 127.0.0.2-127.0.0.51 at ATTACK_RPS requests/s in all while the devices
# poll at the authority's interval (POLL, default 1s; 5s is the default
# of a real authority), and adds the attacker's and the server's figures:
#
#   NS=10000 POLL=5s DURATION=60s RAMP=10s ATTACKERS=50 bench/authority-load.sh
#   PIN=1 …   the authority on CPU 0, the devices and the attacker on the rest
#   AUTHORITY_ENV="GOGC=400" …   environment of the authority only
#
# The approvals license STORES stores in turn (default 1000, seeded beside
# the demo, in customers of ten stores; the approvers are vendor staff and
# choose each store's customer): with the default 10 % approved of 10,000
# devices, each approval is a store's first license. STORES=0 licenses one
# device with every approval, each a license move (the bench before).
#
# PPROF=DIR also profiles the authority (its -pprof flag): a CPU profile of
# the first PPROF_SECONDS (default 20) of the load, and the block and mutex
# profiles at the end, into DIR/{cpu,block,mutex}-N.pb.gz, with the top of
# each printed (go tool pprof -top), and the authority's log
# (PPROF_CONTENTION=0: the CPU profile only, without the cost of
# recording every blocking event). TRACE_AT=S
# adds a 5-second execution trace from S seconds into the load
# (DIR/trace-N.out) and where its goroutines waited to run
# (go tool trace -pprof=sched). TIMELINE=1 prints the devices' latencies
# second by second. SCHED=1 reports how long the authority's goroutines
# waited for a CPU (its -pprof /debug/sched) beside the load generator's,
# over the run and, with TIMELINE=1, per second; without PPROF it records
# no block or mutex profile, which would slow the authority.
set -euo pipefail
cd "$(dirname "$0")/.."

NS=${NS:-"1000 10000"}
DURATION=${DURATION:-30s}
RAMP=${RAMP:-5s}
POLL=${POLL:-1s}
ATTACKERS=${ATTACKERS:-0}
ATTACK_RPS=${ATTACK_RPS:-1000}
STORES=${STORES:-1000}
PPROF=${PPROF:-}
PPROF_SECONDS=${PPROF_SECONDS:-20}
TRACE_AT=${TRACE_AT:-}
SCHED=${SCHED:-0}
TIMELINE=${TIMELINE:-0}

# Each device may hold a connection on both sides: raise the descriptor
# limit as far as the hard limit allows.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

work=$(mktemp -d)
server=""
cleanup() {
	if [[ -n $server ]]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/authority" ./cmd/authority
go build -o "$work/authorityload" ./bench/authorityload
"$work/authorityload" -write-seed "$work/seed.json" -stores "$STORES"

# PIN=1 puts the authority on CPU 0 and the load (devices and attacker) on
# the others, as when the clients are other machines; otherwise they share
# every core and the clients' scheduling delays count in the latencies.
server_cpus="" load_cpus=""
if [[ ${PIN:-0} == 1 && $(nproc) -ge 2 ]]; then
	server_cpus="taskset -c 0" load_cpus="taskset -c 1-$(($(nproc) - 1))"
	echo "pinned: authority on CPU 0, load on CPUs 1-$(($(nproc) - 1))"
fi

results=()
for n in $NS; do
	pprof_flags=() sched_flags=()
	if [[ -n $PPROF || $SCHED == 1 ]]; then
		pprof_addr=127.0.0.1:$((20000 + RANDOM % 20000))
		pprof_flags=(-pprof "$pprof_addr")
		[[ $SCHED == 1 ]] && sched_flags=(-server-sched "http://$pprof_addr/debug/sched")
	fi
	if [[ -n $PPROF ]]; then
		mkdir -p "$PPROF"
		[[ ${PPROF_CONTENTION:-1} == 1 ]] && pprof_flags+=(-pprof-contention)
	fi
	env ${AUTHORITY_ENV:-} $server_cpus "$work/authority" -addr 127.0.0.1:0 -data "$work/data-$n" -demo -seed "$work/seed.json" -poll-interval "$POLL" -log-level warn "${pprof_flags[@]}" \
		>"$work/authority-$n.out" 2>"$work/authority-$n.err" &
	server=$!
	url=""
	for _ in $(seq 100); do
		url=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$work/authority-$n.out" 2>/dev/null | head -1 || true)
		[[ -n $url ]] && break
		sleep 0.1
	done
	[[ -n $url ]] || { cat "$work/authority-$n.err" >&2; exit 1; }
	echo "== N=$n against $url (ulimit -n $(ulimit -n)), load average $(cut -d' ' -f1-3 /proc/loadavg)"
	cpu_prof=""
	if [[ -n $PPROF ]]; then
		curl -s -o "$PPROF/cpu-$n.pb.gz" "http://$pprof_addr/debug/pprof/profile?seconds=$PPROF_SECONDS" &
		cpu_prof=$!
		if [[ -n $TRACE_AT ]]; then
			(sleep "$TRACE_AT"; curl -s -o "$PPROF/trace-$n.out" "http://$pprof_addr/debug/pprof/trace?seconds=5") &
			trace_pid=$!
		fi
	fi
	timeline=()
	[[ $TIMELINE == 1 ]] && timeline=(-timeline)
	$load_cpus "$work/authorityload" -url "$url" -n "$n" -duration "$DURATION" -ramp "$RAMP" \
		-attackers "$ATTACKERS" -attack-rps "$ATTACK_RPS" -stores "$STORES" -server-pid "$server" "${timeline[@]}" "${sched_flags[@]}" | tee "$work/load-$n.txt"
	results+=("$(grep '^RESULT' "$work/load-$n.txt")")
	echo "load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
	if [[ -n $PPROF ]]; then
		wait "$cpu_prof" || true
		if [[ -n $TRACE_AT ]]; then
			wait "$trace_pid" || true
			go tool trace -pprof=sched "$PPROF/trace-$n.out" >"$PPROF/sched-$n.pb.gz" 2>/dev/null || true
			echo "-- where the authority's goroutines waited to run (5 s from ${TRACE_AT} s)"
			go tool pprof -top -nodecount=25 "$work/authority" "$PPROF/sched-$n.pb.gz" 2>/dev/null | head -32 || true
		fi
		profiles=(cpu)
		if [[ ${PPROF_CONTENTION:-1} == 1 ]]; then
			profiles+=(block mutex)
			for p in block mutex; do curl -s -o "$PPROF/$p-$n.pb.gz" "http://$pprof_addr/debug/pprof/$p"; done
		fi
		for p in "${profiles[@]}"; do
			echo "-- $p profile of the authority (N=$n)"
			go tool pprof -top -nodecount=25 "$work/authority" "$PPROF/$p-$n.pb.gz" 2>/dev/null | head -32 || true
		done
	fi
	kill "$server"; wait "$server" 2>/dev/null || true; server=""
	if [[ -n $PPROF ]]; then cp "$work/authority-$n.err" "$PPROF/authority-$n.log"; fi
	if [[ -s $work/authority-$n.err ]]; then echo "authority log:"; head -20 "$work/authority-$n.err"; fi
done

echo
printf '%8s %10s %7s %9s %9s %9s %9s %9s %9s %10s %7s %9s %7s\n' devices requests req/s p50_ms p99_ms auth_p99 poll_p50 poll_p99 redeem_p99 steady_p99 errors slow_down tokens
for r in "${results[@]}"; do
	declare -A f=()
	for kv in ${r#RESULT }; do f[${kv%%=*}]=${kv#*=}; done
	printf '%8s %10s %7s %9s %9s %9s %9s %9s %9s %10s %7s %9s %7s\n' "${f[n]}" "${f[requests]}" "${f[rps]}" "${f[p50_ms]}" "${f[p99_ms]}" \
		"${f[authorize_p99_ms]}" "${f[poll_p50_ms]}" "${f[poll_p99_ms]}" "${f[redeem_p99_ms]}" "${f[steady_p99_ms]}" "${f[errors]}" "${f[slow_down]}" "${f[tokens]}"
	unset f
done
