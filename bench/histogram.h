/*
 * histogram.h: a log-linear latency histogram in the style of HdrHistogram.
 * Values (nanoseconds) fall into power-of-two ranges, each split into
 * HIST_SUB/2 linear buckets, so every recorded value is known to within
 * 2/HIST_SUB (about 1.6 %) at a fixed, small memory cost, however many
 * samples are recorded.
 */
#ifndef ARPC_BENCH_HISTOGRAM_H
#define ARPC_BENCH_HISTOGRAM_H

#include <stdint.h>

#define HIST_SUB_BITS 7
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_RANGES 40 /* up to 2^(40+7) ns: far beyond any call */

struct histogram {
	uint64_t counts[HIST_RANGES][HIST_SUB];
	uint64_t total;
	uint64_t min, max;
	double sum;
};

void hist_init(struct histogram *h);
void hist_record(struct histogram *h, uint64_t value);
/* Adds every sample of `from` into `into`. */
void hist_merge(struct histogram *into, const struct histogram *from);
/* The value at quantile q (0..1]: an upper bound of its bucket, never above max. */
uint64_t hist_quantile(const struct histogram *h, double q);
double hist_mean(const struct histogram *h);

#endif
