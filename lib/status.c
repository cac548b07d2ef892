/*
 * status.c: the one place where an arpc_status becomes words.
 */
#include "config.h"

#include <arpc/arpc.h>

struct status_text {
	const char *name;
	const char *sentence;
};

static const struct status_text status_texts[ARPC_S_STATUS_MAX_] = {
	[ARPC_S_OK] = { "ARPC_S_OK", "success" },
	[ARPC_S_ASYNC_CALL_PENDING] = { "ARPC_S_ASYNC_CALL_PENDING", "the call has not completed yet" },
	[ARPC_S_CALL_CANCELLED] = { "ARPC_S_CALL_CANCELLED", "the call was cancelled" },
	[ARPC_S_CALL_FAILED] = { "ARPC_S_CALL_FAILED",
	                         "the connection was lost after the request was sent; the call may have run" },
	[ARPC_S_CALL_FAILED_DNE] = { "ARPC_S_CALL_FAILED_DNE", "the call failed and did not execute" },
	[ARPC_S_SERVER_UNAVAILABLE] = { "ARPC_S_SERVER_UNAVAILABLE", "the server is unavailable" },
	[ARPC_S_SERVER_TOO_BUSY] = { "ARPC_S_SERVER_TOO_BUSY", "the server is too busy to take the call" },
	[ARPC_S_TIMEOUT] = { "ARPC_S_TIMEOUT", "the call's deadline passed" },
	[ARPC_S_INVALID_ASYNC_HANDLE] = { "ARPC_S_INVALID_ASYNC_HANDLE",
	                                  "the async handle is not initialized, stale or of the wrong size" },
	[ARPC_S_INVALID_ASYNC_CALL] = { "ARPC_S_INVALID_ASYNC_CALL",
	                                "the operation does not fit the state of the async call" },
	[ARPC_S_ASYNC_HANDLE_BUSY] = { "ARPC_S_ASYNC_HANDLE_BUSY", "the async handle already has a pending call" },
	[ARPC_S_UNKNOWN_METHOD] = { "ARPC_S_UNKNOWN_METHOD", "the server has no such method" },
	[ARPC_S_ACCESS_DENIED] = { "ARPC_S_ACCESS_DENIED", "the server refused access" },
	[ARPC_S_PROTOCOL_ERROR] = { "ARPC_S_PROTOCOL_ERROR", "a peer broke the wire protocol" },
	[ARPC_S_INVALID_ARG] = { "ARPC_S_INVALID_ARG", "invalid argument" },
	[ARPC_S_NO_MEMORY] = { "ARPC_S_NO_MEMORY", "out of memory" },
	[ARPC_S_BUFFER_TOO_SMALL] = { "ARPC_S_BUFFER_TOO_SMALL", "the reply does not fit the buffer" },
	[ARPC_S_APP_FAULT] = { "ARPC_S_APP_FAULT", "the server's handler failed the call" },
	[ARPC_S_APC_RAN] = { "ARPC_S_APC_RAN", "the wait ended because APCs ran" },
	[ARPC_S_WRONG_THREAD] = { "ARPC_S_WRONG_THREAD",
	                          "a blocking call cannot be made on the library's I/O thread" },
	[ARPC_S_WRONG_PROCESS] = { "ARPC_S_WRONG_PROCESS",
	                           "the binding or call belongs to the process this one forked from" },
};

static const struct status_text *status_text(arpc_status s)
{
	if ((unsigned)s >= ARPC_S_STATUS_MAX_ || !status_texts[s].name)
		return NULL;
	return &status_texts[s];
}

const char *arpc_strerror(arpc_status s)
{
	const struct status_text *t = status_text(s);
	return t ? t->sentence : "unknown status";
}

const char *arpc_status_name(arpc_status s)
{
	const struct status_text *t = status_text(s);
	return t ? t->name : "ARPC_S_UNKNOWN";
}
