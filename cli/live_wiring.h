/* live_wiring.h - the live analysis and coaching bands as rollmatd wires
 * them into the daemon core, shared with `rollmat live --replay` (which runs
 * the same daemon in-process), so that both publish the same cues. */
#ifndef RM_LIVE_WIRING_H
#define RM_LIVE_WIRING_H

#include "rm_daemon.h"

/* The daemon's live analyzer: analyze's streaming API (rm_analysis_push)
 * with no per-frame series kept (memory stays flat). Static functions;
 * user is NULL. */
rm_daemon_live rm_cli_live_analyzer(void);

/* The bands of profile `name` (a shipped name or a file; NULL = "guide")
 * into *b: every band the profile sets, NaN for the others. RM_OK, or the
 * profile loader's error in err. */
rm_status rm_cli_live_bands(const char *name, rm_daemon_bands *b, rm_err *err);

#endif
