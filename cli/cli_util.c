#include "rm_cli.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rm_safefile.h"

void rm_cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "rollmat %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int rm_cli_fail(const char *cmd, const rm_err *err, rm_status st)
{
    rm_cli_error(cmd, "%s", rm_err_message(err, st));
    return RM_EXIT_FAIL;
}

int rm_cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "rollmat %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (try 'rollmat %s --help')\n", cmd);
    va_end(ap);
    return RM_EXIT_USAGE;
}

int rm_cli_parse_double(const char *s, double min, double max, double *out)
{
    if (!s || !*s)
        return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v) || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int rm_cli_parse_long(const char *s, long min, long max, long *out)
{
    if (!s || !*s)
        return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static void stderr_log(void *user, rm_log_level level, const char *msg)
{
    rm_log_level max = user ? *(rm_log_level *)user : RM_LOG_INFO;
    if (level > max)
        return;
    const char *name = level <= RM_LOG_ERROR  ? "error"
                       : level == RM_LOG_WARN ? "warning"
                       : level == RM_LOG_INFO ? "info"
                                              : "debug";
    fprintf(stderr, "rollmat: %s: %s\n", name, msg);
}

rm_logger rm_cli_stderr_logger(rm_log_level *max_level)
{
    rm_logger l = {stderr_log, max_level};
    return l;
}

void rm_cli_reset_getopt(void)
{
    optind = 0; /* glibc: 0 also re-initialises internal state */
    opterr = 0; /* we print our own one-line errors */
}

int rm_cli_bad_option(const char *cmd, char **argv)
{
    /* After '?', optind has moved past the offending word (or its value). */
    const char *word = optind > 0 ? argv[optind - 1] : NULL;
    if (optopt && word && word[0] == '-' && word[1] != '-' && strchr(word, optopt))
        return rm_cli_usage_error(cmd, "option '-%c' is unknown or needs a value", optopt);
    if (word && word[0] == '-')
        return rm_cli_usage_error(cmd, "unknown option or missing value: '%s'", word);
    if (optopt)
        return rm_cli_usage_error(cmd, "option '-%c' is unknown or needs a value", optopt);
    return rm_cli_usage_error(cmd, "bad option");
}

const char *rm_cli_printable(const char *s, char *buf, size_t cap)
{
    size_t o = 0;
    if (!cap)
        return "";
    for (; s && *s && o + 1 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f) {
            if (o + 5 >= cap)
                break;
            o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", c);
        } else {
            buf[o++] = (char)c;
        }
    }
    buf[o] = 0;
    return buf;
}

static const char *kind_of_mode(mode_t m)
{
    return S_ISFIFO(m)   ? "a FIFO"
           : S_ISCHR(m)  ? "a character device"
           : S_ISBLK(m)  ? "a block device"
           : S_ISSOCK(m) ? "a socket"
           : S_ISDIR(m)  ? "a folder"
                         : "not a regular file";
}

int rm_cli_check_input(const char *cmd, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0 || S_ISREG(st.st_mode))
        return 0;
    rm_cli_error(cmd, "%s is %s, not a file: give a recording or results file", path,
                 kind_of_mode(st.st_mode));
    return RM_EXIT_FAIL;
}

int rm_cli_refuse_existing(const char *cmd, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return 0;
    rm_cli_error(cmd, "%s already exists; refusing to overwrite it", path);
    return RM_EXIT_FAIL;
}

/* Async-signal-safe: unlink, signal and raise only. */
static void remove_temps_and_die(int sig)
{
    rm_safefile_remove_pending();
    signal(sig, SIG_DFL);
    raise(sig);
}

void rm_cli_remove_temps_on_signal(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = remove_temps_and_die;
    sigfillset(&sa.sa_mask); /* one cleanup, not interrupted by another signal */
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction old;
        /* a signal ignored by whoever started us (nohup, `&` in a script)
         * stays ignored */
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
            continue;
        sigaction(sigs[i], &sa, NULL);
    }
}
