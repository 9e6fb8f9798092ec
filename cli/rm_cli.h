/* rm_cli.h - shared plumbing of the thin command mains.
 *
 * Every subcommand is `int rm_cmd_NAME(int argc, char **argv)` where argv[0]
 * is the subcommand's name. It returns an exit status: RM_EXIT_OK,
 * RM_EXIT_FAIL (runtime failure) or RM_EXIT_USAGE (bad options). Errors go
 * to stderr as one line: "rollmat NAME: what is wrong". */
#ifndef RM_CLI_H
#define RM_CLI_H

#include "rm_status.h"

#define RM_EXIT_OK    0
#define RM_EXIT_FAIL  1
#define RM_EXIT_USAGE 2

/* One line on stderr: "rollmat <cmd>: <message>". */
void rm_cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Same, for a failed call: "rollmat <cmd>: <err message>". Returns RM_EXIT_FAIL. */
int rm_cli_fail(const char *cmd, const rm_err *err, rm_status st);
/* For option errors: prints the line plus "try 'rollmat <cmd> --help'",
 * returns RM_EXIT_USAGE. */
int rm_cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* For getopt_long's '?' (opterr = 0): names the offending option from
 * optopt/optind ("unknown option '--frob'", "option '-o' needs a value")
 * and returns RM_EXIT_USAGE. */
int rm_cli_bad_option(const char *cmd, char **argv);

/* Strict number parsing for options: the whole string must be a number in
 * [min, max]. Returns 0 on success, -1 otherwise. */
int rm_cli_parse_double(const char *s, double min, double max, double *out);
int rm_cli_parse_long(const char *s, long min, long max, long *out);

/* A logger that prints "rollmat: level: msg" on stderr (levels <= max). */
rm_logger rm_cli_stderr_logger(rm_log_level *max_level);

/* Text from a file made safe for a terminal: control characters (escape
 * sequences, carriage returns, bells...) become \xNN. Writes into `buf`
 * (`cap` bytes, cut at the end if needed) and returns it. */
const char *rm_cli_printable(const char *s, char *buf, size_t cap);

/* An input the command will read must be a regular file (through links):
 * a FIFO or device named *.h5 would otherwise block or be misread. Returns
 * 0 if it is, or if it does not exist (the reader then names the problem);
 * else prints one line naming what it is and returns RM_EXIT_FAIL. */
int rm_cli_check_input(const char *cmd, const char *path);

/* For outputs that are never replaced: 0 if nothing regular is at `path`
 * (a FIFO or device is written through); else prints "PATH already
 * exists; refusing to overwrite it" and returns RM_EXIT_FAIL. */
int rm_cli_refuse_existing(const char *cmd, const char *path);

/* Resets getopt for a subcommand (getopt_long keeps global state). */
void rm_cli_reset_getopt(void);

/* Installs SIGINT, SIGTERM and SIGHUP handlers that remove every unfinished
 * output temporary ("NAME.tmp-XXXXXX", rm_safefile_remove_pending) and
 * then end the process by the same signal (a shell reports 130 for Ctrl-C,
 * 143 for SIGTERM). A command with its own handler (record) replaces it
 * for its run. */
void rm_cli_remove_temps_on_signal(void);

/* The subcommands. */
int rm_cmd_simulate(int argc, char **argv);
int rm_cmd_info(int argc, char **argv);
int rm_cmd_export(int argc, char **argv);
int rm_cmd_import(int argc, char **argv);
int rm_cmd_devices(int argc, char **argv);
int rm_cmd_record(int argc, char **argv);
int rm_cmd_vmat(int argc, char **argv);
int rm_cmd_analyze(int argc, char **argv);
int rm_cmd_report(int argc, char **argv);
int rm_cmd_batch(int argc, char **argv);
int rm_cmd_demo(int argc, char **argv);
int rm_cmd_reliability(int argc, char **argv);
int rm_cmd_study(int argc, char **argv);
int rm_cmd_history(int argc, char **argv);
int rm_cmd_live(int argc, char **argv);

#endif
