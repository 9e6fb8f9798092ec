#include <stdio.h>
#include <string.h>

#include "rm_cli.h"

/* Placeholder until the command is built: it says so and fails. */
int rm_cmd_simulate(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: rollmat simulate (not implemented yet)\n");
        return RM_EXIT_OK;
    }
    rm_cli_error("simulate", "not implemented yet");
    return RM_EXIT_FAIL;
}
