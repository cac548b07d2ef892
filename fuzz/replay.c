/*
 * replay.c: runs a fuzz target over its committed corpus without libFuzzer,
 * so every input ever found (and every seed) stays a regression test in
 * `make check`, in every build, the sanitizer build included.  Prints TAP.
 *
 * Usage: replay-NAME [FILE_OR_DIR...]; with no argument, the corpus
 * $ARPC_TOP_SRCDIR/fuzz/corpus/NAME.
 */
#include "config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

#ifndef FUZZ_CORPUS
#error "FUZZ_CORPUS must name the corpus directory"
#endif

static int run_file(const char *path, int *n)
{
	FILE *fp = fopen(path, "rb");
	if (!fp) {
		printf("not ok %d - %s: cannot open\n", ++*n, path);
		return 1;
	}
	struct stat st;
	if (fstat(fileno(fp), &st) != 0 || st.st_size < 0) {
		fclose(fp);
		printf("not ok %d - %s: cannot stat\n", ++*n, path);
		return 1;
	}
	size_t size = (size_t)st.st_size;
	uint8_t *buf = malloc(size ? size : 1);
	if (!buf || fread(buf, 1, size, fp) != size) {
		free(buf);
		fclose(fp);
		printf("not ok %d - %s: cannot read\n", ++*n, path);
		return 1;
	}
	fclose(fp);
	LLVMFuzzerTestOneInput(buf, size);
	free(buf);
	printf("ok %d - %s\n", ++*n, path);
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_path(const char *path, int *n)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		printf("not ok %d - %s: missing\n", ++*n, path);
		return 1;
	}
	if (!S_ISDIR(st.st_mode))
		return run_file(path, n);
	DIR *dir = opendir(path);
	if (!dir) {
		printf("not ok %d - %s: cannot open directory\n", ++*n, path);
		return 1;
	}
	char **names = NULL;
	size_t count = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		if (count == cap) {
			cap = cap ? cap * 2 : 64;
			char **nn = realloc(names, cap * sizeof(*names));
			if (!nn)
				abort();
			names = nn;
		}
		size_t len = strlen(path) + strlen(de->d_name) + 2;
		names[count] = malloc(len);
		if (!names[count])
			abort();
		snprintf(names[count++], len, "%s/%s", path, de->d_name);
	}
	closedir(dir);
	qsort(names, count, sizeof(*names), cmp_names);
	int failed = 0;
	for (size_t i = 0; i < count; i++) {
		failed |= run_file(names[i], n);
		free(names[i]);
	}
	free(names);
	return failed;
}

int main(int argc, char **argv)
{
	int n = 0, failed = 0;
	if (argc > 1) {
		for (int i = 1; i < argc; i++)
			failed |= run_path(argv[i], &n);
	} else {
		const char *top = getenv("ARPC_TOP_SRCDIR");
		char path[4096];
		snprintf(path, sizeof(path), "%s/fuzz/corpus/%s", top ? top : ".", FUZZ_CORPUS);
		failed |= run_path(path, &n);
	}
	printf("1..%d\n", n);
	return failed;
}
