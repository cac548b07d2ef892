/*
 * fault-harness.c: see fault-harness.h.
 */
#include "config.h"

#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "fault-harness.h"

int fault_setup(void **state, const char *config)
{
	struct harness *h = calloc(1, sizeof(*h));
	if (!h)
		return -1;
	*state = h;
	if (harness_init(h, config) != 0 || harness_start(h, NULL) != 0)
		return -1;
	return 0;
}

int fault_teardown(void **state)
{
	struct harness *h = *state;
	if (h) {
		harness_cleanup(h);
		free(h);
	}
	return 0;
}

void fault_expect_stat(struct harness *h, const char *key, long long want)
{
	if (!harness_wait_stat(h, key, want, HARNESS_TIMEOUT_MS))
		fail_msg("sys.stats %s is %lld, not %lld, after %d ms", key, harness_stat(h, key),
		         want, HARNESS_TIMEOUT_MS);
}
