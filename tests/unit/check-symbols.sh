#!/bin/sh
# libarpc.so exports exactly the symbols of lib/libarpc.sym, all arpc_*,
# and each of them is declared in <arpc/arpc.h>.
set -eu
top_srcdir=${ARPC_TOP_SRCDIR:?}
top_builddir=${ARPC_TOP_BUILDDIR:?}
so=$top_builddir/lib/.libs/libarpc.so
[ -f "$so" ] || { echo "no $so (configured with --disable-shared?)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

${NM:-nm} -D --defined-only "$so" | awk '$2 ~ /^[TDBRVW]$/ { print $3 }' |
	sed 's/@.*//' | grep -v '^ARPC_1$' | sort -u > "$tmp/exported"
sed -n 's/^[[:space:]]*\(arpc_[a-z0-9_]*\);.*/\1/p' "$top_srcdir/lib/libarpc.sym" | sort -u > "$tmp/listed"

status=0
if ! diff -u "$tmp/listed" "$tmp/exported"; then
	echo "FAIL: exported symbols differ from lib/libarpc.sym (- listed, + exported)"
	status=1
fi
if grep -v '^arpc_' "$tmp/exported"; then
	echo "FAIL: symbols above do not start with arpc_"
	status=1
fi
while read -r sym; do
	grep -q "[ *]$sym(" "$top_srcdir/include/arpc/arpc.h" ||
		{ echo "FAIL: $sym is exported but not declared in <arpc/arpc.h>"; status=1; }
done < "$tmp/exported"
[ $status -eq 0 ] && echo "ok: $(wc -l < "$tmp/exported") symbols, all arpc_*, all listed and declared"
exit $status
