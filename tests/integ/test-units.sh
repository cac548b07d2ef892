#!/bin/sh
# The generated systemd units, checked with systemd-analyze (no PID 1
# needed):
#  - `systemd-analyze verify` prints nothing and exits 0 for arpcd.service
#    and arpcd.socket (in a temporary copy whose ExecStart= points at the
#    arpcd just built, since verify wants the executable to exist);
#  - `systemd-analyze security --offline=true` rates arpcd.service at an
#    overall exposure of 2.0 or less (printed below).
# Skips (77) only when systemd-analyze is not installed.
set -u

top_builddir=${ARPC_TOP_BUILDDIR:-.}
analyze=${SYSTEMD_ANALYZE:-systemd-analyze}
if ! command -v "$analyze" >/dev/null 2>&1; then
	echo "SKIP: $analyze not found (Debian package systemd): the units are not checked"
	exit 77
fi
for u in arpcd.service arpcd.socket; do
	if [ ! -f "$top_builddir/systemd/$u" ]; then
		echo "FAIL: $top_builddir/systemd/$u was not generated"
		exit 1
	fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/arpc-units.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
arpcd=$(cd "$top_builddir/daemon" && pwd)/arpcd
sed -E "s|^(ExecStart(Pre)?=)[^ ]*/arpcd |\\1$arpcd |" \
	"$top_builddir/systemd/arpcd.service" > "$tmp/arpcd.service" || exit 1
cp "$top_builddir/systemd/arpcd.socket" "$tmp/arpcd.socket" || exit 1
if ! grep -q "^ExecStart=$arpcd " "$tmp/arpcd.service"; then
	echo "FAIL: ExecStart= of arpcd.service does not run .../arpcd:"
	grep '^ExecStart' "$top_builddir/systemd/arpcd.service"
	exit 1
fi

fail=0
"$analyze" --version | head -n 1

# verify: exit status and output, both.
out=$("$analyze" verify --man=no "$tmp/arpcd.service" "$tmp/arpcd.socket" 2>&1)
rc=$?
if [ $rc -ne 0 ] || [ -n "$out" ]; then
	echo "FAIL: systemd-analyze verify exited $rc and said:"
	echo "$out"
	fail=1
else
	echo "ok: systemd-analyze verify is clean on arpcd.service and arpcd.socket"
fi

# security: the overall exposure level, from its last line.
out=$("$analyze" security --offline=true --no-pager "$tmp/arpcd.service" 2>&1)
rc=$?
echo "$out" | grep -v '^✓'
level=$(echo "$out" | sed -n 's/.*Overall exposure level for arpcd.service: \([0-9.]*\).*/\1/p')
if [ $rc -ne 0 ] || [ -z "$level" ]; then
	echo "FAIL: systemd-analyze security exited $rc without an exposure level"
	fail=1
elif awk -v l="$level" 'BEGIN { exit !(l <= 2.0) }'; then
	echo "ok: exposure level $level (at most 2.0)"
else
	echo "FAIL: exposure level $level is over 2.0"
	fail=1
fi
exit $fail
