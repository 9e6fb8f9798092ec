/* vmat.c - the virtual mat: body -> pressure map -> sensor -> frames ->
 * byte stream with faults. The physics and the fault rules are documented
 * in hw_spec/PROTOCOL.md ("Virtual mat"). */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmat_internal.h"

#define NSENSELS       (VM_ROWS * VM_COLS)
#define PITCH_CM       (VM_PITCH_UM / 10000.0)
#define FRAME_WIRE_LEN (RM_FRAME_HEADER_LEN + NSENSELS * 2 + RM_FRAME_CRC_LEN)
#define CALIB_KNOTS    48
#define NOISE_TABLE    65536

enum { SENSEL_OK = 0, SENSEL_DEAD = 1, SENSEL_HOT = 2 };

struct rm_vmat {
    vm_scenario sc;
    uint64_t seed;
    unsigned rate;
    uint64_t total;
    uint64_t next;     /* scenario index of the next frame produced */
    uint64_t seq_base; /* scenario index of the frame that gets seq 0 */
    rm_vmat_faults faults;

    rm_info info;
    rm_calib *calib;
    uint8_t *calib_blob;
    size_t calib_len;
    char serial[32];

    /* sensor: true zero offset and pressure sensitivity of every sensel */
    float zero[NSENSELS];
    float sens[NSENSELS];
    uint8_t kind[NSENSELS];
    float *noise;              /* NOISE_TABLE standard normal quantiles */
    float zero_half[NSENSELS]; /* zero + 0.5: rounding folded in */
    float pmap[NSENSELS];      /* kPa of the frame being built */
    float acc[NSENSELS];
    uint8_t row_loaded[VM_ROWS];
    vm_rng noise_rng;
    int hint;

    /* faults */
    vm_rng fault_rng;
    int drop_pending;
    rm_vmat_fault last_fault;
    int last_garbage;
    uint64_t last_fault_seed;

    /* stream */
    uint8_t pend[FRAME_WIRE_LEN + 64];
    size_t pend_len, pend_pos;
    uint16_t raw[NSENSELS];
    rm_vmat_counts counts;
    rm_vmat_counts at_start; /* counts at the last restart (GET_STATUS) */
};

/* Acklam's rational approximation of the normal quantile function. */
static double normal_quantile(double p)
{
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                               -2.759285104469687e+02, 1.383577518672690e+02,
                               -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                               -1.556989798598866e+02, 6.680131188771972e+01,
                               -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                               -2.400758277161838e+00, -2.549732539343734e+00,
                               4.374664141464968e+00,  2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                               3.754408661907416e+00};
    const double plow = 0.02425;
    if (p < plow) {
        double q = sqrt(-2 * log(p));
        return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
               ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    }
    if (p > 1 - plow)
        return -normal_quantile(1 - p);
    double q = p - 0.5, r = q * q;
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
           (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

/* Sensor response: counts above zero for an effective pressure q (kPa).
 * FSR/velostat: steep at low pressure, flattening towards saturation. */
static inline double response(const vm_scenario *sc, double q)
{
    return q > 0 ? sc->span_counts * q / (q + sc->p_half_kpa) : 0.0;
}

const char *rm_vmat_scenario_path(const char *name, char *buf, size_t cap)
{
    if (!name)
        return NULL;
    size_t n = strlen(name);
    if (strchr(name, '/') || (n >= 5 && !strcmp(name + n - 5, ".json")) || !buf || cap == 0)
        return name;
    const char *dir = getenv("ROLLMAT_SCENARIO_DIR");
#ifdef RM_SCENARIO_DIR
    if (!dir || !*dir)
        dir = RM_SCENARIO_DIR;
#endif
#ifdef RM_SCENARIO_INSTALL_DIR
    /* An installed binary whose source tree is gone: the installed copies. */
    if (dir && access(dir, R_OK) != 0 && !getenv("ROLLMAT_SCENARIO_DIR"))
        dir = RM_SCENARIO_INSTALL_DIR;
#endif
    if (!dir || !*dir)
        dir = "scenarios";
    int w = snprintf(buf, cap, "%s/%s.json", dir, name);
    if (w < 0 || (size_t)w >= cap)
        return name;
    return buf;
}

/* After a shipped name was not found: the names that are there, appended
 * to the error ("... (scenarios here: behm2020, faulty, guide, rushed)"),
 * so a typo is fixed without reading the docs. */
static void list_scenarios(const char *path, rm_err *err)
{
    const char *slash = strrchr(path, '/');
    if (!err || !slash)
        return;
    char dir[1024];
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    DIR *d = opendir(dir);
    if (!d)
        return;
    char names[256] = "";
    size_t used = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n <= 5 || strcmp(e->d_name + n - 5, ".json") || e->d_name[0] == '.')
            continue;
        int w = snprintf(names + used, sizeof names - used, "%s%.*s", used ? ", " : "",
                         (int)(n - 5), e->d_name);
        if (w < 0 || (size_t)w >= sizeof names - used)
            break;
        used += (size_t)w;
    }
    closedir(d);
    size_t m = strlen(err->msg);
    if (used && m + 32 < sizeof err->msg)
        snprintf(err->msg + m, sizeof err->msg - m, " (scenarios there: %s)", names);
}

static rm_status build_sensor(rm_vmat *vm, rm_err *err)
{
    const vm_scenario *sc = &vm->sc;
    vm_rng r;
    vm_rng_seed(&r, vm->seed, 1);
    rm_calib *cal;
    if (rm_calib_new(VM_ROWS, VM_COLS, &cal))
        return rm_err_set(err, RM_ERR_NOMEM, "virtual mat: out of memory");
    for (int i = 0; i < NSENSELS; i++) {
        double u1 = (vm_rng_uniform(&r) + 1e-12) * (1 - 2e-12);
        double u2 = (vm_rng_uniform(&r) + 1e-12) * (1 - 2e-12);
        double z = floor(sc->zero_counts + sc->zero_spread * normal_quantile(u1) + 0.5);
        if (z < 0)
            z = 0;
        if (z > 1000)
            z = 1000;
        double g = 1.0 + sc->gain_spread * normal_quantile(u2);
        if (g < 0.5)
            g = 0.5;
        vm->zero[i] = (float)z;
        vm->zero_half[i] = (float)z + 0.5f;
        vm->sens[i] = (float)g;
        vm->kind[i] = SENSEL_OK;
        cal->zero[i] = (uint16_t)z;
        /* Sensitivity acts on the pressure side, so the datasheet's
         * gain * curve(raw - zero) inverts it exactly with gain = 1/g. */
        cal->gain[i] = (float)(1.0 / g);
    }
    for (int k = 0; k < sc->n_dead; k++)
        vm->kind[sc->dead[k][0] * VM_COLS + sc->dead[k][1]] = SENSEL_DEAD;
    for (int k = 0; k < sc->n_hot; k++)
        vm->kind[sc->hot[k][0] * VM_COLS + sc->hot[k][1]] = SENSEL_HOT;
    /* Curve = inverse response, knots denser towards full scale where the
     * inverse bends most. */
    cal->n_knots = CALIB_KNOTS;
    for (int k = 0; k < CALIB_KNOTS; k++) {
        double s = VM_FULL_SCALE * sin(M_PI / 2 * k / (CALIB_KNOTS - 1));
        cal->knot_raw[k] = (float)s;
        cal->knot_kpa[k] = (float)(sc->p_half_kpa * s / (sc->span_counts - s));
    }
    cal->knot_raw[0] = 0.0f;
    cal->knot_kpa[0] = 0.0f;
    size_t len = rm_calib_blob_len(CALIB_KNOTS, VM_ROWS, VM_COLS);
    vm->calib_blob = malloc(len);
    if (!vm->calib_blob) {
        rm_calib_free(cal);
        return rm_err_set(err, RM_ERR_NOMEM, "virtual mat: out of memory");
    }
    rm_status st = rm_calib_encode(cal, vm->calib_blob, len, &vm->calib_len);
    rm_calib_free(cal);
    if (st)
        return rm_err_set(err, st, "virtual mat: cannot encode its calibration");
    /* What the host gets is the decoded blob (gains rounded to Q12). */
    st = rm_calib_decode(vm->calib_blob, vm->calib_len, VM_ROWS, VM_COLS, NULL, &vm->calib, err);
    if (st)
        return rm_err_prefix(err, st, "virtual mat");

    vm->noise = malloc(NOISE_TABLE * sizeof *vm->noise);
    if (!vm->noise)
        return rm_err_set(err, RM_ERR_NOMEM, "virtual mat: out of memory");
    for (int i = 0; i < NOISE_TABLE; i++)
        vm->noise[i] = (float)(sc->noise_counts * normal_quantile((i + 0.5) / NOISE_TABLE));
    return RM_OK;
}

static void fill_info(rm_vmat *vm)
{
    rm_info *in = &vm->info;
    memset(in, 0, sizeof *in);
    in->protocol_version = RM_PROTOCOL_VERSION;
    in->rows = VM_ROWS;
    in->cols = VM_COLS;
    in->adc_bits = VM_ADC_BITS;
    in->flags = RM_INFO_FLAG_CALIB;
    in->row_pitch_um = VM_PITCH_UM;
    in->col_pitch_um = VM_PITCH_UM;
    in->rate_hz = (uint16_t)vm->rate;
    in->max_rate_hz = VM_MAX_RATE;
    in->min_rate_hz = VM_MIN_RATE;
    in->calib_len = (uint32_t)vm->calib_len;
    in->calib_crc32 = rm_crc32(vm->calib_blob, vm->calib_len);
    snprintf(in->firmware, sizeof in->firmware, "vmat-1.0");
    snprintf(in->model, sizeof in->model, "RM-1 virtual");
}

static void set_rate(rm_vmat *vm, unsigned rate)
{
    vm->rate = rate;
    vm->total = (uint64_t)ceil(vm->sc.total_s * rate - 1e-9);
    vm->info.rate_hz = (uint16_t)rate;
}

rm_status rm_vmat_new(const rm_vmat_config *cfg, rm_vmat **out, rm_err *err)
{
    if (!cfg || !out)
        return rm_err_set(err, RM_ERR_ARG, "virtual mat: NULL argument");
    *out = NULL;
    double ts = cfg->time_scale == 0 ? 1.0 : cfg->time_scale;
    if (!(ts > 0 && ts <= 100))
        return rm_err_set(err, RM_ERR_RANGE, "virtual mat: time scale %g outside (0, 100]", ts);
    if (cfg->rate_hz != 0 && !(cfg->rate_hz >= VM_MIN_RATE && cfg->rate_hz <= VM_MAX_RATE &&
                               cfg->rate_hz == floor(cfg->rate_hz)))
        return rm_err_set(err, RM_ERR_RANGE,
                          "virtual mat: rate %g Hz: expected a whole number in %d..%d",
                          cfg->rate_hz, VM_MIN_RATE, VM_MAX_RATE);
    if (cfg->fault_override) {
        const rm_vmat_faults *f = &cfg->faults;
        double rates[4] = {f->corrupt_rate, f->truncate_rate, f->garbage_rate, f->drop_rate};
        for (int i = 0; i < 4; i++)
            if (!(rates[i] >= 0 && rates[i] <= 0.5))
                return rm_err_set(err, RM_ERR_RANGE, "virtual mat: fault rate %g outside 0..0.5",
                                  rates[i]);
    }
    rm_vmat *vm = calloc(1, sizeof *vm);
    if (!vm)
        return rm_err_set(err, RM_ERR_NOMEM, "virtual mat: out of memory");
    char buf[1024];
    const char *path = rm_vmat_scenario_path(cfg->scenario, buf, sizeof buf);
    vm->seed = cfg->seed;
    rm_status st = vm_scenario_load(path, ts, cfg->seed, &vm->sc, err);
    if (st) {
        if (path == buf && access(path, F_OK) != 0)
            list_scenarios(path, err);
        free(vm);
        return st;
    }
    vm->faults = cfg->fault_override ? cfg->faults : vm->sc.faults;
    if ((st = build_sensor(vm, err))) {
        rm_vmat_free(vm);
        return st;
    }
    fill_info(vm);
    set_rate(vm, cfg->rate_hz ? (unsigned)cfg->rate_hz : (unsigned)vm->sc.rate_hz);
    uint64_t h = vm->seed;
    snprintf(vm->serial, sizeof vm->serial, "VMAT-%08X", (unsigned)(vm_splitmix64(&h) >> 32));
    vm_rng_seed(&vm->noise_rng, vm->seed, 2);
    vm_rng_seed(&vm->fault_rng, vm->seed, 4);
    *out = vm;
    return RM_OK;
}

void rm_vmat_free(rm_vmat *vm)
{
    if (!vm)
        return;
    vm_scenario_free(&vm->sc);
    rm_calib_free(vm->calib);
    free(vm->calib_blob);
    free(vm->noise);
    free(vm);
}

const rm_info *rm_vmat_info(const rm_vmat *vm) { return &vm->info; }
const rm_calib *rm_vmat_calib(const rm_vmat *vm) { return vm->calib; }

const uint8_t *rm_vmat_calib_blob(const rm_vmat *vm, size_t *len)
{
    if (len)
        *len = vm->calib_len;
    return vm->calib_blob;
}

const char *rm_vmat_serial(const rm_vmat *vm) { return vm->serial; }

void rm_vmat_device(const rm_vmat *vm, rm_device *dev)
{
    memset(dev, 0, sizeof *dev);
    dev->vid = RM_USB_VID;
    dev->pid = RM_USB_PID;
    snprintf(dev->serial, sizeof dev->serial, "%s", vm->serial);
    snprintf(dev->model, sizeof dev->model, "%s", vm->info.model);
    snprintf(dev->firmware, sizeof dev->firmware, "%s", vm->info.firmware);
    dev->protocol_version = RM_PROTOCOL_VERSION;
    dev->rows = VM_ROWS;
    dev->cols = VM_COLS;
    dev->adc_bits = VM_ADC_BITS;
    dev->row_pitch_mm = VM_PITCH_UM / 1000.0;
    dev->col_pitch_mm = VM_PITCH_UM / 1000.0;
    dev->rate_hz = vm->rate;
}

void rm_vmat_header(const rm_vmat *vm, rm_header *hdr)
{
    memset(hdr, 0, sizeof *hdr);
    snprintf(hdr->title, sizeof hdr->title, "%s", vm->sc.title);
    snprintf(hdr->subject_id, sizeof hdr->subject_id, "%s", vm->sc.subject_id);
    hdr->body_mass_kg = vm->sc.body_mass_kg;
    const char *base = strrchr(vm->sc.path, '/');
    snprintf(hdr->subject_notes, sizeof hdr->subject_notes,
             "virtual mat: scenario %.160s, seed %llu", base ? base + 1 : vm->sc.path,
             (unsigned long long)vm->seed);
    snprintf(hdr->source, sizeof hdr->source, "vmat");
}

uint64_t rm_vmat_total_frames(const rm_vmat *vm) { return vm->total; }

rm_status rm_vmat_set_rate(rm_vmat *vm, unsigned rate_hz)
{
    if (rate_hz < VM_MIN_RATE || rate_hz > VM_MAX_RATE)
        return RM_ERR_RANGE;
    /* A host re-sends its rate after a replug: the same rate is no change.
     * Another rate mid-scenario would re-time frames already simulated. */
    if ((vm->next > 0 || vm->pend_len > 0) && rate_hz == vm_rate_of(vm))
        return RM_OK;
    if (vm->next > 0 || vm->pend_len > 0)
        return RM_ERR_STATE;
    set_rate(vm, rate_hz);
    return RM_OK;
}

rm_status rm_vmat_truth_frame(const rm_vmat *vm, uint64_t n, rm_vmat_truth *truth)
{
    if (n >= vm->total || !truth)
        return RM_ERR_RANGE;
    int hint = -1;
    vm_truth_at(&vm->sc, (double)n / vm->rate, &hint, truth, NULL);
    return RM_OK;
}

uint16_t rm_vmat_sensor_counts(const rm_vmat *vm, unsigned r, unsigned c, double kpa)
{
    if (r >= VM_ROWS || c >= VM_COLS)
        return 0;
    size_t i = (size_t)r * VM_COLS + c;
    if (vm->kind[i] == SENSEL_DEAD)
        return 0;
    if (vm->kind[i] == SENSEL_HOT)
        return VM_FULL_SCALE;
    double v = floor(vm->zero[i] + response(&vm->sc, kpa * vm->sens[i]) + 0.5);
    return (uint16_t)(v < 0 ? 0 : v > VM_FULL_SCALE ? VM_FULL_SCALE : v);
}

/* Fraction of a Hertzian line contact (half-width b, centre xc) on the row
 * spanning [x0, x1): the elliptical profile's CDF. */
static inline double hertz_cdf(double u)
{
    if (u <= -1)
        return 0;
    if (u >= 1)
        return 1;
    return 0.5 + (u * sqrt(1 - u * u) + asin(u)) / M_PI;
}

/* Hertz sphere on a flat: contact radius a = (3 F R / (4 E*))^(1/3), pressure
 * p(r) = p0 sqrt(1 - r^2/a^2). Each sensel gets the profile averaged over
 * 8 x 8 points, then the whole contact is scaled to carry exactly F. */
#define BALL_SUB 8
static void render_ball(rm_vmat *vm, const rm_vmat_truth *tr, double to_kpa)
{
    const vm_scenario *sc = &vm->sc;
    double a =
        cbrt(3 * tr->ball_force_n * sc->ball_radius_cm * 1e-2 / (4 * sc->ball_modulus_kpa * 1e3)) *
        100;
    int r0 = (int)floor((tr->ball_x_cm - a) / PITCH_CM),
        r1 = (int)floor((tr->ball_x_cm + a) / PITCH_CM);
    int c0 = (int)floor((tr->ball_y_cm - a) / PITCH_CM),
        c1 = (int)floor((tr->ball_y_cm + a) / PITCH_CM);
    r0 = r0 < 0 ? 0 : r0;
    c0 = c0 < 0 ? 0 : c0;
    r1 = r1 >= VM_ROWS ? VM_ROWS - 1 : r1;
    c1 = c1 >= VM_COLS ? VM_COLS - 1 : c1;
    float w[VM_ROWS * VM_COLS];
    double tot = 0;
    for (int r = r0; r <= r1; r++)
        for (int c = c0; c <= c1; c++) {
            double acc = 0;
            for (int i = 0; i < BALL_SUB; i++)
                for (int j = 0; j < BALL_SUB; j++) {
                    double dx = (r + (i + 0.5) / BALL_SUB) * PITCH_CM - tr->ball_x_cm;
                    double dy = (c + (j + 0.5) / BALL_SUB) * PITCH_CM - tr->ball_y_cm;
                    double u = 1 - (dx * dx + dy * dy) / (a * a);
                    acc += u > 0 ? sqrt(u) : 0;
                }
            w[r * VM_COLS + c] = (float)acc;
            tot += acc;
        }
    if (!(tot > 0))
        return;
    for (int r = r0; r <= r1; r++) {
        vm->row_loaded[r] = 1;
        for (int c = c0; c <= c1; c++)
            vm->pmap[r * VM_COLS + c] +=
                (float)(tr->ball_force_n * to_kpa * w[r * VM_COLS + c] / tot);
    }
}

/* Builds the pressure map (kPa) of the instant described by truth. */
static void render(rm_vmat *vm, const rm_vmat_truth *tr)
{
    const vm_scenario *sc = &vm->sc;
    float *p = vm->pmap;
    memset(p, 0, sizeof vm->pmap);
    memset(vm->row_loaded, 0, sizeof vm->row_loaded);
    if (tr->segment < 0)
        return;
    const vm_segment *s = &sc->segments[tr->segment];
    const double to_kpa = 1.0 / (PITCH_CM * PITCH_CM * 1e-4 * 1000.0); /* N per sensel -> kPa */
    if (tr->ball_force_n > 0)
        render_ball(vm, tr, to_kpa);
    if (tr->roller_force_n > 0) {
        /* Hertz line contact of a soft cylinder on the floor:
         * b = sqrt(4 F R / (pi L E*)), the strip widens with load. */
        double b = sqrt(4 * tr->roller_force_n * sc->roller_radius_cm * 1e-2 /
                        (M_PI * s->contact_len_cm * 1e-2 * sc->roller_stiffness_kpa * 1e3)) *
                   100;
        if (b < 0.5)
            b = 0.5;
        double ls[VM_MAX_LIMBS];
        vm_limb_shares(s, tr->time_s, ls);
        float wy[VM_COLS];
        double u = sc->roller_uniform;
        for (int c = 0; c < VM_COLS; c++) {
            double w = u * s->roller_wy[c];
            for (int j = 0; j < s->n_limbs; j++)
                w += (1 - u) * ls[j] * s->limb_wy[j][c];
            wy[c] = (float)w;
        }
        int r0 = (int)floor((tr->roller_x_cm - b) / PITCH_CM);
        int r1 = (int)floor((tr->roller_x_cm + b) / PITCH_CM);
        if (r0 < 0)
            r0 = 0;
        if (r1 >= VM_ROWS)
            r1 = VM_ROWS - 1;
        for (int r = r0; r <= r1; r++) {
            double f = hertz_cdf(((r + 1) * PITCH_CM - tr->roller_x_cm) / b) -
                       hertz_cdf((r * PITCH_CM - tr->roller_x_cm) / b);
            float fr = (float)(tr->roller_force_n * f * to_kpa);
            float *row = p + r * VM_COLS;
            vm->row_loaded[r] = 1;
            for (int c = 0; c < VM_COLS; c++)
                row[c] += fr * wy[c];
        }
    }
    if (tr->support_force_n > 0) {
        for (int k = 0; k < s->n_supports; k++) {
            const vm_support *su = &s->sup[k];
            double fk = tr->support_force_n / s->support_on_mat * su->share * to_kpa;
            for (int r = su->r0; r <= su->r1; r++) {
                float fr = (float)(fk * su->wx[r]);
                float *row = p + r * VM_COLS;
                vm->row_loaded[r] = 1;
                for (int c = su->c0; c <= su->c1; c++)
                    row[c] += fr * su->wy[c];
            }
        }
    }
}

/* Pressure map -> ADC counts: zero + response(sensitivity * p) + noise. */
static int sense(rm_vmat *vm, uint16_t *raw)
{
    const float span = (float)vm->sc.span_counts, ph = (float)vm->sc.p_half_kpa;
    const float *p = vm->pmap, *noise = vm->noise;
    float *v = vm->acc;
    int sat = 0;
    /* Three plain passes the compiler can vectorise: zero + noise on every
     * sensel, the response only on rows that carry load, then clamp. */
    for (int i = 0; i < NSENSELS; i += 4) {
        uint64_t rnd = vm_rng_next(&vm->noise_rng);
        v[i] = vm->zero_half[i] + noise[rnd & 0xFFFF];
        v[i + 1] = vm->zero_half[i + 1] + noise[(rnd >> 16) & 0xFFFF];
        v[i + 2] = vm->zero_half[i + 2] + noise[(rnd >> 32) & 0xFFFF];
        v[i + 3] = vm->zero_half[i + 3] + noise[rnd >> 48];
    }
    for (int r = 0; r < VM_ROWS; r++) {
        if (!vm->row_loaded[r])
            continue;
        const float *pr = p + r * VM_COLS, *sr = vm->sens + r * VM_COLS;
        float *vr = v + r * VM_COLS;
        for (int c = 0; c < VM_COLS; c++) {
            float q = pr[c] * sr[c];
            vr[c] += span * q / (q + ph); /* q = 0 adds 0 */
        }
    }
    for (int i = 0; i < NSENSELS; i++) {
        float f = v[i] > 0.0f ? v[i] : 0.0f;
        f = f < (float)VM_FULL_SCALE ? f : (float)VM_FULL_SCALE;
        raw[i] = (uint16_t)(int32_t)f;
    }
    unsigned top = 0;
    for (int i = 0; i < NSENSELS; i++)
        top = top > raw[i] ? top : raw[i];
    sat = top >= VM_FULL_SCALE;
    for (int k = 0; k < vm->sc.n_dead; k++)
        raw[vm->sc.dead[k][0] * VM_COLS + vm->sc.dead[k][1]] = 0;
    for (int k = 0; k < vm->sc.n_hot; k++) {
        raw[vm->sc.hot[k][0] * VM_COLS + vm->sc.hot[k][1]] = VM_FULL_SCALE;
        sat = 1;
    }
    if (sat) {
        /* a dead sensel may have overwritten the only saturated one */
        sat = 0;
        for (int i = 0; i < NSENSELS && !sat; i++)
            sat = raw[i] == VM_FULL_SCALE;
    }
    return sat;
}

static uint64_t device_time_us(const rm_vmat *vm, uint64_t n)
{
    /* The device's crystal runs drift_ppm fast (or slow); each stamp has a
     * little jitter from the firmware's sampling loop. */
    double t = (double)n / vm->rate;
    double us = vm->sc.boot_s * 1e6 + t * 1e6 * (1.0 + vm->sc.drift_ppm * 1e-6);
    uint64_t h = vm->seed ^ (n * 0x9E3779B97F4A7C15ull) ^ 0x5DEECE66Dull;
    double j = ((double)(vm_splitmix64(&h) >> 11) / 9007199254740992.0 * 2 - 1) * vm->sc.jitter_us;
    return (uint64_t)floor(us + j);
}

rm_status rm_vmat_next_frame(rm_vmat *vm, rm_frame_header *hdr, uint16_t *raw, rm_vmat_truth *truth)
{
    if (vm->next >= vm->total)
        return RM_ERR_NOT_FOUND;
    uint64_t n = vm->next;
    rm_vmat_truth tr;
    vm_truth_at(&vm->sc, (double)n / vm->rate, &vm->hint, &tr, NULL);
    render(vm, &tr);
    int sat = sense(vm, raw ? raw : vm->raw);
    memset(hdr, 0, sizeof *hdr);
    hdr->header_len = RM_FRAME_HEADER_LEN;
    hdr->flags =
        (uint16_t)((sat ? RM_FLAG_SATURATED : 0) | (vm->drop_pending ? RM_FLAG_DROPPED_BEFORE : 0));
    hdr->seq = (uint32_t)(n - vm->seq_base);
    hdr->payload_len = NSENSELS * 2;
    hdr->t_device_us = device_time_us(vm, n);
    hdr->rows = VM_ROWS;
    hdr->cols = VM_COLS;
    if (truth)
        *truth = tr;

    /* Fault decisions: a fixed number of draws per frame from their own
     * generator, so the frames never depend on the faults. */
    double u1 = vm_rng_uniform(&vm->fault_rng);
    double u2 = vm_rng_uniform(&vm->fault_rng);
    vm->last_fault_seed = vm_rng_next(&vm->fault_rng);
    const rm_vmat_faults *f = &vm->faults;
    vm->last_fault = RM_VMAT_FAULT_NONE;
    vm->last_garbage = 0;
    if (n + 1 < vm->total) {
        if (u1 < f->drop_rate)
            vm->last_fault = RM_VMAT_FAULT_DROP;
        else if (u1 < f->drop_rate + f->corrupt_rate)
            vm->last_fault = RM_VMAT_FAULT_CORRUPT;
        else if (u1 < f->drop_rate + f->corrupt_rate + f->truncate_rate)
            vm->last_fault = RM_VMAT_FAULT_TRUNCATE;
        vm->last_garbage = u2 < f->garbage_rate && (vm->last_fault == RM_VMAT_FAULT_NONE ||
                                                    vm->last_fault == RM_VMAT_FAULT_CORRUPT);
    }
    vm->drop_pending = vm->last_fault == RM_VMAT_FAULT_DROP;
    vm->next++;
    vm->counts.frames_produced = vm->next;
    return RM_OK;
}

rm_vmat_fault rm_vmat_last_fault(const rm_vmat *vm) { return vm->last_fault; }

static int has_magic(const uint8_t *b, size_t from, size_t to)
{
    for (size_t i = from; i + 4 <= to; i++)
        if (b[i] == 'R' && b[i + 1] == 'M' && b[i + 2] == 'F' && b[i + 3] == '1')
            return 1;
    return 0;
}

/* Encodes the next produced frame into the pending buffer with its fault. */
static int produce(rm_vmat *vm)
{
    rm_frame_header h;
    if (rm_vmat_next_frame(vm, &h, vm->raw, NULL))
        return 0;
    size_t len = 0;
    rm_frame_encode(&h, vm->raw, vm->pend, sizeof vm->pend, &len);
    vm->pend_pos = 0;
    vm->pend_len = len;
    vm_rng r;
    vm_rng_seed(&r, vm->last_fault_seed, 5);
    switch (vm->last_fault) {
    case RM_VMAT_FAULT_DROP:
        vm->pend_len = 0;
        vm->counts.frames_dropped++;
        return 1;
    case RM_VMAT_FAULT_CORRUPT: {
        /* Flip 1-3 bytes of payload or CRC (never the header). Retry if the
         * flips could be mistaken for a new frame (a magic) or, against all
         * odds, leave the CRC valid; give up after a few tries. */
        int done = 0;
        for (int attempt = 0; attempt < 8 && !done; attempt++) {
            int nflip = 1 + (int)(vm_rng_next(&r) % 3);
            size_t at[3];
            uint8_t x[3];
            for (int k = 0; k < nflip; k++) {
                at[k] = RM_FRAME_HEADER_LEN + vm_rng_next(&r) % (len - RM_FRAME_HEADER_LEN);
                x[k] = (uint8_t)(1 + vm_rng_next(&r) % 255);
                vm->pend[at[k]] ^= x[k];
            }
            size_t crc_at = len - RM_FRAME_CRC_LEN;
            if (!has_magic(vm->pend, 1, len) &&
                rm_crc32(vm->pend, crc_at) != rm_get_u32(vm->pend + crc_at))
                done = 1;
            else
                for (int k = nflip - 1; k >= 0; k--)
                    vm->pend[at[k]] ^= x[k];
        }
        if (done)
            vm->counts.frames_corrupt++;
        else
            vm->counts.frames_sent++;
        break;
    }
    case RM_VMAT_FAULT_TRUNCATE: {
        size_t keep = RM_FRAME_HEADER_LEN + vm_rng_next(&r) % (len - RM_FRAME_HEADER_LEN);
        if (!has_magic(vm->pend, 1, keep)) {
            vm->pend_len = keep;
            vm->counts.frames_truncated++;
        } else {
            vm->counts.frames_sent++;
        }
        break;
    }
    default: vm->counts.frames_sent++; break;
    }
    if (vm->last_garbage) {
        /* Garbage never holds a byte of "RMF1", so it can neither form a
         * magic nor complete one with the bytes around it. */
        int n = 1 + (int)(vm_rng_next(&r) % 64);
        for (int k = 0; k < n; k++) {
            uint8_t b;
            do
                b = (uint8_t)vm_rng_next(&r);
            while (b == 'R' || b == 'M' || b == 'F' || b == '1');
            vm->pend[vm->pend_len++] = b;
        }
        vm->counts.garbage_insertions++;
        vm->counts.garbage_bytes += (uint64_t)n;
    }
    return 1;
}

size_t rm_vmat_read_stream(rm_vmat *vm, uint8_t *buf, size_t cap)
{
    size_t got = 0;
    while (got < cap) {
        if (vm->pend_pos < vm->pend_len) {
            size_t n = vm->pend_len - vm->pend_pos;
            if (n > cap - got)
                n = cap - got;
            memcpy(buf + got, vm->pend + vm->pend_pos, n);
            vm->pend_pos += n;
            got += n;
            continue;
        }
        vm->pend_len = vm->pend_pos = 0;
        if (!produce(vm))
            break;
    }
    return got;
}

void rm_vmat_get_counts(const rm_vmat *vm, rm_vmat_counts *counts) { *counts = vm->counts; }

void rm_vmat_restart_seq(rm_vmat *vm)
{
    /* START of a new acquisition: the device clock and the person on the
     * mat go on; only the numbering, the overrun flag and the GET_STATUS
     * counters start over. Bytes of a frame already produced still go out
     * first (callers restart between frames, as after STOP). */
    vm->seq_base = vm->next;
    vm->drop_pending = 0;
    vm->at_start = vm->counts;
}

const vm_scenario *vm_scenario_of(const rm_vmat *vm) { return &vm->sc; }
unsigned vm_rate_of(const rm_vmat *vm) { return vm->rate; }
uint64_t vm_seed_of(const rm_vmat *vm) { return vm->seed; }

int rm_vmat_segment_count(const rm_vmat *vm) { return vm->sc.n_segments; }

const char *rm_vmat_segment(const rm_vmat *vm, int i, const char **group, double *start_s,
                            double *end_s)
{
    static const char *const names[VM_NGROUPS] = {"calves", "hamstrings", "quads", "it_band",
                                                  "glutes"};
    if (i < 0 || i >= vm->sc.n_segments)
        return NULL;
    const vm_segment *s = &vm->sc.segments[i];
    if (group)
        *group = names[s->group];
    if (start_s)
        *start_s = s->start_s;
    if (end_s)
        *end_s = s->end_s;
    return s->label;
}

double rm_vmat_duration(const rm_vmat *vm) { return vm->sc.total_s; }

void rm_vmat_dev_status(const rm_vmat *vm, rm_dev_status *st)
{
    memset(st, 0, sizeof *st);
    const rm_vmat_counts *k = &vm->counts, *b = &vm->at_start;
    st->frames_sent = (uint32_t)(k->frames_sent + k->frames_corrupt + k->frames_truncated -
                                 b->frames_sent - b->frames_corrupt - b->frames_truncated);
    st->frames_dropped = (uint32_t)(k->frames_dropped - b->frames_dropped);
    uint64_t us = vm->next ? device_time_us(vm, vm->next - 1) : (uint64_t)(vm->sc.boot_s * 1e6);
    st->uptime_s = (uint32_t)(us / 1000000u);
    st->temperature_centi_c = 2350;
}
