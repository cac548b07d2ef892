/*
 * log.h: arpcd's log, in the shape of OpenBSD's log.h.
 *
 * Every line goes to stderr in one write(2), so lines from several threads
 * never interleave.  When journald reads stderr ($JOURNAL_STREAM names
 * stderr's device and inode) each line starts with a <N> priority prefix;
 * otherwise with "arpcd: LEVEL: ".  All functions may be called from any
 * thread.
 */
#ifndef ARPCD_LOG_H
#define ARPCD_LOG_H

#include <stdarg.h>
#include <syslog.h>

/* Reads $JOURNAL_STREAM and sets the level (a LOG_* priority). */
void log_init(int level);
void log_set_level(int level);
int log_get_level(void);

/* "error", "warning", "notice", "info", "debug" <-> LOG_*; -1 if unknown. */
int log_level_parse(const char *name);
const char *log_level_name(int level);

/* Whether a line at `prio` would be written: guards costly formatting. */
int log_enabled(int prio);

void log_vmsg(int prio, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
void log_msg(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* log_error and log_warn append ": strerror(errno)"; the x forms do not. */
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_errorx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Log at LOG_CRIT and exit(1); fatal appends strerror(errno). */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
