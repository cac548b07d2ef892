/* Built against an installed libarpc with `pkg-config --cflags --libs
 * libarpc` by `make installcheck`: the headers compile on their own and the
 * library links and runs. */
#include <arpc/arpc.h>
#include <arpc/server.h>

#include <stdio.h>
#include <string.h>

int main(void)
{
	const char *name = arpc_status_name(ARPC_S_TIMEOUT);
	if (strcmp(name, "ARPC_S_TIMEOUT") != 0) {
		fprintf(stderr, "pkgconfig-check: arpc_status_name gave '%s'\n", name);
		return 1;
	}
	printf("pkgconfig-check: linked libarpc: %s\n", arpc_strerror(ARPC_S_TIMEOUT));
	return 0;
}
