#!/bin/sh
# `make install DESTDIR=TMP` installs everything a deployment needs, where
# configure said: arpcd (sbindir), arpc and arpc-bench, libarpc.so*, the
# headers, libarpc.pc, arpc/arpcd.conf, both systemd units (whose
# ExecStart= names the installed arpcd) and the five man pages; and
# `man -l` renders each page with no warning (groff -ww, MANWIDTH=80).
# The directories come from make (tests/integ/deploy.am); this runs in the
# build tree of make check and of make distcheck alike.
set -u

: "${ARPC_TOP_BUILDDIR:?}" "${arpc_make:?}" "${arpc_sbindir:?}" "${arpc_bindir:?}"
: "${arpc_libdir:?}" "${arpc_includedir:?}" "${arpc_pkgconfigdir:?}" "${arpc_sysconfdir:?}"
: "${arpc_unitdir:?}" "${arpc_mandir:?}"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/arpc-install.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/root

# A make of its own: not the jobserver of the make check that runs us.
if ! env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL $arpc_make -C "$ARPC_TOP_BUILDDIR" \
	install DESTDIR="$dest" > "$tmp/install.log" 2>&1; then
	echo "FAIL: make install DESTDIR=$dest:"
	cat "$tmp/install.log"
	exit 1
fi
echo "ok: make install DESTDIR=$dest"

fail=0
check() { # check DIR NAME...: each must be a file under $dest/DIR
	dir=$1
	shift
	for f in "$@"; do
		if [ -f "$dest$dir/$f" ]; then
			echo "ok: $dir/$f"
		else
			echo "FAIL: $dir/$f not installed"
			fail=1
		fi
	done
}
check "$arpc_sbindir" arpcd
check "$arpc_bindir" arpc arpc-bench
check "$arpc_includedir" arpc/arpc.h arpc/server.h
check "$arpc_pkgconfigdir" libarpc.pc
check "$arpc_sysconfdir" arpc/arpcd.conf
check "$arpc_unitdir" arpcd.service arpcd.socket
check "$arpc_mandir" man8/arpcd.8 man5/arpcd.conf.5 man1/arpc.1 man1/arpc-bench.1 man3/libarpc.3
if ls "$dest$arpc_libdir"/libarpc.so* > /dev/null 2>&1; then
	echo "ok: $(cd "$dest$arpc_libdir" && echo libarpc.so*)"
else
	echo "FAIL: no $arpc_libdir/libarpc.so*"
	fail=1
fi
for x in "$arpc_sbindir/arpcd" "$arpc_bindir/arpc" "$arpc_bindir/arpc-bench"; do
	[ -x "$dest$x" ] || { echo "FAIL: $x is not executable"; fail=1; }
done

# The unit runs the arpcd that was installed, with the installed config.
exec_start=$(sed -n 's/^ExecStart=//p' "$dest$arpc_unitdir/arpcd.service")
if [ "$exec_start" = "$arpc_sbindir/arpcd -c $arpc_sysconfdir/arpc/arpcd.conf" ]; then
	echo "ok: ExecStart=$exec_start"
else
	echo "FAIL: ExecStart=$exec_start, expected $arpc_sbindir/arpcd -c $arpc_sysconfdir/arpc/arpcd.conf"
	fail=1
fi

# Each page renders, exit status 0 and not a word on stderr.
if ! command -v man > /dev/null 2>&1; then
	echo "FAIL: man (Debian package man-db) is not installed: cannot render the pages"
	exit 1
fi
for page in man8/arpcd.8 man5/arpcd.conf.5 man1/arpc.1 man1/arpc-bench.1 man3/libarpc.3; do
	f=$dest$arpc_mandir/$page
	[ -f "$f" ] || continue
	LC_ALL=C.UTF-8 MANWIDTH=80 MANROFFOPT=-ww man -l "$f" > "$tmp/page.txt" 2> "$tmp/page.err"
	rc=$?
	if [ $rc -ne 0 ] || [ -s "$tmp/page.err" ] || [ ! -s "$tmp/page.txt" ]; then
		echo "FAIL: man -l $page exited $rc; stderr:"
		cat "$tmp/page.err"
		fail=1
	else
		echo "ok: man -l $page renders ($(wc -l < "$tmp/page.txt") lines, no warnings)"
	fi
done
exit $fail
