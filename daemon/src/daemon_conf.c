/* daemon_conf.c - recording names and the daemon's configuration file. */
#include "rm_daemon.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int rm_daemon_name_valid(const char *name)
{
    if (!name)
        return 0;
    size_t n = strlen(name);
    /* Room for the ".h5" the daemon may append. */
    if (n == 0 || n > RM_DAEMON_NAME_MAX - 4 || name[0] == '.')
        return 0;
    if (strstr(name, ".."))
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!(isascii(c) && (isalnum(c) || c == '.' || c == '_' || c == '-')))
            return 0;
    }
    return 1;
}

void rm_daemon_default_name(double unix_s, char *buf, size_t cap)
{
    time_t t = (time_t)floor(unix_s);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y%m%d-%H%M%S", &tm);
}

static char **conf_field(rm_daemon_conf *c, const char *key)
{
    static const struct {
        const char *key;
        size_t off;
    } keys[] = {
        {"socket", offsetof(rm_daemon_conf, socket)},
        {"recordings", offsetof(rm_daemon_conf, recordings)},
        {"serial", offsetof(rm_daemon_conf, serial)},
        {"vid_pid", offsetof(rm_daemon_conf, vid_pid)},
        {"rate", offsetof(rm_daemon_conf, rate)},
        {"log", offsetof(rm_daemon_conf, log)},
        {"replay", offsetof(rm_daemon_conf, replay)},
        {"publish_hz", offsetof(rm_daemon_conf, publish_hz)},
        {"catalogue", offsetof(rm_daemon_conf, catalogue)},
        {"http", offsetof(rm_daemon_conf, http)},
        {"http_token", offsetof(rm_daemon_conf, http_token)},
        {"profile", offsetof(rm_daemon_conf, profile)},
        {"idle_timeout", offsetof(rm_daemon_conf, idle_timeout)},
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!strcmp(keys[i].key, key))
            return (char **)((char *)c + keys[i].off);
    return NULL;
}

rm_status rm_daemon_conf_set(rm_daemon_conf *conf, const char *key, const char *value, rm_err *err)
{
    char **f = conf_field(conf, key);
    if (!f)
        return rm_err_set(err, RM_ERR_ARG, "unknown key '%s'", key);
    char *v = strdup(value);
    if (!v)
        return rm_err_set(err, RM_ERR_NOMEM, "out of memory");
    free(*f);
    *f = v;
    return RM_OK;
}

void rm_daemon_conf_clear(rm_daemon_conf *c)
{
    if (!c)
        return;
    free(c->socket);
    free(c->recordings);
    free(c->serial);
    free(c->vid_pid);
    free(c->rate);
    free(c->http);
    free(c->http_token);
    free(c->profile);
    free(c->log);
    free(c->replay);
    free(c->publish_hz);
    free(c->catalogue);
    free(c->idle_timeout);
    memset(c, 0, sizeof *c);
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

rm_status rm_daemon_conf_load(const char *path, rm_daemon_conf *conf, rm_err *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return rm_err_set(err, RM_ERR_IO, "%s: %s", path, strerror(errno));
    char line[1024];
    unsigned lineno = 0;
    rm_status st = RM_OK;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            st = rm_err_set(err, RM_ERR_FORMAT, "%s:%u: line longer than %zu bytes", path, lineno,
                            sizeof line - 2);
            break;
        }
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            st = rm_err_set(err, RM_ERR_FORMAT, "%s:%u: expected 'key = value'", path, lineno);
            break;
        }
        *eq = '\0';
        char *key = trim(s), *value = trim(eq + 1);
        if (*value == '\0') {
            st = rm_err_set(err, RM_ERR_FORMAT, "%s:%u: '%s' has no value", path, lineno, key);
            break;
        }
        rm_err e = {0};
        st = rm_daemon_conf_set(conf, key, value, &e);
        if (st != RM_OK) {
            rm_err_set(err, st, "%s:%u: %s", path, lineno, e.msg);
            break;
        }
    }
    if (st == RM_OK && ferror(f))
        st = rm_err_set(err, RM_ERR_IO, "%s: read error", path);
    fclose(f);
    return st;
}
