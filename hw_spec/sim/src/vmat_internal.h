/* vmat_internal.h - shared internals of the virtual mat (vmat*.c only).
 *
 * The scenario is compiled into a timeline of moves that covers the whole
 * routine without gaps; the ground truth of any instant is a pure function
 * of the timeline, so the truth writer and the frame generator agree. */
#ifndef RM_VMAT_INTERNAL_H
#define RM_VMAT_INTERNAL_H

#include <stdint.h>

#include "rm_constants.h"
#include "rm_vmat.h"

/* Reference geometry of the virtual mat (datasheet). */
#define VM_ROWS         64
#define VM_COLS         48
#define VM_PITCH_UM     12700
#define VM_ADC_BITS     12
#define VM_FULL_SCALE   4095
#define VM_MIN_RATE     10
#define VM_MAX_RATE     1000
#define VM_MAX_SUPPORTS 3
#define VM_MAX_LIMBS    2
#define VM_MAX_LIST     256 /* dead or hot sensels */

typedef enum vm_group {
    VM_CALVES = 0,
    VM_HAMSTRINGS,
    VM_QUADS,
    VM_ITBAND,
    VM_GLUTES,
    VM_NGROUPS
} vm_group;

typedef enum vm_move_kind {
    VM_EMPTY = 0, /* nobody on the mat: before, between and after segments */
    VM_LIFT,      /* roller unloaded inside a segment, supports still down */
    VM_ROLL,      /* one constant-speed leg from x0 to x1 */
    VM_HOLD,      /* roller loaded and still at x0 */
    VM_PRESS,     /* massage ball loaded on a spot (x0, y0), circling */
} vm_move_kind;

enum { VM_TOOL_ROLLER = 0, VM_TOOL_BALL = 1 };

typedef struct vm_move {
    vm_move_kind kind;
    int segment;      /* -1 for VM_EMPTY */
    double t0, t1;    /* scenario seconds */
    double x0, x1;    /* cm; a hold or an unloaded move has x1 == x0 */
    double amp;       /* ROLL: this pass's force amplitude factor (~1) */
    int load_start;   /* the roller is set down at t0 (force ramps up) */
    int load_end;     /* the roller is lifted at t1 (force ramps down) */
    double y0;        /* PRESS: spot centre across the mat, cm */
    double circle_cm; /* PRESS: radius of the small circles around the spot */
    double period_s;  /* PRESS: one circle takes this long */
} vm_move;

typedef struct vm_support {
    double x_cm, y_cm, sx_cm, sy_cm; /* centre and Gaussian widths */
    double share;                    /* of the supports' total force */
    const char *kind;                /* "hand", "forearm", "foot" (static) */
    int r0, r1, c0, c1;              /* bounding box, inclusive */
    float wx[VM_ROWS], wy[VM_COLS];  /* fraction of its force per row/col */
} vm_support;

typedef struct vm_segment {
    char label[64];
    vm_group group;
    int tool;              /* VM_TOOL_ROLLER or VM_TOOL_BALL */
    double start_s, end_s; /* first and last loaded instant */
    double x_min, x_max;   /* range the roller covers */
    int n_limbs;
    double limb_y[VM_MAX_LIMBS], limb_sigma[VM_MAX_LIMBS], limb_share[VM_MAX_LIMBS];
    double contact_len_cm; /* effective line length for Hertz */
    double on_mat_share;   /* body weight on the mat, roller + supports */
    double breath_phase, sway_phase;
    int n_supports;
    vm_support sup[VM_MAX_SUPPORTS];
    double support_on_mat;                /* share of the supports' force on the sensels */
    float limb_wy[VM_MAX_LIMBS][VM_COLS]; /* fraction of a limb's load per col */
    float roller_wy[VM_COLS];             /* uniform part along the roller */
} vm_segment;

typedef struct vm_scenario {
    char path[512];
    char title[128];
    char subject_id[64];
    double body_mass_kg;
    double rate_hz;
    /* sensor */
    double noise_counts, zero_counts, zero_spread, gain_spread;
    double p_half_kpa, span_counts;
    int n_dead, n_hot;
    uint16_t dead[VM_MAX_LIST][2], hot[VM_MAX_LIST][2];
    /* roller and body */
    double roller_len_cm, roller_radius_cm, roller_stiffness_kpa, roller_uniform;
    double mean_share, peak_share;
    /* massage ball: Hertz sphere on a flat, its force a share of body weight */
    double ball_radius_cm, ball_modulus_kpa, ball_share;
    /* device clock */
    double drift_ppm, boot_s, jitter_us;
    rm_vmat_faults faults;
    /* routine */
    double lead_in_s, transition_s, lead_out_s;
    int n_segments;
    vm_segment *segments;
    int n_moves;
    vm_move *moves;
    double total_s;
} vm_scenario;

/* Parses `path` into `sc` (time_scale already applied to every phase) and
 * compiles the timeline. `seed` varies the body (per-pass force, breathing
 * phase). On failure sc is cleaned up and err names the file and JSON path. */
rm_status vm_scenario_load(const char *path, double time_scale, uint64_t seed, vm_scenario *sc,
                           rm_err *err);
void vm_scenario_free(vm_scenario *sc);

/* Ground truth at scenario time t; *hint is a move index to start from
 * (updated; may be NULL). */
void vm_truth_at(const vm_scenario *sc, double t, int *hint, rm_vmat_truth *out, double *share_out);

/* Load shares of the limbs on the roller at time t (slow side-to-side sway). */
void vm_limb_shares(const vm_segment *s, double t, double out[VM_MAX_LIMBS]);

/* Accessors for the truth writer (vmat_truth.c). */
const vm_scenario *vm_scenario_of(const rm_vmat *vm);
unsigned vm_rate_of(const rm_vmat *vm);
uint64_t vm_seed_of(const rm_vmat *vm);

/* Small deterministic PRNGs. */
static inline uint64_t vm_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

typedef struct vm_rng {
    uint64_t s[4];
} vm_rng;

static inline uint64_t vm_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline void vm_rng_seed(vm_rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t st = seed ^ (stream * 0xD1B54A32D192ED03ull);
    for (int i = 0; i < 4; i++)
        r->s[i] = vm_splitmix64(&st);
}

/* xoshiro256** */
static inline uint64_t vm_rng_next(vm_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = vm_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = vm_rotl(s[3], 45);
    return result;
}

/* Uniform in [0, 1). */
static inline double vm_rng_uniform(vm_rng *r)
{
    return (double)(vm_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

#endif
