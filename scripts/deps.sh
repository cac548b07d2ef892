#!/bin/sh
# Installs the Debian 12 packages arpc needs to build, test, fuzz and run,
# skipping those already installed.  Used by quickstart.sh and runtests.sh;
# needs root or sudo only when something is missing.
set -eu

# build; test (cmocka; systemd-analyze and systemd-socket-activate for the
# unit and activation tests; procps for /bin/kill, which arpcd.service's
# ExecReload= runs and systemd-analyze verify checks; man for the man-page
# check); fuzz (clang and the libFuzzer runtime)
ARPC_PACKAGES="build-essential autoconf automake libtool pkg-config
libev-dev libinih-dev libsystemd-dev libcmocka-dev
systemd procps man-db
clang libclang-rt-14-dev"

missing=
for p in $ARPC_PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "deps: installing$missing"
if [ "$(id -u)" -eq 0 ]; then
	as_root=
elif command -v sudo >/dev/null 2>&1; then
	as_root=sudo
else
	echo "deps: need root (or sudo) to install:$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$as_root apt-get update -q
# shellcheck disable=SC2086
$as_root apt-get install -y -q --no-install-recommends $missing
