#!/bin/sh
# Runs the whole CI (.ci/run) on fresh clones of this repository's HEAD while
# another build keeps both CPUs busy, the way CI often finds the machine.
# A test that fails only under load fails here.
#
#   scripts/ci-under-load.sh [RUNS]      (default 1)
#
# Each run clones HEAD into a new temporary directory, so uncommitted work is
# not tested.  The load is a loop that rebuilds a separate clone with make
# -j2 for as long as the runs last; it is stopped (by process group) when the
# script exits, however it exits.  Prints each run's wall time and result, and
# exits non-zero if any run failed.  Logs stay in the printed directory.
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
runs=${1:-1}
case $runs in
'' | *[!0-9]*) echo "usage: $0 [RUNS]" >&2; exit 2 ;;
esac

work=$(mktemp -d /tmp/arpc-ci-load.XXXXXX)
echo "ci-under-load: logs in $work"

load_pid=
stop_load() {
	if [ -n "$load_pid" ]; then
		kill -TERM -- "-$load_pid" 2>/dev/null || true
		wait "$load_pid" 2>/dev/null || true
		load_pid=
	fi
}
trap stop_load EXIT
trap 'stop_load; exit 130' INT TERM

git clone -q "$top" "$work/load"
(cd "$work/load" && ./autogen.sh >/dev/null 2>&1 && mkdir -p _build &&
	cd _build && ../configure -q >/dev/null) ||
	{ echo "ci-under-load: cannot configure the load tree" >&2; exit 1; }

# setsid: the load gets a process group of its own, killed as one.
setsid sh -c "cd '$work/load/_build' && while :; do make -s clean >/dev/null 2>&1; make -s -j2 >/dev/null 2>&1; done" &
load_pid=$!

failed=0
i=1
while [ "$i" -le "$runs" ]; do
	clone=$work/run$i
	git clone -q "$top" "$clone"
	start=$(date +%s)
	if (cd "$clone" && CI=true bash .ci/run </dev/null >"$work/run$i.log" 2>&1); then
		result=passed
	else
		result=FAILED
		failed=$((failed + 1))
	fi
	end=$(date +%s)
	echo "run $i: $result in $((end - start)) s, load average $(cut -d' ' -f1-3 /proc/loadavg) (log $work/run$i.log)"
	# The next run starts from a clean clone; this one's build trees go.
	[ "$result" = passed ] && rm -rf "$clone"
	i=$((i + 1))
done
stop_load
echo "ci-under-load: $((runs - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
