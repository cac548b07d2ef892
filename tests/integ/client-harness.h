/*
 * client-harness.h: what libarpc's integration tests need of a daemon.
 */
#ifndef ARPC_CLIENT_HARNESS_H
#define ARPC_CLIENT_HARNESS_H

/* cmocka group setup/teardown: start and stop a real arpcd. */
int client_setup(void **state);
int client_teardown(void **state);
/* The endpoint of the running daemon, "unix:/tmp/.../arpcd.sock". */
const char *client_endpoint(void);

#endif
