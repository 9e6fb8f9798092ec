/* vmat_scenario.c - scenario files of the virtual mat: parsing (jansson),
 * validation with errors that name the file and the JSON path, the timeline
 * of moves, the body model per muscle group, and the ground truth at any
 * instant. Format: scenarios/README.md. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vmat_internal.h"

#define MAT_X_CM (VM_ROWS * VM_PITCH_UM / 10000.0)
#define MAT_Y_CM (VM_COLS * VM_PITCH_UM / 10000.0)
#define PITCH_CM (VM_PITCH_UM / 10000.0)

/* Force model constants (see PROTOCOL.md "Virtual mat: physics"). */
#define BREATH_AMP      0.012 /* share of body weight */
#define BREATH_PERIOD_S 4.3
#define SWAY_AMP        0.05 /* share moved between the two limbs */
#define SWAY_PERIOD_S   6.7
#define PASS_AMP_SPREAD 0.04 /* pass-to-pass variation of the amplitude */
#define LOAD_RAMP_S     0.3

/* Body position per muscle group: limbs on the roller (offset across the
 * mat from the roller's centre, Gaussian width), effective contact length
 * of the roller on the floor, share of body weight on the mat (roller +
 * supports), and the supports: side -1 = behind the rolled range (smaller
 * x), +1 = ahead of it, at distance dx from it. */
typedef struct group_def {
    const char *name;
    int limbs;
    double limb_off[2], limb_sigma[2], limb_share[2];
    double contact_len_cm;
    double on_mat;
    int n_sup;
    struct {
        int side;
        double dx, dy, sx, sy, share;
    } sup[VM_MAX_SUPPORTS];
} group_def;

static const group_def groups[VM_NGROUPS] = {
    /* sitting, both calves on the roller, hands on the floor behind */
    {"calves",
     2,
     {-9, 9},
     {4.0, 4.0},
     {0.5, 0.5},
     18,
     0.70,
     2,
     {{-1, 24, -19, 2.5, 2.8, 0.5}, {-1, 24, 19, 2.5, 2.8, 0.5}}},
    /* sitting, roller under both thighs, hands a hand's breadth behind
     * where it starts (the glute fold); for the calves the hands are far
     * behind the knees, as far as the 81 cm mat allows */
    {"hamstrings",
     2,
     {-9, 9},
     {5.5, 5.5},
     {0.5, 0.5},
     22,
     0.66,
     2,
     {{-1, 12, -20, 2.5, 2.8, 0.5}, {-1, 12, 20, 2.5, 2.8, 0.5}}},
    /* prone, thighs on the roller, forearms on the floor ahead */
    {"quads",
     2,
     {-9, 9},
     {6.0, 6.0},
     {0.5, 0.5},
     24,
     0.80,
     2,
     {{+1, 20, -12, 4.5, 2.6, 0.5}, {+1, 20, 12, 4.5, 2.6, 0.5}}},
    /* side-lying on one thigh, lower forearm ahead, top foot planted behind */
    {"it_band",
     1,
     {-3, 0},
     {5.0, 1.0},
     {1.0, 0.0},
     13,
     0.85,
     2,
     {{+1, 20, -6, 4.5, 2.8, 0.65}, {-1, 14, 17, 4.0, 3.2, 0.35}}},
    /* sitting on the roller, one leg crossed: most load under one glute,
     * a hand behind and the standing foot ahead */
    {"glutes",
     2,
     {6, -9},
     {7.0, 5.5},
     {0.72, 0.28},
     22,
     0.90,
     2,
     {{-1, 18, -19, 2.5, 2.8, 0.45}, {+1, 26, 10, 4.0, 3.2, 0.55}}},
};

/* ---- JSON helpers: every error names file and path ---- */

typedef struct ctx {
    const char *file;
    rm_err *err;
} ctx;

static rm_status fail(const ctx *c, rm_status st, const char *path, const char *what)
{
    return rm_err_set(c->err, st, "%s: %s: %s", c->file, path, what);
}

static void join(char *out, size_t cap, const char *base, const char *key)
{
    if (base[0])
        snprintf(out, cap, "%s.%s", base, key);
    else
        snprintf(out, cap, "%s", key);
}

/* Rejects keys not in `allowed` (NULL-terminated), so typos are caught. */
static rm_status check_keys(const ctx *c, json_t *obj, const char *path, const char *const *allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        int ok = 0;
        for (const char *const *a = allowed; *a; a++)
            if (!strcmp(*a, key))
                ok = 1;
        if (!ok) {
            char p[256], msg[320];
            join(p, sizeof p, path, key);
            snprintf(msg, sizeof msg, "unknown key \"%s\"", key);
            return fail(c, RM_ERR_FORMAT, p, msg);
        }
    }
    (void)v;
    return RM_OK;
}

static rm_status get_object(const ctx *c, json_t *parent, const char *path, const char *key,
                            int required, json_t **out)
{
    char p[256];
    join(p, sizeof p, path, key);
    json_t *v = json_object_get(parent, key);
    *out = NULL;
    if (!v)
        return required ? fail(c, RM_ERR_FORMAT, p, "missing (expected an object)") : RM_OK;
    if (!json_is_object(v))
        return fail(c, RM_ERR_FORMAT, p, "expected an object");
    *out = v;
    return RM_OK;
}

static rm_status get_number(const ctx *c, json_t *parent, const char *path, const char *key,
                            int required, double def, double min, double max, double *out)
{
    char p[256], msg[128];
    join(p, sizeof p, path, key);
    json_t *v = parent ? json_object_get(parent, key) : NULL;
    if (!v) {
        if (required)
            return fail(c, RM_ERR_FORMAT, p, "missing (expected a number)");
        *out = def;
        return RM_OK;
    }
    if (!json_is_number(v))
        return fail(c, RM_ERR_FORMAT, p, "expected a number");
    double d = json_number_value(v);
    if (!isfinite(d) || d < min || d > max) {
        snprintf(msg, sizeof msg, "%g outside %g..%g", d, min, max);
        return fail(c, RM_ERR_RANGE, p, msg);
    }
    *out = d;
    return RM_OK;
}

static rm_status get_string(const ctx *c, json_t *parent, const char *path, const char *key,
                            int required, const char *def, char *out, size_t cap)
{
    char p[256];
    join(p, sizeof p, path, key);
    json_t *v = parent ? json_object_get(parent, key) : NULL;
    if (!v) {
        if (required)
            return fail(c, RM_ERR_FORMAT, p, "missing (expected a string)");
        snprintf(out, cap, "%s", def);
        return RM_OK;
    }
    if (!json_is_string(v))
        return fail(c, RM_ERR_FORMAT, p, "expected a string");
    if (strlen(json_string_value(v)) >= cap)
        return fail(c, RM_ERR_RANGE, p, "string too long");
    snprintf(out, cap, "%s", json_string_value(v));
    return RM_OK;
}

static rm_status get_sensel_list(const ctx *c, json_t *parent, const char *path, const char *key,
                                 uint16_t list[][2], int *n)
{
    char p[256], q[300];
    join(p, sizeof p, path, key);
    *n = 0;
    json_t *v = parent ? json_object_get(parent, key) : NULL;
    if (!v)
        return RM_OK;
    if (!json_is_array(v))
        return fail(c, RM_ERR_FORMAT, p, "expected an array of [row, col]");
    if (json_array_size(v) > VM_MAX_LIST)
        return fail(c, RM_ERR_RANGE, p, "more than 256 sensels");
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        snprintf(q, sizeof q, "%s[%zu]", p, i);
        if (!json_is_array(e) || json_array_size(e) != 2 ||
            !json_is_integer(json_array_get(e, 0)) || !json_is_integer(json_array_get(e, 1)))
            return fail(c, RM_ERR_FORMAT, q, "expected [row, col] integers");
        json_int_t r = json_integer_value(json_array_get(e, 0));
        json_int_t col = json_integer_value(json_array_get(e, 1));
        if (r < 0 || r >= VM_ROWS || col < 0 || col >= VM_COLS)
            return fail(c, RM_ERR_RANGE, q, "sensel outside the 64x48 mat");
        list[i][0] = (uint16_t)r;
        list[i][1] = (uint16_t)col;
        (*n)++;
    }
    return RM_OK;
}

static int parse_group(const char *s, vm_group *g)
{
    static const struct {
        const char *name;
        vm_group g;
    } names[] = {
        {"calves", VM_CALVES},        {"calf", VM_CALVES},    {"hamstrings", VM_HAMSTRINGS},
        {"hamstring", VM_HAMSTRINGS}, {"quads", VM_QUADS},    {"quadriceps", VM_QUADS},
        {"it_band", VM_ITBAND},       {"it band", VM_ITBAND}, {"itband", VM_ITBAND},
        {"it-band", VM_ITBAND},       {"glutes", VM_GLUTES},  {"glute", VM_GLUTES},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcasecmp(s, names[i].name)) {
            *g = names[i].g;
            return 1;
        }
    return 0;
}

/* ---- timeline ---- */

typedef struct builder {
    vm_scenario *sc;
    int cap;
    double t, x;
    int loaded;
    double last_speed;
    int tool;  /* of the segment being parsed */
    double yc; /* its centre across the mat (y_offset applied) */
    vm_rng body;
} builder;

static rm_status add_move(builder *b, vm_move_kind kind, int seg, double dur, double x1)
{
    vm_scenario *sc = b->sc;
    if (dur <= 0)
        return RM_OK;
    if (sc->n_moves == b->cap) {
        int ncap = b->cap ? 2 * b->cap : 64;
        vm_move *nm = realloc(sc->moves, (size_t)ncap * sizeof *nm);
        if (!nm)
            return RM_ERR_NOMEM;
        sc->moves = nm;
        b->cap = ncap;
    }
    vm_move *m = &sc->moves[sc->n_moves++];
    memset(m, 0, sizeof *m);
    m->kind = kind;
    m->segment = seg;
    m->t0 = b->t;
    m->t1 = b->t + dur;
    m->x0 = b->x;
    m->x1 = kind == VM_ROLL ? x1 : b->x;
    m->amp = kind == VM_ROLL ? 1.0 - PASS_AMP_SPREAD * vm_rng_uniform(&b->body) : 1.0;
    b->t = m->t1;
    b->x = m->x1;
    b->loaded = kind == VM_ROLL || kind == VM_HOLD;
    return RM_OK;
}

/* A massage-ball press: the ball loaded on the spot (x, y), the body
 * circling it with radius circle_cm (one circle every period_s). */
static rm_status parse_press(const ctx *c, builder *b, int seg, json_t *v, const char *p, double ts)
{
    if (!json_is_object(v))
        return fail(c, RM_ERR_FORMAT, p, "expected an object");
    if (b->tool != VM_TOOL_BALL)
        return fail(c, RM_ERR_VALUE, p, "a press needs a segment with \"tool\": \"ball\"");
    static const char *const keys[] = {"x_cm", "y_cm", "duration_s", "circle_cm", "period_s", NULL};
    double x, y, dur, circle, period;
    rm_status st;
    if ((st = check_keys(c, v, p, keys)) ||
        (st = get_number(c, v, p, "x_cm", 1, 0, 4, MAT_X_CM - 4, &x)) ||
        (st = get_number(c, v, p, "y_cm", 0, b->yc, 4, MAT_Y_CM - 4, &y)) ||
        (st = get_number(c, v, p, "duration_s", 1, 0, 1, 3600, &dur)) ||
        (st = get_number(c, v, p, "circle_cm", 0, 1.0, 0, 3, &circle)) ||
        (st = get_number(c, v, p, "period_s", 0, 5.0, 1, 60, &period)))
        return st;
    b->x = x;
    if ((st = add_move(b, VM_PRESS, seg, dur * ts, x)))
        return st;
    vm_move *m = &b->sc->moves[b->sc->n_moves - 1];
    m->y0 = y;
    m->circle_cm = circle;
    m->period_s = period * ts;
    b->loaded = 0; /* the roller is not involved: a later roll sets it down */
    return RM_OK;
}

/* Rolls (loaded) from the current position to x at speed v, if needed. */
static rm_status transit(builder *b, int seg, double x, double v)
{
    if (!b->loaded) {
        b->x = x; /* the roller is set down where the phase starts */
        return RM_OK;
    }
    if (fabs(x - b->x) < 1e-9)
        return RM_OK;
    return add_move(b, VM_ROLL, seg, fabs(x - b->x) / v, x);
}

static rm_status parse_phase(const ctx *c, builder *b, int seg, json_t *ph, const char *path,
                             double ts)
{
    if (!json_is_object(ph))
        return fail(c, RM_ERR_FORMAT, path, "expected an object with roll, hold, lift or press");
    if (json_object_size(ph) != 1)
        return fail(c, RM_ERR_FORMAT, path, "expected exactly one of roll, hold, lift, press");
    char p[256];
    json_t *v;
    rm_status st;
    if ((v = json_object_get(ph, "press"))) {
        join(p, sizeof p, path, "press");
        return parse_press(c, b, seg, v, p, ts);
    }
    if ((v = json_object_get(ph, "roll")) || (v = json_object_get(ph, "hold"))) {
        if (b->tool == VM_TOOL_BALL)
            return fail(c, RM_ERR_VALUE, path, "a ball segment has press and lift phases only");
        v = NULL;
    }
    if ((v = json_object_get(ph, "roll"))) {
        join(p, sizeof p, path, "roll");
        if (!json_is_object(v))
            return fail(c, RM_ERR_FORMAT, p, "expected an object");
        static const char *const keys[] = {"from_cm", "to_cm", "speed_cm_s", "passes", NULL};
        double from, to, speed, passes;
        if ((st = check_keys(c, v, p, keys)) ||
            (st = get_number(c, v, p, "from_cm", 1, 0, 0, MAT_X_CM, &from)) ||
            (st = get_number(c, v, p, "to_cm", 1, 0, 0, MAT_X_CM, &to)) ||
            (st = get_number(c, v, p, "speed_cm_s", 1, 0, 0.1, 100, &speed)) ||
            (st = get_number(c, v, p, "passes", 0, 1, 1, 100000, &passes)))
            return st;
        if (passes != floor(passes)) {
            char q[300];
            join(q, sizeof q, p, "passes");
            return fail(c, RM_ERR_VALUE, q, "must be a whole number");
        }
        if (fabs(to - from) < 0.5) {
            char q[300];
            join(q, sizeof q, p, "to_cm");
            return fail(c, RM_ERR_VALUE, q, "a pass must cover at least 0.5 cm");
        }
        double vs = speed / ts;
        b->last_speed = vs;
        if ((st = transit(b, seg, from, vs)))
            return st;
        double len = fabs(to - from);
        for (long i = 0; i < (long)passes; i++)
            if ((st = add_move(b, VM_ROLL, seg, len / vs, (i % 2) ? from : to)))
                return st;
        return RM_OK;
    }
    if ((v = json_object_get(ph, "hold"))) {
        join(p, sizeof p, path, "hold");
        if (!json_is_object(v))
            return fail(c, RM_ERR_FORMAT, p, "expected an object");
        static const char *const keys[] = {"at_cm", "duration_s", NULL};
        double at, dur;
        int first = !b->loaded && b->x < 0;
        if ((st = check_keys(c, v, p, keys)) ||
            (st = get_number(c, v, p, "at_cm", first, b->x, 0, MAT_X_CM, &at)) ||
            (st = get_number(c, v, p, "duration_s", 1, 0, 0.01, 3600, &dur)))
            return st;
        if ((st = transit(b, seg, at, b->last_speed)))
            return st;
        return add_move(b, VM_HOLD, seg, dur * ts, at);
    }
    if ((v = json_object_get(ph, "lift"))) {
        join(p, sizeof p, path, "lift");
        if (!json_is_object(v))
            return fail(c, RM_ERR_FORMAT, p, "expected an object");
        static const char *const keys[] = {"duration_s", NULL};
        double dur;
        if ((st = check_keys(c, v, p, keys)) ||
            (st = get_number(c, v, p, "duration_s", 1, 0, 0.01, 3600, &dur)))
            return st;
        return add_move(b, VM_LIFT, seg, dur * ts, 0);
    }
    const char *key = json_object_iter_key(json_object_iter(ph));
    char msg[160];
    snprintf(msg, sizeof msg, "unknown phase \"%s\" (expected roll, hold, lift or press)", key);
    return fail(c, RM_ERR_FORMAT, path, msg);
}

static double gauss_cdf(double z) { return 0.5 * erfc(-z / sqrt(2.0)); }

/* Fractions of a Gaussian (mean mu, width s, cm) falling on each of n
 * sensels of the pitch; returns the first/last index above a tiny share. */
static void gauss_fractions(double mu, double s, int n, float *w, int *lo, int *hi)
{
    *lo = n;
    *hi = -1;
    for (int i = 0; i < n; i++) {
        double f = gauss_cdf(((i + 1) * PITCH_CM - mu) / s) - gauss_cdf((i * PITCH_CM - mu) / s);
        w[i] = f > 1e-7 ? (float)f : 0.0f;
        if (w[i] > 0) {
            if (i < *lo)
                *lo = i;
            *hi = i;
        }
    }
}

static void setup_segment(const vm_scenario *sc, vm_segment *s, double y_offset)
{
    const group_def *g = &groups[s->group];
    double yc = MAT_Y_CM / 2 + y_offset;
    int lo, hi;
    s->n_limbs = g->limbs;
    for (int j = 0; j < g->limbs; j++) {
        s->limb_y[j] = yc + g->limb_off[j];
        s->limb_sigma[j] = g->limb_sigma[j];
        s->limb_share[j] = g->limb_share[j];
        gauss_fractions(s->limb_y[j], s->limb_sigma[j], VM_COLS, s->limb_wy[j], &lo, &hi);
    }
    /* The roller's own stiffness spreads part of the load evenly along it. */
    double y0 = yc - sc->roller_len_cm / 2, y1 = yc + sc->roller_len_cm / 2;
    for (int c = 0; c < VM_COLS; c++) {
        double a = fmax(c * PITCH_CM, y0), e = fmin((c + 1) * PITCH_CM, y1);
        s->roller_wy[c] = e > a ? (float)((e - a) / sc->roller_len_cm) : 0.0f;
    }
    s->contact_len_cm = g->contact_len_cm;
    s->on_mat_share = g->on_mat;
    /* what touches the mat besides the tool, per group (truth only) */
    static const char *const kinds[VM_NGROUPS][2] = {{"hand", "hand"},
                                                     {"hand", "hand"},
                                                     {"forearm", "forearm"},
                                                     {"forearm", "foot"},
                                                     {"hand", "foot"}};
    s->n_supports = g->n_sup;
    for (int k = 0; k < g->n_sup; k++) {
        vm_support *u = &s->sup[k];
        u->kind = kinds[s->group][k < 2 ? k : 1];
        double x = g->sup[k].side < 0 ? s->x_min - g->sup[k].dx : s->x_max + g->sup[k].dx;
        u->sx_cm = g->sup[k].sx;
        u->sy_cm = g->sup[k].sy;
        /* a support is where the person puts it: on the mat */
        u->x_cm = fmin(fmax(x, 2 * u->sx_cm), MAT_X_CM - 2 * u->sx_cm);
        u->y_cm = fmin(fmax(yc + g->sup[k].dy, 2 * u->sy_cm), MAT_Y_CM - 2 * u->sy_cm);
        u->share = g->sup[k].share;
        gauss_fractions(u->x_cm, u->sx_cm, VM_ROWS, u->wx, &u->r0, &u->r1);
        gauss_fractions(u->y_cm, u->sy_cm, VM_COLS, u->wy, &u->c0, &u->c1);
        double fx = 0, fy = 0;
        for (int r = 0; r < VM_ROWS; r++)
            fx += u->wx[r];
        for (int c = 0; c < VM_COLS; c++)
            fy += u->wy[c];
        s->support_on_mat += u->share * fx * fy;
    }
}

static rm_status parse_segment(const ctx *c, builder *b, int si, json_t *js, double ts)
{
    vm_scenario *sc = b->sc;
    vm_segment *s = &sc->segments[si];
    char p[64], q[128];
    snprintf(p, sizeof p, "segments[%d]", si);
    if (!json_is_object(js))
        return fail(c, RM_ERR_FORMAT, p, "expected an object");
    static const char *const keys[] = {"label", "group", "y_offset_cm", "tool", "phases", NULL};
    rm_status st;
    char group[64], tool[16];
    double y_offset;
    if ((st = check_keys(c, js, p, keys)) ||
        (st = get_string(c, js, p, "label", 1, "", s->label, sizeof s->label)) ||
        (st = get_string(c, js, p, "group", 0, s->label, group, sizeof group)) ||
        (st = get_string(c, js, p, "tool", 0, "roller", tool, sizeof tool)) ||
        (st = get_number(c, js, p, "y_offset_cm", 0, 0, -8, 8, &y_offset)))
        return st;
    if (!strcmp(tool, "roller"))
        s->tool = VM_TOOL_ROLLER;
    else if (!strcmp(tool, "ball"))
        s->tool = VM_TOOL_BALL;
    else {
        join(q, sizeof q, p, "tool");
        return fail(c, RM_ERR_VALUE, q, "unknown tool (roller, ball)");
    }
    b->tool = s->tool;
    b->yc = MAT_Y_CM / 2 + y_offset;
    if (!parse_group(group, &s->group)) {
        join(q, sizeof q, p, json_object_get(js, "group") ? "group" : "label");
        return fail(c, RM_ERR_VALUE, q,
                    "unknown muscle group (calves, hamstrings, quads, it_band, glutes)");
    }
    json_t *phases = json_object_get(js, "phases");
    join(q, sizeof q, p, "phases");
    if (!phases || !json_is_array(phases) || json_array_size(phases) == 0)
        return fail(c, RM_ERR_FORMAT, q, "missing or empty (expected an array of phases)");
    s->breath_phase = 2 * M_PI * vm_rng_uniform(&b->body);
    s->sway_phase = 2 * M_PI * vm_rng_uniform(&b->body);
    b->loaded = 0;
    b->x = -1;
    b->last_speed = 2.54 / ts;
    int first_move = sc->n_moves;
    size_t i;
    json_t *ph;
    json_array_foreach(phases, i, ph)
    {
        char pp[160];
        snprintf(pp, sizeof pp, "%s[%zu]", q, i);
        if ((st = parse_phase(c, b, si, ph, pp, ts)))
            return st;
    }
    s->start_s = -1;
    s->x_min = 1e9;
    s->x_max = -1e9;
    for (int m = first_move; m < sc->n_moves; m++) {
        const vm_move *mv = &sc->moves[m];
        if (mv->kind != VM_ROLL && mv->kind != VM_HOLD && mv->kind != VM_PRESS)
            continue;
        if (s->start_s < 0)
            s->start_s = mv->t0;
        s->end_s = mv->t1;
        s->x_min = fmin(s->x_min, fmin(mv->x0, mv->x1));
        s->x_max = fmax(s->x_max, fmax(mv->x0, mv->x1));
    }
    if (s->start_s < 0)
        return fail(c, RM_ERR_VALUE, q,
                    s->tool == VM_TOOL_BALL ? "no press phase: the ball is never loaded"
                                            : "no roll or hold phase: the roller is never loaded");
    setup_segment(sc, s, y_offset);
    return RM_OK;
}

static rm_status parse_root(const ctx *c, json_t *root, double ts, uint64_t seed, vm_scenario *sc)
{
    if (!json_is_object(root))
        return fail(c, RM_ERR_FORMAT, "(root)", "expected an object");
    static const char *const keys[] = {"title",   "rate_hz", "subject", "sensor", "roller",
                                       "force",   "clock",   "faults",  "timing", "segments",
                                       "comment", "ball",    NULL};
    rm_status st;
    json_t *subj, *sens, *rol, *force, *clk, *flt, *tim, *ball;
    double rate;
    const char *base = strrchr(c->file, '/');
    if ((st = check_keys(c, root, "", keys)) ||
        (st = get_string(c, root, "", "title", 0, base ? base + 1 : c->file, sc->title,
                         sizeof sc->title)) ||
        (st = get_number(c, root, "", "rate_hz", 0, 100, VM_MIN_RATE, VM_MAX_RATE, &rate)) ||
        (st = get_object(c, root, "", "subject", 0, &subj)) ||
        (st = get_object(c, root, "", "sensor", 0, &sens)) ||
        (st = get_object(c, root, "", "roller", 0, &rol)) ||
        (st = get_object(c, root, "", "force", 0, &force)) ||
        (st = get_object(c, root, "", "clock", 0, &clk)) ||
        (st = get_object(c, root, "", "faults", 0, &flt)) ||
        (st = get_object(c, root, "", "timing", 0, &tim)) ||
        (st = get_object(c, root, "", "ball", 0, &ball)))
        return st;
    if (rate != floor(rate))
        return fail(c, RM_ERR_VALUE, "rate_hz", "must be a whole number of Hz");
    sc->rate_hz = rate;
    static const char *const k_subj[] = {"id", "body_mass_kg", "notes", NULL};
    static const char *const k_sens[] = {"noise_counts", "zero_counts", "zero_spread",
                                         "gain_spread",  "p_half_kpa",  "span_counts",
                                         "dead",         "hot",         NULL};
    static const char *const k_rol[] = {"length_cm", "radius_cm", "stiffness_kpa", "uniform_share",
                                        NULL};
    static const char *const k_force[] = {"mean_share", "peak_share", NULL};
    static const char *const k_clk[] = {"drift_ppm", "boot_s", "jitter_us", NULL};
    static const char *const k_flt[] = {"corrupt_rate", "truncate_rate", "garbage_rate",
                                        "drop_rate", NULL};
    static const char *const k_tim[] = {"lead_in_s", "transition_s", "lead_out_s", NULL};
    static const char *const k_ball[] = {"radius_cm", "modulus_kpa", "force_share", NULL};
    if ((subj && (st = check_keys(c, subj, "subject", k_subj))) ||
        (sens && (st = check_keys(c, sens, "sensor", k_sens))) ||
        (rol && (st = check_keys(c, rol, "roller", k_rol))) ||
        (force && (st = check_keys(c, force, "force", k_force))) ||
        (clk && (st = check_keys(c, clk, "clock", k_clk))) ||
        (flt && (st = check_keys(c, flt, "faults", k_flt))) ||
        (tim && (st = check_keys(c, tim, "timing", k_tim))) ||
        (ball && (st = check_keys(c, ball, "ball", k_ball))))
        return st;
    if ((st = get_string(c, subj, "subject", "id", 0, "", sc->subject_id, sizeof sc->subject_id)) ||
        (st = get_number(c, subj, "subject", "body_mass_kg", 0, 75, 20, 250, &sc->body_mass_kg)) ||
        (st = get_number(c, sens, "sensor", "noise_counts", 0, 3.0, 0, 200, &sc->noise_counts)) ||
        (st = get_number(c, sens, "sensor", "zero_counts", 0, 40, 0, 1000, &sc->zero_counts)) ||
        (st = get_number(c, sens, "sensor", "zero_spread", 0, 12, 0, 300, &sc->zero_spread)) ||
        (st = get_number(c, sens, "sensor", "gain_spread", 0, 0.03, 0, 0.3, &sc->gain_spread)) ||
        (st = get_number(c, sens, "sensor", "p_half_kpa", 0, 40, 1, 10000, &sc->p_half_kpa)) ||
        (st = get_number(c, sens, "sensor", "span_counts", 0, 4600, 4200, 100000,
                         &sc->span_counts)) ||
        (st = get_sensel_list(c, sens, "sensor", "dead", sc->dead, &sc->n_dead)) ||
        (st = get_sensel_list(c, sens, "sensor", "hot", sc->hot, &sc->n_hot)) ||
        (st = get_number(c, rol, "roller", "length_cm", 0, 45, 10, 60, &sc->roller_len_cm)) ||
        (st = get_number(c, rol, "roller", "radius_cm", 0, 7.5, 2, 20, &sc->roller_radius_cm)) ||
        (st = get_number(c, rol, "roller", "stiffness_kpa", 0, 250, 10, 1e6,
                         &sc->roller_stiffness_kpa)) ||
        (st = get_number(c, rol, "roller", "uniform_share", 0, 0.12, 0, 1, &sc->roller_uniform)) ||
        (st = get_number(c, force, "force", "mean_share", 0, 0.335, 0.05, 0.8, &sc->mean_share)) ||
        (st = get_number(c, force, "force", "peak_share", 0, 0.53, 0.05, 0.9, &sc->peak_share)) ||
        (st = get_number(c, clk, "clock", "drift_ppm", 0, 40, -1000, 1000, &sc->drift_ppm)) ||
        (st = get_number(c, clk, "clock", "boot_s", 0, 7.25, 0, 1e6, &sc->boot_s)) ||
        (st = get_number(c, clk, "clock", "jitter_us", 0, 20, 0, 200, &sc->jitter_us)) ||
        (st = get_number(c, flt, "faults", "corrupt_rate", 0, 0, 0, 0.5,
                         &sc->faults.corrupt_rate)) ||
        (st = get_number(c, flt, "faults", "truncate_rate", 0, 0, 0, 0.5,
                         &sc->faults.truncate_rate)) ||
        (st = get_number(c, flt, "faults", "garbage_rate", 0, 0, 0, 0.5,
                         &sc->faults.garbage_rate)) ||
        (st = get_number(c, flt, "faults", "drop_rate", 0, 0, 0, 0.5, &sc->faults.drop_rate)) ||
        (st = get_number(c, tim, "timing", "lead_in_s", 0, 3, 0, 600, &sc->lead_in_s)) ||
        (st = get_number(c, tim, "timing", "transition_s", 0, 8, 0, 600, &sc->transition_s)) ||
        (st = get_number(c, tim, "timing", "lead_out_s", 0, 3, 0, 600, &sc->lead_out_s)) ||
        (st = get_number(c, ball, "ball", "radius_cm", 0, 4, 1, 10, &sc->ball_radius_cm)) ||
        (st = get_number(c, ball, "ball", "modulus_kpa", 0, 300, 50, 1e5, &sc->ball_modulus_kpa)) ||
        (st = get_number(c, ball, "ball", "force_share", 0, 0.3, 0.05, 0.7, &sc->ball_share)))
        return st;
    if (sc->peak_share <= sc->mean_share + BREATH_AMP)
        return fail(c, RM_ERR_VALUE, "force.peak_share", "must exceed mean_share by 0.02");
    if (sc->faults.corrupt_rate + sc->faults.truncate_rate + sc->faults.drop_rate > 0.9)
        return fail(c, RM_ERR_RANGE, "faults", "corrupt + truncate + drop rates exceed 0.9");

    json_t *segs = json_object_get(root, "segments");
    if (!segs || !json_is_array(segs) || json_array_size(segs) == 0)
        return fail(c, RM_ERR_FORMAT, "segments", "missing or empty (expected an array)");
    if (json_array_size(segs) > 1000)
        return fail(c, RM_ERR_RANGE, "segments", "more than 1000 segments");
    sc->n_segments = (int)json_array_size(segs);
    sc->segments = calloc((size_t)sc->n_segments, sizeof *sc->segments);
    if (!sc->segments)
        return rm_err_set(c->err, RM_ERR_NOMEM, "%s: out of memory", c->file);

    builder b;
    memset(&b, 0, sizeof b);
    b.sc = sc;
    b.x = -1;
    vm_rng_seed(&b.body, seed, 3);
    for (int si = 0; si < sc->n_segments; si++) {
        /* nobody on the mat before the first segment and between segments */
        if ((st = add_move(&b, VM_EMPTY, -1, si == 0 ? sc->lead_in_s * ts : sc->transition_s * ts,
                           0)))
            return rm_err_set(c->err, st, "%s: out of memory", c->file);
        if ((st = parse_segment(c, &b, si, json_array_get(segs, (size_t)si), ts)))
            return st;
    }
    if ((st = add_move(&b, VM_EMPTY, -1, sc->lead_out_s * ts, 0)))
        return rm_err_set(c->err, st, "%s: out of memory", c->file);
    /* An unloaded move keeps the roller where it was (or where the next
     * loaded move sets it down, if nothing came before). */
    double x = -1;
    for (int m = 0; m < sc->n_moves; m++) {
        vm_move *mv = &sc->moves[m];
        if (mv->kind == VM_ROLL || mv->kind == VM_HOLD)
            x = mv->x1;
        else if (mv->kind != VM_PRESS && x >= 0)
            mv->x0 = mv->x1 = x;
    }
    for (int m = sc->n_moves - 1; m >= 0; m--) {
        vm_move *mv = &sc->moves[m];
        if (mv->kind == VM_ROLL || mv->kind == VM_HOLD)
            x = mv->x0;
        else if (mv->x0 < 0)
            mv->x0 = mv->x1 = x;
    }
    for (int m = 0; m < sc->n_moves; m++) {
        vm_move *mv = &sc->moves[m];
        int loaded = mv->kind == VM_ROLL || mv->kind == VM_HOLD;
        int prev = m > 0 && (mv[-1].kind == VM_ROLL || mv[-1].kind == VM_HOLD);
        int next = m + 1 < sc->n_moves && (mv[1].kind == VM_ROLL || mv[1].kind == VM_HOLD);
        if (mv->kind == VM_PRESS) {
            /* the ball is set down and lifted like the roller */
            loaded = 1;
            prev = m > 0 && mv[-1].kind == VM_PRESS;
            next = m + 1 < sc->n_moves && mv[1].kind == VM_PRESS;
        }
        mv->load_start = loaded && !prev;
        mv->load_end = loaded && !next;
    }
    sc->total_s = b.t;
    return RM_OK;
}

rm_status vm_scenario_load(const char *path, double time_scale, uint64_t seed, vm_scenario *sc,
                           rm_err *err)
{
    memset(sc, 0, sizeof *sc);
    if (!path)
        return rm_err_set(err, RM_ERR_ARG, "virtual mat: no scenario given");
    snprintf(sc->path, sizeof sc->path, "%s", path);
    ctx c = {path, err};
    FILE *f = fopen(path, "rb");
    if (!f)
        return rm_err_set(err, errno == ENOENT ? RM_ERR_NOT_FOUND : RM_ERR_IO,
                          "%s: cannot open scenario: %s", path, strerror(errno));
    json_error_t je;
    json_t *root = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
    fclose(f);
    if (!root)
        return rm_err_set(err, RM_ERR_FORMAT, "%s: line %d, column %d: %s", path, je.line,
                          je.column, je.text);
    rm_status st = parse_root(&c, root, time_scale, seed, sc);
    json_decref(root);
    if (st)
        vm_scenario_free(sc);
    return st;
}

void vm_scenario_free(vm_scenario *sc)
{
    free(sc->segments);
    free(sc->moves);
    sc->segments = NULL;
    sc->moves = NULL;
    sc->n_segments = sc->n_moves = 0;
}

/* ---- ground truth ---- */

void vm_limb_shares(const vm_segment *s, double t, double out[VM_MAX_LIMBS])
{
    if (s->n_limbs == 1) {
        out[0] = 1.0;
        out[1] = 0.0;
        return;
    }
    double d = SWAY_AMP * sin(2 * M_PI * t / SWAY_PERIOD_S + s->sway_phase);
    out[0] = s->limb_share[0] + d;
    out[1] = 1.0 - out[0];
}

static double smooth_ramp(double tau)
{
    if (tau >= LOAD_RAMP_S)
        return 1.0;
    if (tau <= 0)
        return 0.15;
    double u = tau / LOAD_RAMP_S;
    return 0.15 + 0.85 * u * u * (3 - 2 * u);
}

void vm_truth_at(const vm_scenario *sc, double t, int *hint, rm_vmat_truth *out, double *share_out)
{
    int m = hint && *hint >= 0 && *hint < sc->n_moves ? *hint : -1;
    if (m < 0 || sc->moves[m].t0 > t) {
        /* no usable hint: binary search for the last move starting <= t */
        int lo = 0, hi = sc->n_moves - 1;
        while (lo < hi) {
            int mid = (lo + hi + 1) / 2;
            if (sc->moves[mid].t0 <= t)
                lo = mid;
            else
                hi = mid - 1;
        }
        m = lo;
    }
    while (m + 1 < sc->n_moves && t >= sc->moves[m].t1)
        m++;
    if (hint)
        *hint = m;
    const vm_move *mv = &sc->moves[m];
    double w = sc->body_mass_kg * RM_GRAVITY;
    memset(out, 0, sizeof *out);
    out->time_s = t;
    out->segment = mv->segment;
    out->roller_x_cm = mv->x0;
    out->roller_y_cm = MAT_Y_CM / 2;
    double share = 0;
    if (mv->kind == VM_EMPTY) {
        out->state = RM_VMAT_UNLOADED;
    } else {
        const vm_segment *s = &sc->segments[mv->segment];
        double breath = BREATH_AMP * sin(2 * M_PI * t / BREATH_PERIOD_S + s->breath_phase);
        /* Rolling share = base + a * amp * sin^2(pi u) (+ breathing): a and
         * base are set so that the mean over a pass equals mean_share and
         * the crest of a full-amplitude pass reaches peak_share. */
        double a = (sc->peak_share - BREATH_AMP - sc->mean_share) /
                   (1.0 - 0.5 * (1.0 - 0.5 * PASS_AMP_SPREAD));
        double base = sc->peak_share - BREATH_AMP - a;
        out->tool = s->tool;
        if (mv->kind == VM_LIFT) {
            out->state = RM_VMAT_UNLOADED;
        } else if (mv->kind == VM_PRESS) {
            /* steady pressure (breathing only), the body circling the spot */
            out->state = RM_VMAT_UNLOADED; /* for the roller */
            double bs = sc->ball_share + breath;
            if (mv->load_start)
                bs *= smooth_ramp(t - mv->t0);
            if (mv->load_end)
                bs *= smooth_ramp(mv->t1 - t);
            double ph = 2 * M_PI * (t - mv->t0) / mv->period_s;
            out->ball_x_cm = mv->x0 + mv->circle_cm * cos(ph);
            out->ball_y_cm = mv->y0 + mv->circle_cm * sin(ph);
            out->ball_force_n = bs * w;
            out->support_force_n = (s->on_mat_share - bs) * w * s->support_on_mat;
            if (share_out)
                *share_out = 0;
            return;
        } else if (mv->kind == VM_ROLL) {
            double u = (t - mv->t0) / (mv->t1 - mv->t0);
            double sn = sin(M_PI * u);
            out->state = RM_VMAT_ROLLING;
            out->roller_x_cm = mv->x0 + (mv->x1 - mv->x0) * u;
            out->speed_cm_s = (mv->x1 - mv->x0) / (mv->t1 - mv->t0);
            share = base + a * mv->amp * sn * sn + breath;
        } else {
            out->state = RM_VMAT_HOLDING;
            share = sc->mean_share + breath;
        }
        if (share > 0) {
            if (mv->load_start)
                share *= smooth_ramp(t - mv->t0);
            if (mv->load_end)
                share *= smooth_ramp(mv->t1 - t);
        }
        double ls[VM_MAX_LIMBS];
        vm_limb_shares(s, t, ls);
        double y = 0;
        for (int j = 0; j < s->n_limbs; j++)
            y += ls[j] * s->limb_y[j];
        double yc = 0; /* centre of the roller's uniform part */
        for (int c = 0; c < VM_COLS; c++)
            yc += s->roller_wy[c] * (c + 0.5) * PITCH_CM;
        out->roller_y_cm = (1 - sc->roller_uniform) * y + sc->roller_uniform * yc;
        out->roller_force_n = share * w;
        /* what the supports put on the sensels (their Gaussian tails
         * beyond the mat's edge are not measured) */
        out->support_force_n = (s->on_mat_share - share) * w * s->support_on_mat;
    }
    if (share_out)
        *share_out = share;
}
