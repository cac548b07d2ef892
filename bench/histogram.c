/*
 * histogram.c: see histogram.h.
 */
#include "config.h"

#include <string.h>

#include "histogram.h"

void hist_init(struct histogram *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

/* Range 0 holds values below HIST_SUB exactly.  Range r >= 1 holds
 * [2^(r+SUB_BITS-1), 2^(r+SUB_BITS)) in buckets 2^r wide, indexed by
 * v >> r, which falls in [HIST_SUB/2, HIST_SUB). */
static void locate(uint64_t v, unsigned *range, unsigned *sub)
{
	if (v < HIST_SUB) {
		*range = 0;
		*sub = (unsigned)v;
		return;
	}
	unsigned bits = 64u - (unsigned)__builtin_clzll(v);
	unsigned r = bits - HIST_SUB_BITS;
	if (r >= HIST_RANGES) {
		*range = HIST_RANGES - 1;
		*sub = HIST_SUB - 1;
		return;
	}
	*range = r;
	*sub = (unsigned)(v >> r);
}

static uint64_t bucket_top(unsigned range, unsigned sub)
{
	if (range == 0)
		return sub;
	return (((uint64_t)sub + 1) << range) - 1;
}

void hist_record(struct histogram *h, uint64_t v)
{
	unsigned r, s;
	locate(v, &r, &s);
	h->counts[r][s]++;
	h->total++;
	h->sum += (double)v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

void hist_merge(struct histogram *into, const struct histogram *from)
{
	for (unsigned r = 0; r < HIST_RANGES; r++)
		for (unsigned s = 0; s < HIST_SUB; s++)
			into->counts[r][s] += from->counts[r][s];
	into->total += from->total;
	into->sum += from->sum;
	if (from->min < into->min)
		into->min = from->min;
	if (from->max > into->max)
		into->max = from->max;
}

uint64_t hist_quantile(const struct histogram *h, double q)
{
	if (h->total == 0)
		return 0;
	uint64_t rank = (uint64_t)(q * (double)h->total + 0.5);
	if (rank < 1)
		rank = 1;
	uint64_t seen = 0;
	for (unsigned r = 0; r < HIST_RANGES; r++) {
		for (unsigned s = 0; s < HIST_SUB; s++) {
			seen += h->counts[r][s];
			if (seen >= rank) {
				uint64_t top = bucket_top(r, s);
				return top > h->max ? h->max : top;
			}
		}
	}
	return h->max;
}

double hist_mean(const struct histogram *h)
{
	return h->total ? h->sum / (double)h->total : 0.0;
}
