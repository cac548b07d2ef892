#!/bin/sh
# A short run of the load test in make check: 20,000 mixed calls over 64
# connections, every reply checked (tests/stress/arpc-stress.c).
exec "${ARPC_TOP_BUILDDIR:-.}/tests/stress/arpc-stress" --calls 20000
