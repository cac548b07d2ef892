#!/bin/sh
# targets.sh: measures every performance target of docs/benchmarks.md in
# one run, beside the raw baseline, in both placements:
#   split    arpcd pinned to CPU 1, arpc-bench to CPU 0
#   one-cpu  both pinned to CPU 0
# then the capacity targets (100,000 pending demo.async_delay calls over 10
# connections with workers = 2; 1,000 connections x 10 in flight).
#
# usage: bench/targets.sh [BUILDDIR] [SECONDS]
#   BUILDDIR  a configured and built tree (default: .); its daemon/arpcd and
#             bench/arpc-bench are used
#   SECONDS   duration of each timed run (default 5)
# Output: arpc-bench's text reports, each under a "## placement: what" line.
# Needs taskset (util-linux) and two CPUs.  Starts its own arpcd in a
# temporary directory and stops it (by PID) on exit.
set -eu
build=${1:-.}
secs=${2:-5}
arpcd=$build/daemon/arpcd
bench=$build/bench/arpc-bench
for f in "$arpcd" "$bench"; do
	[ -x "$f" ] || { echo "targets.sh: $f is not built (give the build tree)" >&2; exit 64; }
done
command -v taskset >/dev/null || { echo "targets.sh: taskset (util-linux) is needed" >&2; exit 69; }
[ "$(nproc)" -ge 2 ] || { echo "targets.sh: needs two CPUs, this machine has $(nproc)" >&2; exit 69; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/arpc-bench.XXXXXX")
pid=
stop_daemon() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		pid=
	fi
}
trap 'stop_daemon; rm -rf "$dir"' EXIT
trap 'exit 130' INT TERM

# start_daemon CPU WORKERS: arpcd on its own socket, pinned to CPU.
start_daemon() {
	cat >"$dir/arpcd.conf" <<EOF
[daemon]
listen = unix:$dir/arpcd.sock
workers = $2
log_level = warning
demo_methods = yes
[limits]
max_connections = 2048
EOF
	rm -f "$dir/arpcd.sock"
	taskset -c "$1" "$arpcd" -c "$dir/arpcd.conf" 2>"$dir/arpcd.log" &
	pid=$!
	i=0
	until "$bench" -e "unix:$dir/arpcd.sock" -n 1 --warmup 0 latency >/dev/null 2>&1; do
		i=$((i + 1))
		if [ $i -ge 100 ] || ! kill -0 "$pid" 2>/dev/null; then
			echo "targets.sh: arpcd did not start:" >&2
			cat "$dir/arpcd.log" >&2
			exit 70
		fi
		sleep 0.05
	done
}

run() {
	title=$1; shift
	printf '\n## %s\n' "$title"
	"$bench" -e "unix:$dir/arpcd.sock" "$@"
}

for placement in split one-cpu; do
	if [ $placement = split ]; then cpu=0 server=1; else cpu=0 server=0; fi
	printf '\n# placement %s: arpc-bench on CPU %s, server on CPU %s\n' $placement $cpu $server
	printf '\n## %s: baseline\n' $placement
	"$bench" -d "$secs" --cpu $cpu --server-cpu $server baseline
	start_daemon $server 4
	run "$placement: sync, inline" -d "$secs" --cpu $cpu latency
	run "$placement: sync, worker pool" -d "$secs" --cpu $cpu -m demo.echo_worker latency
	for kind in callback ioc event apc msg none; do
		run "$placement: 128 in flight, inline, $kind" -d "$secs" --cpu $cpu -w 128 \
			--notify=$kind throughput
	done
	run "$placement: 128 in flight, worker pool, callback" -d "$secs" --cpu $cpu -w 128 \
		-m demo.echo_worker throughput
	stop_daemon
done

printf '\n# capacity (unpinned)\n'
start_daemon 0-1 2
run "100,000 pending demo.async_delay 1000 over 10 connections, workers = 2" \
	--calls 100000 -c 10 --delay-ms 1000 delay
run "1,000 connections x 10 in flight" -d "$secs" -c 1000 -w 10 throughput
stop_daemon
