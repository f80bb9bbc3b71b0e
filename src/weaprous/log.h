/*
 * log.h - the process's error log and access log.
 *
 * Error log lines: "2026-11-21T10:00:00Z backend[1234] [warn] message"
 * (UTC time, the tag set by log_set_tag() and the pid, the level).  log_warn() adds
 * strerror(errno); log_warnx() does not (OpenBSD's convention).  The access
 * log uses nginx's "combined" format.  Both write with one write(2) per line
 * so that lines from several processes sharing a file do not interleave.
 */
#ifndef WEAPROUS_LOG_H
#define WEAPROUS_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <time.h>

#include "weaprous/api.h"

WR_API_BEGIN

enum log_level { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* Opens the error log (NULL or "-": stderr) and sets the level. */
int log_open(const char *path, enum log_level level);
/* Opens the access log (NULL: none, "-": stdout, "off": none). */
int log_open_access(const char *path);
/* Reopens both files (after rotation, on SIGUSR1). */
int log_reopen(void);
void log_close(void);
/* Parses "error", "warn", "info", "debug"; -1 if unknown. */
int log_level_parse(const char *s);
void log_set_tag(const char *tag);   /* role name shown in each line */

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
bool log_enabled(enum log_level level);

/* Writes one access-log line (already formatted, without newline). */
void log_access_line(const char *line, size_t len);
bool log_access_enabled(void);

WR_API_END

#endif
