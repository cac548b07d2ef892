/*
 * test-status.c: status numbers are fixed by the protocol, and each has a
 * name and a sentence.
 */
#include "config.h"

#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <arpc/arpc.h>

static void test_numbers_are_the_protocol(void **state)
{
	/* docs/protocol.md, "Status codes": append only. */
	assert_int_equal(ARPC_S_OK, 0);
	assert_int_equal(ARPC_S_ASYNC_CALL_PENDING, 1);
	assert_int_equal(ARPC_S_CALL_CANCELLED, 2);
	assert_int_equal(ARPC_S_CALL_FAILED, 3);
	assert_int_equal(ARPC_S_CALL_FAILED_DNE, 4);
	assert_int_equal(ARPC_S_SERVER_UNAVAILABLE, 5);
	assert_int_equal(ARPC_S_SERVER_TOO_BUSY, 6);
	assert_int_equal(ARPC_S_TIMEOUT, 7);
	assert_int_equal(ARPC_S_INVALID_ASYNC_HANDLE, 8);
	assert_int_equal(ARPC_S_INVALID_ASYNC_CALL, 9);
	assert_int_equal(ARPC_S_ASYNC_HANDLE_BUSY, 10);
	assert_int_equal(ARPC_S_UNKNOWN_METHOD, 11);
	assert_int_equal(ARPC_S_ACCESS_DENIED, 12);
	assert_int_equal(ARPC_S_PROTOCOL_ERROR, 13);
	assert_int_equal(ARPC_S_INVALID_ARG, 14);
	assert_int_equal(ARPC_S_NO_MEMORY, 15);
	assert_int_equal(ARPC_S_BUFFER_TOO_SMALL, 16);
	assert_int_equal(ARPC_S_APP_FAULT, 17);
	assert_int_equal(ARPC_S_APC_RAN, 18);
	assert_int_equal(ARPC_S_WRONG_THREAD, 19);
	assert_int_equal(ARPC_S_WRONG_PROCESS, 20);
}

static void test_every_status_has_distinct_words(void **state)
{
	for (int s = 0; s < ARPC_S_STATUS_MAX_; s++) {
		const char *name = arpc_status_name((arpc_status)s);
		const char *text = arpc_strerror((arpc_status)s);
		assert_non_null(name);
		assert_non_null(text);
		assert_true(strncmp(name, "ARPC_S_", 7) == 0);
		assert_string_not_equal(name, "ARPC_S_UNKNOWN");
		assert_string_not_equal(text, "unknown status");
		for (int t = 0; t < s; t++) {
			assert_string_not_equal(name, arpc_status_name((arpc_status)t));
			assert_string_not_equal(text, arpc_strerror((arpc_status)t));
		}
	}
	assert_string_equal(arpc_status_name(ARPC_S_TIMEOUT), "ARPC_S_TIMEOUT");
}

static void test_unknown_values(void **state)
{
	assert_string_equal(arpc_strerror(ARPC_S_STATUS_MAX_), "unknown status");
	assert_string_equal(arpc_strerror((arpc_status)-1), "unknown status");
	assert_string_equal(arpc_status_name((arpc_status)100000), "ARPC_S_UNKNOWN");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_numbers_are_the_protocol),
		cmocka_unit_test(test_every_status_has_distinct_words),
		cmocka_unit_test(test_unknown_values),
	};
	return cmocka_run_group_tests_name("status", tests, NULL, NULL);
}
