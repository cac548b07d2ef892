#!/bin/sh
# Runs the whole arpc test suite on a Debian 12 machine, from a clean clone:
# installs what is missing, then
#   1. a build with warnings as errors, and its make check;
#   2. an AddressSanitizer + UndefinedBehaviorSanitizer build's make check;
#   3. a ThreadSanitizer build's make check;
#   4. each libFuzzer target for ARPC_FUZZ_SECONDS (default 60) seconds;
#   5. make install DESTDIR=... and a program built against it with pkg-config;
#   6. make distcheck.
# Build trees go under _build/.  Exits non-zero at the first failure, after
# printing the failing tests' logs.
set -eu
cd "$(dirname "$0")"
top=$(pwd)
jobs=$(nproc 2>/dev/null || echo 2)
fuzz_seconds=${ARPC_FUZZ_SECONDS:-60}

stage() { printf '\n=== %s (%s)\n' "$1" "$(date +%T)"; }

show_failures() {
	dir=$1
	[ -f "$dir/test-suite.log" ] && sed -n '1,400p' "$dir/test-suite.log"
	return 1
}

check_in() {
	dir=$1; shift
	mkdir -p "$dir"
	(cd "$dir" && "$top/configure" -q "$@" && make -j"$jobs" >/dev/null) || return 1
	(cd "$dir" && make -j"$jobs" check) || show_failures "$dir"
}

stage "dependencies"
./scripts/deps.sh

stage "autogen"
./autogen.sh >/dev/null 2>&1 || ./autogen.sh

stage "build -Werror, make check"
check_in _build/werror --enable-werror

stage "ASan + UBSan build, make check"
check_in _build/asan --enable-werror --enable-sanitizers

stage "ThreadSanitizer build, make check"
check_in _build/tsan --enable-werror --enable-tsan

stage "fuzzing, ${fuzz_seconds} s per target"
mkdir -p _build/fuzz
(cd _build/fuzz && "$top/configure" -q CC=clang --enable-fuzzing &&
	make -j"$jobs" >/dev/null && make fuzz FUZZ_SECONDS="$fuzz_seconds")

stage "install with DESTDIR, build against it with pkg-config"
dest=$top/_build/destdir
rm -rf "$dest"
(cd _build/werror && make install DESTDIR="$dest" >/dev/null && make installcheck DESTDIR="$dest")

stage "make distcheck"
(cd _build/werror && make -j"$jobs" distcheck DISTCHECK_CONFIGURE_FLAGS=--enable-werror)

stage "all passed"
