#!/bin/sh
# Access control with a second uid (tests/integ/security-checks.c): a client
# runs as nobody through setpriv, so this needs root.  Skipped (77) with a
# message saying why when it cannot run.
set -u
top_builddir=${ARPC_TOP_BUILDDIR:?}
if [ "$(id -u)" != 0 ]; then
	echo "SKIP: the security tests run a client as 'nobody' with setpriv: run them as root"
	exit 77
fi
if ! command -v setpriv >/dev/null 2>&1; then
	echo "SKIP: setpriv (util-linux) is not installed: it runs the client as 'nobody'"
	exit 77
fi
if ! id nobody >/dev/null 2>&1; then
	echo "SKIP: there is no user 'nobody' to be the second uid"
	exit 77
fi
exec "$top_builddir/tests/integ/security-checks"
