#include <stdio.h>
#include <string.h>

#include "rm_cli.h"

/* Placeholder until the command is built: it says so and fails. */
int rm_cmd_report(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: rollmat report (not implemented yet)\n");
        return RM_EXIT_OK;
    }
    rm_cli_error("report", "not implemented yet");
    return RM_EXIT_FAIL;
}
