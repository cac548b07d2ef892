/*
 * log.c: arpcd's log (see log.h).
 */
#include <config.h> /* autoconf's */

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

/* A line longer than this is cut; it keeps one write(2) per line. */
#define LOG_LINE_MAX 2048

static atomic_int log_level = LOG_INFO;
static int log_journal;

static const char *const level_names[] = {
	[LOG_EMERG] = "emerg",   [LOG_ALERT] = "alert", [LOG_CRIT] = "crit",
	[LOG_ERR] = "error",     [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
	[LOG_INFO] = "info",     [LOG_DEBUG] = "debug",
};

/* journald sets $JOURNAL_STREAM to "DEV:INODE" of the stream it reads; it
 * is only ours if stderr is still that stream (not redirected since). */
static int stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) != 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_init(int level)
{
	log_journal = stderr_is_journal();
	log_set_level(level);
}

void log_set_level(int level)
{
	atomic_store_explicit(&log_level, level, memory_order_relaxed);
}

int log_get_level(void)
{
	return atomic_load_explicit(&log_level, memory_order_relaxed);
}

int log_level_parse(const char *name)
{
	for (int i = LOG_ERR; i <= LOG_DEBUG; i++)
		if (strcmp(name, level_names[i]) == 0)
			return i;
	return -1;
}

const char *log_level_name(int level)
{
	if (level < LOG_EMERG || level > LOG_DEBUG)
		return "unknown";
	return level_names[level];
}

int log_enabled(int prio)
{
	return prio <= log_get_level();
}

/* Formats and writes one line; `err` >= 0 appends strerror(err). */
static void log_line(int prio, int err, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	size_t n;
	int r;

	if (log_journal)
		r = snprintf(line, sizeof(line), "<%d>", prio);
	else
		r = snprintf(line, sizeof(line), "arpcd: %s: ", log_level_name(prio));
	n = r > 0 ? (size_t)r : 0;
	r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (r > 0)
		n += (size_t)r;
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	if (err >= 0) {
		r = snprintf(line + n, sizeof(line) - n, ": %s", strerror(err));
		if (r > 0)
			n += (size_t)r;
		if (n > sizeof(line) - 2)
			n = sizeof(line) - 2;
	}
	line[n++] = '\n';
	/* A failed write to stderr has nowhere to be reported. */
	ssize_t w = write(STDERR_FILENO, line, n);
	(void)w;
}

void log_vmsg(int prio, const char *fmt, va_list ap)
{
	if (log_enabled(prio))
		log_line(prio, -1, fmt, ap);
}

void log_msg(int prio, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(prio, fmt, ap);
	va_end(ap);
}

#define LOG_FN(name, prio, with_errno)                                                            \
	void name(const char *fmt, ...)                                                           \
	{                                                                                         \
		int saved = errno;                                                                \
		va_list ap;                                                                       \
		if (!log_enabled(prio))                                                           \
			return;                                                                   \
		va_start(ap, fmt);                                                                \
		log_line(prio, with_errno ? saved : -1, fmt, ap);                                 \
		va_end(ap);                                                                       \
		errno = saved;                                                                    \
	}

LOG_FN(log_error, LOG_ERR, 1)
LOG_FN(log_errorx, LOG_ERR, 0)
LOG_FN(log_warn, LOG_WARNING, 1)
LOG_FN(log_warnx, LOG_WARNING, 0)
LOG_FN(log_notice, LOG_NOTICE, 0)
LOG_FN(log_info, LOG_INFO, 0)
LOG_FN(log_debug, LOG_DEBUG, 0)

void fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	va_start(ap, fmt);
	log_line(LOG_CRIT, saved, fmt, ap);
	va_end(ap);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_line(LOG_CRIT, -1, fmt, ap);
	va_end(ap);
	exit(1);
}
