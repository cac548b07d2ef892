/*
 * fault-harness.h: what the fault tests (fault.am) share on top of the
 * harness: a daemon per test program with the test's own config, and a
 * bounded wait for a sys.stats counter.
 */
#ifndef ARPC_FAULT_HARNESS_H
#define ARPC_FAULT_HARNESS_H

#include "harness.h"

/* cmocka group setup: *state = a harness running arpcd with `config`
 * ([daemon] keys, then other sections; see harness_init).  0 or -1. */
int fault_setup(void **state, const char *config);

/* cmocka group teardown: kills what is left, removes the directory. */
int fault_teardown(void **state);

/* Fails the test unless sys.stats `key` becomes `want` within
 * HARNESS_TIMEOUT_MS. */
void fault_expect_stat(struct harness *h, const char *key, long long want);

#endif
