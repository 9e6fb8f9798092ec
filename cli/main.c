/* rollmat: the front end. Dispatches to one subcommand per file (cmd_*.c). */
#include <stdio.h>
#include <string.h>

#include "rm_cli.h"
#include "rm_version.h"

static const struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"simulate", rm_cmd_simulate, "run the virtual mat: RM-1 byte stream, ground truth, recording"},
    {"record", rm_cmd_record, "record a session from a USB mat or a saved stream"},
    {"devices", rm_cmd_devices, "list the RM-1 mats on USB"},
    {"vmat", rm_cmd_vmat, "run a command against the virtual mat on emulated USB"},
    {"info", rm_cmd_info, "describe a recording"},
    {"export", rm_cmd_export, "export frames, events or an analysis's tables as tidy CSV"},
    {"import", rm_cmd_import, "convert another system's export to a recording"},
    {"analyze", rm_cmd_analyze, "analyse a recording: pressure, pacing, scores"},
    {"report", rm_cmd_report, "draw the report of an analysis (PDF, PNG, SVG)"},
    {"batch", rm_cmd_batch, "analyse many recordings into one CSV"},
    {"reliability", rm_cmd_reliability, "ICCs, SEM, MDC of metrics over repeated sessions"},
    {"study", rm_cmd_study, "index recordings and analyses into an SQLite catalogue"},
    {"history", rm_cmd_history, "one athlete over weeks: sessions, minutes, weekly plan kept"},
    {"demo", rm_cmd_demo, "record, analyse and report a routine on the virtual mat"},
    {"live", rm_cmd_live, "follow rollmatd live in the terminal: heat map, speed cue, timers"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: rollmat COMMAND [OPTIONS]\n"
                 "       rollmat COMMAND --help\n"
                 "       rollmat --version\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return RM_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (!strcmp(name, "help") || !strcmp(name, "--help") || !strcmp(name, "-h")) {
        if (argc > 2 && strcmp(argv[2], "help")) {
            char help[] = "--help";
            char *sub_argv[] = {argv[2], help, NULL};
            for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
                if (!strcmp(commands[i].name, argv[2])) {
                    rm_cli_reset_getopt();
                    return commands[i].run(2, sub_argv);
                }
            fprintf(stderr, "rollmat: unknown command '%s' (try 'rollmat help')\n", argv[2]);
            return RM_EXIT_USAGE;
        }
        usage(stdout);
        return RM_EXIT_OK;
    }
    if (!strcmp(name, "--version") || !strcmp(name, "-V") || !strcmp(name, "version")) {
        printf("rollmat %s\n", RM_VERSION);
        return RM_EXIT_OK;
    }
    rm_cli_remove_temps_on_signal();
    if (!strcmp(name, "analyse")) /* the British spelling, as the docs use it */
        name = "analyze";
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(commands[i].name, name)) {
            rm_cli_reset_getopt();
            return commands[i].run(argc - 1, argv + 1);
        }
    fprintf(stderr, "rollmat: unknown command '%s' (try 'rollmat help')\n", name);
    return RM_EXIT_USAGE;
}
