/*
 * dispatch.h: what the daemon does with each frame a client sends.
 */
#ifndef ARPCD_DISPATCH_H
#define ARPCD_DISPATCH_H

#include <stdint.h>

struct conn;
struct wire_frame;

/* Handles one decoded frame from c, read at `now` (CLOCK_MONOTONIC ns).
 * May close c (a protocol error): the caller checks c->closed. */
void dispatch_frame(struct conn *c, const struct wire_frame *f, uint64_t now);

#endif
