/* cmd_study.c - `rollmat study DIR`: keeps the study catalogue (an SQLite
 * database, rm_catalogue.h) of every recording below DIR up to date. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_analysis.h"
#include "rm_catalogue.h"
#include "rm_cli.h"
#include "rm_walk.h"

#define CMD "study"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: rollmat study DIR [--db FILE] [options]\n"
            "Indexes every recording below DIR (and its analysis and sets) into an SQLite\n"
            "catalogue; docs/study.md describes the tables.\n"
            "  --db FILE         the catalogue (default DIR/" RM_CATALOGUE_FILENAME ")\n"
            "  -p, --profile P   coaching profile of the analyses (default guide)\n"
            "      --force       analyse and index again even what is up to date\n"
            "      --follow-links  follow links to folders (each folder is read once)\n"
            "  -q, --quiet       no summary line\n"
            "Up to date means the same content (XXH64 of the file), profile and software;\n"
            "modification times play no part. Recordings gone from DIR leave the catalogue.\n"
            "Exit status: 0 ok, 1 if a recording failed or the catalogue is refused, 2 usage.\n");
}

typedef struct study_opts {
    const char *dir, *db, *profile;
    int force, follow, quiet;
} study_opts;

static int parse(int argc, char **argv, study_opts *o)
{
    enum { O_DB = 256, O_FORCE, O_FOLLOW };
    static const struct option opts[] = {
        {"db", required_argument, NULL, O_DB},
        {"profile", required_argument, NULL, 'p'},
        {"force", no_argument, NULL, O_FORCE},
        {"follow-links", no_argument, NULL, O_FOLLOW},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *o = (study_opts){.profile = "guide"};
    int c;
    while ((c = getopt_long(argc, argv, "p:qh", opts, NULL)) != -1) {
        switch (c) {
        case O_DB: o->db = optarg; break;
        case 'p': o->profile = optarg; break;
        case O_FORCE: o->force = 1; break;
        case O_FOLLOW: o->follow = 1; break;
        case 'q': o->quiet = 1; break;
        case 'h': usage(stdout); return RM_EXIT_OK;
        default: return rm_cli_bad_option(CMD, argv);
        }
    }
    if (optind >= argc)
        return rm_cli_usage_error(CMD, "no folder given (rollmat study DIR)");
    if (argc - optind > 1)
        return rm_cli_usage_error(CMD, "one folder at a time (got '%s' and '%s')", argv[optind],
                                  argv[optind + 1]);
    o->dir = argv[optind];
    return -1;
}

static void warn_scan(void *user, const char *msg)
{
    (void)user;
    rm_cli_error(CMD, "%s", msg);
}

typedef struct tally {
    size_t added, updated, current, failed, skipped, removed;
} tally;

static void index_all(rm_catalogue *cat, const rm_walk_list *files, const rm_profile *prof,
                      const study_opts *o, tally *t)
{
    for (size_t i = 0; i < files->n; i++) {
        rm_err err = {0};
        rm_catalogue_outcome out = RM_CATALOGUE_CURRENT;
        rm_status st = rm_catalogue_index(cat, files->v[i].path, prof, o->force, &out, &err);
        if (st) {
            rm_cli_fail(CMD, &err, st);
            t->failed++;
            continue;
        }
        t->added += out == RM_CATALOGUE_ADDED;
        t->updated += out == RM_CATALOGUE_UPDATED;
        t->current += out == RM_CATALOGUE_CURRENT;
        t->skipped += out == RM_CATALOGUE_NOT_RECORDING;
    }
}

int rm_cmd_study(int argc, char **argv)
{
    study_opts o;
    int rc = parse(argc, argv, &o);
    if (rc >= 0)
        return rc;
    rm_err err = {0};
    rm_profile prof;
    rm_status st = rm_profile_load(o.profile, &prof, &err);
    if (st)
        return rm_cli_fail(CMD, &err, st);
    char dbpath[PATH_MAX];
    if ((size_t)snprintf(dbpath, sizeof dbpath, "%s/%s", o.dir, RM_CATALOGUE_FILENAME) >=
        sizeof dbpath)
        return rm_cli_usage_error(CMD, "%s: path too long", o.dir);
    if (o.db)
        snprintf(dbpath, sizeof dbpath, "%s", o.db);
    /* the folder first: a mistyped DIR must not leave a new database behind */
    rm_walk_list files = {0};
    rm_walk_note note;
    rm_walk_opts wo = {.follow_links = o.follow, .warn = warn_scan};
    const char *in[] = {o.dir};
    st = rm_walk(in, 1, &wo, &files, &note, &err);
    if (st)
        return rm_cli_fail(CMD, &err, st);
    rm_catalogue *cat = NULL;
    tally t = {0};
    st = rm_catalogue_open(dbpath, &cat, &err);
    if (st) {
        rc = rm_cli_fail(CMD, &err, st);
        goto out;
    }
    index_all(cat, &files, &prof, &o, &t);
    /* a folder that could not be read hides recordings: none are dropped then */
    if (!note.failed && (st = rm_catalogue_prune(cat, o.dir, &files, &t.removed, &err)))
        rm_cli_fail(CMD, &err, st);
    rc = t.failed || note.failed || st ? RM_EXIT_FAIL : RM_EXIT_OK;
    if (!o.quiet)
        printf("%zu recording%s: %zu added, %zu updated, %zu up to date, %zu failed, %zu removed"
               "%s -> %s\n",
               files.n - t.skipped, files.n - t.skipped == 1 ? "" : "s", t.added, t.updated,
               t.current, t.failed, t.removed, t.skipped ? " (results files skipped)" : "", dbpath);
    if (note.links_skipped && !o.quiet)
        fprintf(stderr,
                "rollmat study: note: %zu link%s to folders not followed (%s%s); "
                "--follow-links follows them\n",
                note.links_skipped, note.links_skipped == 1 ? "" : "s", note.first_link,
                note.links_skipped > 1 ? ", ..." : "");
out:
    rm_catalogue_close(cat);
    free(note.first_link);
    rm_walk_list_free(&files);
    return rc;
}
