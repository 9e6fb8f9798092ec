/* live_wiring.c - the live analyzer and bands of rollmatd (live_wiring.h). */
#include "live_wiring.h"

#include <math.h>
#include <stdio.h>

#include "rm_analysis.h"

static rm_status live_begin(void *user, const rm_device *dev, const rm_calib *calib, void **state,
                            rm_err *err)
{
    (void)user;
    rm_analysis *a = NULL;
    /* The daemon only publishes live metrics: keep no per-frame series, so
     * memory stays flat however long the daemon records. */
    rm_analysis_config cfg;
    rm_analysis_config_default(&cfg);
    cfg.live_only = 1;
    rm_status st = rm_analysis_new(&cfg, dev, calib, NULL, &a, err);
    *state = a;
    return st;
}

static rm_status live_push(void *state, const rm_frame *f, rm_daemon_metrics *out)
{
    rm_live_metrics lm;
    rm_status st = rm_analysis_push(state, f->time_s, f->raw, &lm, NULL);
    if (st != RM_OK)
        return st;
    out->total_force_n = lm.force_n;
    if (lm.roller) {
        out->roller_x_cm = lm.roller_x_cm;
        out->speed_cm_s = lm.speed_cm_s;
        out->roller_force_n = lm.roller_force_n;
    }
    out->load_share = lm.load_share;
    if (lm.roller)
        out->state =
            lm.state == RM_STATE_ROLLING ? RM_DAEMON_STATE_ROLLING : RM_DAEMON_STATE_HOLDING;
    else
        out->state = lm.contacts > 0 ? RM_DAEMON_STATE_NO_ROLLER : RM_DAEMON_STATE_LIFTED;
    return RM_OK;
}

static void live_end(void *state) { rm_analysis_free(state); }

rm_daemon_live rm_cli_live_analyzer(void)
{
    return (rm_daemon_live){NULL, live_begin, live_push, live_end};
}

static void band_copy(const rm_band *b, double *lo, double *hi)
{
    *lo = b->set ? b->lo : NAN;
    *hi = b->set ? b->hi : NAN;
}

rm_status rm_cli_live_bands(const char *name, rm_daemon_bands *b, rm_err *err)
{
    rm_daemon_bands_none(b);
    rm_profile prof;
    rm_status st = rm_profile_load(name ? name : "guide", &prof, err);
    if (st != RM_OK)
        return st;
    snprintf(b->profile, sizeof b->profile, "%s", prof.name);
    band_copy(&prof.speed_cm_s, &b->speed_lo, &b->speed_hi);
    b->speed_target = prof.speed_cm_s.set ? prof.speed_cm_s.target : NAN;
    band_copy(&prof.pass_s, &b->pass_lo, &b->pass_hi);
    band_copy(&prof.hold_s, &b->hold_lo, &b->hold_hi);
    band_copy(&prof.set_s, &b->set_lo, &b->set_hi);
    band_copy(&prof.daily_s, &b->daily_lo, &b->daily_hi);
    return RM_OK;
}
