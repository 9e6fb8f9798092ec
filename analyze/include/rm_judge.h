/* rm_judge.h - the summary page's judgement of a session: a traffic light
 * per set and target against the profile, the daily total, and the tally
 * "N of M targets met". The report draws it (page 1 and the phone
 * picture) and `rollmat batch --per session` writes it as columns, so both
 * say the same thing; it lives here, below both, because it is pure
 * arithmetic on results and a profile (no drawing, no files).
 *
 * The rules (docs/metrics.md, "The summary page: traffic lights and actions"):
 * Each set gets a light per target of the profile: its time on the muscle
 * group (set_s), its pace (speed_cm_s; a profile without a speed band but
 * with pass_s, such as behm2020, judges the pass duration instead) and its
 * holds (hold_s; the longest hold of the set; a massage-ball set: its mean
 * time on a spot against spot_s). GREEN: inside the band (the number
 * rounded as the comments print it); AMBER: outside by at most 25 % of
 * the nearer band edge; RED: further out, or no hold (no spot) where the
 * profile asks for one; NONE: the profile does not judge it (or there is
 * nothing to judge, e.g. no roller). The session's daily total (rolling +
 * holding against daily_s) is one more target.
 *
 * Ownership: rm_judge_summary fills a caller-owned rm_judgement whose
 * lights array it allocates; rm_judgement_free releases that array. */
#ifndef RM_JUDGE_H
#define RM_JUDGE_H

#include <stddef.h>

#include "rm_analysis.h"
#include "rm_results.h"
#include "rm_status.h"

typedef enum rm_light { RM_LIGHT_NONE = 0, RM_LIGHT_GREEN, RM_LIGHT_AMBER, RM_LIGHT_RED } rm_light;

typedef enum rm_target {
    RM_TARGET_TIME = 0, /* time on the muscle group, s */
    RM_TARGET_PACE,     /* cm/s, or s per pass (rm_judgement.pace_by_pass) */
    RM_TARGET_HOLD,     /* the longest hold, s (ball: mean time on a spot) */
    RM_TARGET_COUNT
} rm_target;

/* One target of one set (or the daily total) judged. */
typedef struct rm_judged {
    rm_light light;
    double value;  /* what was measured (units above); NaN if nothing */
    double miss;   /* relative shortfall: 0 inside, 1 for a missing hold */
    int direction; /* rm_verdict: BELOW, INSIDE, ABOVE or NA */
    char text[32]; /* the number as shown: "4.1 cm/s", "none", "-" */
} rm_judged;

typedef struct rm_judgement {
    int pace_by_pass;   /* the pace target is s per pass, not cm/s */
    size_t n_sets;      /* the results' n_segments */
    rm_judged *lights;  /* n_sets x RM_TARGET_COUNT, owned */
    rm_judged daily;    /* rm_judge_daily_s against daily_s, s */
    int targets_met;    /* green lights, the daily total included */
    int targets_judged; /* lights other than NONE, the daily total included */
} rm_judgement;

/* The session's time on the muscles, s: rolling + holding + the massage
 * ball's time on its spots (a ball set is neither rolling nor holding in
 * r->totals, but it is time on the muscles all the same). *ball_s (if not
 * NULL) gets the ball's part. */
double rm_judge_daily_s(const rm_results *r, double *ball_s);

/* Name of a light ("green"), NULL outside the range. */
const char *rm_light_name(rm_light l);

/* Judges r against `profile` (NULL: no profile, nothing judged) into *out
 * (overwritten; free it with rm_judgement_free). r is only read. Returns
 * RM_OK, or RM_ERR_NOMEM (then *out holds nothing to free). */
rm_status rm_judge_summary(const rm_results *r, const rm_profile *profile, rm_judgement *out,
                           rm_err *err);
/* Releases the lights of j (j itself is the caller's); NULL is allowed. */
void rm_judgement_free(rm_judgement *j);

/* Set k's light for target t; NULL outside the ranges. */
const rm_judged *rm_judgement_light(const rm_judgement *j, size_t k, rm_target t);

/* The session's light, as the summary page colours its verdict: GREEN
 * when every judged target is met, AMBER when at least half are, RED
 * otherwise, NONE when nothing was judged. */
rm_light rm_judgement_session_light(const rm_judgement *j);

#endif
