#!/bin/sh
# Sets arpc up on a Debian 12 machine from a clean clone: installs what is
# missing, builds, starts arpcd on its default configuration and makes a demo
# call to show it works.  The daemon keeps running in the background; the
# script prints how to stop it.
set -eu
cd "$(dirname "$0")"
top=$(pwd)
build=$top/_build/quick
jobs=$(nproc 2>/dev/null || echo 2)

./scripts/deps.sh
./autogen.sh >/dev/null 2>&1 || ./autogen.sh
mkdir -p "$build"
(cd "$build" && "$top/configure" -q && make -j"$jobs" >/dev/null)
echo "quickstart: built in $build"

arpcd=$build/daemon/arpcd

# The default config listens on /run/arpcd/arpcd.sock, which needs root; any
# other user gets the same config with the socket in its runtime directory.
# The shipped config with the demo methods on, for the demo call below.
conf=$build/arpcd.conf
sed 's/^demo_methods = no$/demo_methods = yes/' "$top/conf/arpcd.conf" >"$conf"
grep -qx 'demo_methods = yes' "$conf" || { echo "quickstart: no demo_methods line in conf/arpcd.conf" >&2; exit 1; }
if [ "$(id -u)" -eq 0 ]; then
	endpoint=unix:/run/arpcd/arpcd.sock
	mkdir -p /run/arpcd
	listen_override=
else
	rundir=${XDG_RUNTIME_DIR:-/tmp}
	endpoint=unix:$rundir/arpcd.sock
	listen_override="--listen $endpoint"
fi

pidfile=$build/arpcd.pid
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
	echo "quickstart: stopping the arpcd started earlier (pid $(cat "$pidfile"))"
	kill "$(cat "$pidfile")"
	i=0; while kill -0 "$(cat "$pidfile")" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
fi

"$arpcd" --check-config -c "$conf"
# shellcheck disable=SC2086
nohup "$arpcd" -c "$conf" $listen_override >"$build/arpcd.log" 2>&1 &
echo $! > "$pidfile"
sock=${endpoint#unix:}
i=0
while [ ! -S "$sock" ] && [ $i -lt 100 ]; do
	kill -0 "$(cat "$pidfile")" 2>/dev/null || { cat "$build/arpcd.log"; echo "quickstart: arpcd exited" >&2; exit 1; }
	sleep 0.1; i=$((i + 1))
done
[ -S "$sock" ] || { echo "quickstart: arpcd did not create $sock in 10 s" >&2; exit 1; }
echo "quickstart: arpcd running (pid $(cat "$pidfile")) on $endpoint, log in $build/arpcd.log"

"$build/tools/arpc" -e "$endpoint" demo
echo "quickstart: stop it with: kill $(cat "$pidfile")"
