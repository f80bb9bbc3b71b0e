/*
 * log.c - error and access logs.  See weaprous/log.h.
 *
 * The log is process-wide by nature (like syslog's openlog): it is set up
 * once by main() before the loop starts, and never changes on a hot path.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "weaprous/log.h"

#define LOG_LINE_MAX 2048
#define LOG_PATH_MAX 1024

static struct {
    int  fd, access_fd;
    enum log_level level;
    char path[LOG_PATH_MAX], access_path[LOG_PATH_MAX];
    char tag[32];
} lg = { 2, -1, LOG_LVL_INFO, "", "", "" };

static const char *const log_names[] = { "error", "warn", "info", "debug" };

static int log_open_file(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

static int log_set_file(int *fd, char *saved, const char *path, int dflt)
{
    int nfd = dflt;
    if (path && strcmp(path, "-") != 0) {
        nfd = log_open_file(path);
        if (nfd < 0)
            return -1;
    }
    if (*fd > 2)
        close(*fd);
    *fd = nfd;
    snprintf(saved, LOG_PATH_MAX, "%s", path && strcmp(path, "-") ? path : "");
    return 0;
}

int log_open(const char *path, enum log_level level)
{
    lg.level = level;
    return log_set_file(&lg.fd, lg.path, path, 2);
}

int log_open_access(const char *path)
{
    if (!path || strcmp(path, "off") == 0) {
        if (lg.access_fd > 2)
            close(lg.access_fd);
        lg.access_fd = -1;
        lg.access_path[0] = '\0';
        return 0;
    }
    return log_set_file(&lg.access_fd, lg.access_path, path, 1);
}

int log_reopen(void)
{
    int rc = 0;
    if (lg.path[0] && log_set_file(&lg.fd, lg.path, lg.path, 2) < 0)
        rc = -1;
    if (lg.access_path[0] && log_set_file(&lg.access_fd, lg.access_path, lg.access_path, 1) < 0)
        rc = -1;
    return rc;
}

void log_close(void)
{
    if (lg.fd > 2)
        close(lg.fd);
    if (lg.access_fd > 2)
        close(lg.access_fd);
    lg.fd = 2;
    lg.access_fd = -1;
}

int log_level_parse(const char *s)
{
    for (size_t i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++)
        if (strcasecmp(s, log_names[i]) == 0)
            return (int)i;
    return -1;
}

void log_set_tag(const char *tag)
{
    snprintf(lg.tag, sizeof(lg.tag), "%s", tag ? tag : "");
}

bool log_enabled(enum log_level level) { return level <= lg.level; }

static void log_emit(enum log_level level, int err, const char *fmt, va_list ap)
{
    if (level > lg.level)
        return;
    char line[LOG_LINE_MAX];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    size_t n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%SZ", &tm);
    n += (size_t)snprintf(line + n, sizeof(line) - n, " %s[%ld] [%s] ",
                          lg.tag, (long)getpid(), log_names[level]);
    int m = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    n = m < 0 ? n : (n + (size_t)m < sizeof(line) ? n + (size_t)m : sizeof(line) - 1);
    if (err && n < sizeof(line) - 1)
        n += (size_t)snprintf(line + n, sizeof(line) - n, ": %s", strerror(err));
    if (n >= sizeof(line) - 1)
        n = sizeof(line) - 2;
    line[n++] = '\n';
    if (write(lg.fd, line, n) < 0) {
        /* nowhere left to report it */
    }
}

#define LOG_FN(fname, lvl, keep_errno)                \
    void fname(const char *fmt, ...)                  \
    {                                                 \
        int saved = errno;                            \
        va_list ap;                                   \
        va_start(ap, fmt);                            \
        log_emit(lvl, keep_errno ? saved : 0, fmt, ap);\
        va_end(ap);                                   \
        errno = saved;                                \
    }

LOG_FN(log_error, LOG_LVL_ERROR, 0)
LOG_FN(log_warn, LOG_LVL_WARN, 1)
LOG_FN(log_warnx, LOG_LVL_WARN, 0)
LOG_FN(log_info, LOG_LVL_INFO, 0)
LOG_FN(log_debug, LOG_LVL_DEBUG, 0)

bool log_access_enabled(void) { return lg.access_fd >= 0; }

void log_access_line(const char *line, size_t len)
{
    if (lg.access_fd < 0)
        return;
    char out[LOG_LINE_MAX + 1];
    if (len > LOG_LINE_MAX)
        len = LOG_LINE_MAX;
    memcpy(out, line, len);
    out[len] = '\n';
    if (write(lg.access_fd, out, len + 1) < 0) {
        /* a full disk must not stop the server */
    }
}
