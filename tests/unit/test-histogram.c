/*
 * test-histogram.c: arpc-bench's latency histogram reports quantiles within
 * its stated precision (1/64 of the value), keeps exact min and max, and
 * merges without loss.
 */
#include "config.h"

#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "histogram.h"

static void assert_within(uint64_t got, double want, double rel)
{
	double err = (double)got - want;
	if (err < 0)
		err = -err;
	if (err > want * rel + 1)
		fail_msg("%llu is not within %.2f%% of %.0f", (unsigned long long)got, rel * 100, want);
}

static void test_uniform_quantiles(void **state)
{
	struct histogram *h = malloc(sizeof(*h));
	assert_non_null(h);
	hist_init(h);
	for (uint64_t v = 1; v <= 1000000; v++)
		hist_record(h, v);
	assert_int_equal(h->total, 1000000);
	assert_int_equal(h->min, 1);
	assert_int_equal(h->max, 1000000);
	const double qs[] = { 0.5, 0.9, 0.99, 0.999 };
	for (int i = 0; i < 4; i++)
		assert_within(hist_quantile(h, qs[i]), qs[i] * 1e6, 1.0 / 64);
	assert_int_equal(hist_quantile(h, 1.0), 1000000);
	assert_within((uint64_t)hist_mean(h), 500000.5, 1e-6);
	free(h);
}

static void test_small_values_are_exact(void **state)
{
	struct histogram *h = malloc(sizeof(*h));
	assert_non_null(h);
	hist_init(h);
	for (uint64_t v = 0; v < 100; v++)
		hist_record(h, v);
	assert_int_equal(hist_quantile(h, 0.5), 49);
	assert_int_equal(hist_quantile(h, 0.01), 0);
	free(h);
}

static void test_outliers_and_merge(void **state)
{
	struct histogram *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
	assert_non_null(a);
	assert_non_null(b);
	hist_init(a);
	hist_init(b);
	for (int i = 0; i < 999; i++)
		hist_record(a, 20000); /* 20 us */
	hist_record(b, 5000000000ull); /* one 5 s stall */
	hist_merge(a, b);
	assert_int_equal(a->total, 1000);
	assert_within(hist_quantile(a, 0.5), 20000, 1.0 / 64);
	assert_within(hist_quantile(a, 0.999), 20000, 1.0 / 64);
	assert_int_equal(hist_quantile(a, 1.0), 5000000000ull);
	assert_int_equal(a->max, 5000000000ull);
	/* An empty histogram reports zeros rather than garbage. */
	hist_init(b);
	assert_int_equal(hist_quantile(b, 0.5), 0);
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uniform_quantiles),
		cmocka_unit_test(test_small_values_are_exact),
		cmocka_unit_test(test_outliers_and_merge),
	};
	return cmocka_run_group_tests_name("histogram", tests, NULL, NULL);
}
