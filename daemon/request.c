/*
 * request.c: the pure step of dispatch (see request.h).
 */
#include <config.h> /* autoconf's */

#include <string.h>

#include "idmap.h"
#include "methods.h"
#include "request.h"
#include "wire.h"

static enum request_verdict decide_request(const struct methods *t, const struct idmap *calls,
                                           int draining, const struct wire_frame *f,
                                           struct request_decision *d)
{
	if (draining)
		return REQ_AFTER_GOAWAY;
	if ((d->call = idmap_get(calls, f->call_id)))
		return REQ_DUPLICATE_ID;
	if (!(d->method = methods_find(t, f->method, f->method_len)))
		return REQ_UNKNOWN_METHOD;
	return REQ_CALL;
}

enum request_verdict request_decide(const struct methods *t, const struct idmap *calls,
                                    int draining, const struct wire_frame *f,
                                    struct request_decision *d)
{
	d->method = NULL;
	d->call = NULL;
	switch (f->type) {
	case WIRE_REQUEST:
		return decide_request(t, calls, draining, f, d);
	case WIRE_CANCEL:
		return (d->call = idmap_get(calls, f->call_id)) ? REQ_CANCEL : REQ_CANCEL_UNKNOWN;
	case WIRE_PING:
		return REQ_PING;
	default:
		return REQ_NOT_FOR_SERVER;
	}
}

size_t request_stored_size(const struct wire_frame *f)
{
	return f->method_len + 1 + f->data_len;
}

const uint8_t *request_store(char *dst, const struct wire_frame *f)
{
	memcpy(dst, f->method, f->method_len);
	dst[f->method_len] = '\0';
	uint8_t *payload = (uint8_t *)dst + f->method_len + 1;
	if (f->data_len)
		memcpy(payload, f->data, f->data_len);
	return payload;
}
