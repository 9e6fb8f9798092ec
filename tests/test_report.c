/* test_report.c - the report of a shipped scenario: the drawing model
 * (pages, panels, ranges, points) and the rendered pixels; file output. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>

#include "rm_analysis.h"
#include "rm_report.h"
#include "test_util.h"

/* cairo's and fontconfig's caches are released after each test (each runs
 * in its own process), so the leak checker sees only our allocations */
TestSuite(report, .fini = rm_report_shutdown);

typedef struct fixture {
    char *dir, *rec;
    rm_profile prof;
    rm_results *r;
} fixture;

/* The guide routine, shortened (every phase x0.5, 50 Hz) but with its five
 * sets, recorded through the virtual mat, the decoder and the writer. */
static void make_with(fixture *f, const char *scenario, const char *profile);

static void make(fixture *f, const char *scenario) { make_with(f, scenario, "guide"); }

/* The scenario (a shipped name or a file) analysed with a profile. */
static void make_with(fixture *f, const char *scenario, const char *profile)
{
    memset(f, 0, sizeof *f);
    f->dir = rm_test_tmpdir("report");
    cr_assert_not_null(f->dir);
    f->rec = rm_test_path(f->dir, "rec.h5");
    cr_assert_eq(
        rm_test_system(
            "'%s/cli/rollmat' simulate --scenario %s --time-scale 0.5 --rate 50 -q -o '%s'",
            RM_BUILD_DIR, scenario, f->rec),
        0);
    rm_err err = {0};
    cr_assert_eq(rm_profile_load(profile, &f->prof, &err), RM_OK, "%s", err.msg);
    cr_assert_eq(rm_analyze_session(f->rec, NULL, &f->prof, &f->r, &err), RM_OK, "%s", err.msg);
}

static void unmake(fixture *f)
{
    rm_results_free(f->r);
    rm_test_rmtree(f->dir);
    free(f->rec);
    free(f->dir);
}

Test(report, model_of_the_guide_routine)
{
    fixture f;
    make(&f, "guide");
    const rm_results *r = f.r;
    cr_assert_eq(r->n_segments, 5, "the guide routine has five sets, got %zu", r->n_segments);
    rm_report *rep = NULL;
    rm_err err = {0};
    cr_assert_eq(rm_report_build(r, &f.prof, &rep, &err), RM_OK, "%s", err.msg);
    cr_assert_eq(rep->n_pages, 3 + r->n_segments);
    cr_assert_eq(rm_report_count_panels(rep, RM_PANEL_MAP), 5);
    /* a peak map beside each mean map */
    cr_assert_eq(rm_report_count_panels(rep, RM_PANEL_PEAK_MAP), 5);
    cr_assert_eq(rm_report_count_panels(rep, RM_PANEL_PASS), 0, "the guide has a speed band");
    cr_assert_eq(rm_report_count_panels(rep, RM_PANEL_POSITION), 6);
    cr_assert_eq(rm_report_count_panels(rep, RM_PANEL_SPEED), 6);
    cr_assert_eq(rm_report_count_panels(rep, RM_PANEL_FORCE), 6);
    cr_assert_eq(rm_report_count_panels(rep, RM_PANEL_TABLE), 1);
    cr_assert_eq(rm_report_count_panels(rep, RM_PANEL_VERDICTS), 1);
    int seen[5] = {0};
    size_t marks = 0;
    double cmax = NAN;
    for (size_t i = 0; i < rep->n_pages; i++) {
        const rm_report_page *pg = &rep->pages[i];
        for (size_t j = 0; j < pg->n_panels; j++) {
            const rm_report_panel *p = &pg->panels[j];
            /* every panel lies on the A4 page */
            cr_assert(p->x >= 0 && p->y >= 0 && p->x + p->w <= rep->page_w + 1e-6 &&
                          p->y + p->h <= rep->page_h + 1e-6,
                      "page %zu panel %zu (%s) leaves the page", i + 1, j,
                      rm_report_panel_kind_name(p->kind));
            /* every time axis reads m:ss; no data was lost here */
            cr_assert_eq(p->x_clock, p->kind == RM_PANEL_POSITION || p->kind == RM_PANEL_SPEED ||
                                         p->kind == RM_PANEL_FORCE,
                         "page %zu %s panel: x_clock %d", i + 1,
                         rm_report_panel_kind_name(p->kind), p->x_clock);
            cr_assert_eq(p->n_gaps, 0);
            if (p->kind == RM_PANEL_MAP || p->kind == RM_PANEL_PEAK_MAP) {
                /* one colour scale for every map of the report */
                if (isnan(cmax))
                    cmax = p->c_max;
                cr_assert_float_eq(p->c_max, cmax, 1e-9, "page %zu %s: %g kPa, not %g", i + 1,
                                   rm_report_panel_kind_name(p->kind), p->c_max, cmax);
            }
            switch (p->kind) {
            case RM_PANEL_PEAK_MAP:
                /* the peak map's scale reaches its highest sensel */
                for (size_t c = 0; c < (size_t)r->rows * r->cols; c++)
                    cr_assert(!(r->seg_peak_kpa[(size_t)p->segment * r->rows * r->cols + c] >
                                p->c_max),
                              "a peak of set %d above the scale", p->segment + 1);
                cr_assert_float_eq(p->pw / p->x_max, p->ph / p->y_max, 1e-6);
                break;
            case RM_PANEL_MAP:
                cr_assert(p->segment >= 0 && p->segment < 5);
                seen[p->segment]++;
                /* the supports the analysis found are named on the map */
                cr_assert_gt(p->n_supports, 0, "set %d: no support named (evidence \"%s\")",
                             p->segment + 1, r->segments[p->segment].supports);
                cr_assert_float_eq(p->x_max, r->rows * r->row_pitch_cm, 1e-9);
                cr_assert_float_eq(p->y_max, r->cols * r->col_pitch_cm, 1e-9);
                cr_assert_eq(p->n_points, (size_t)r->rows * r->cols);
                cr_assert(p->c_max > 0 && isfinite(p->c_max), "colour scale up to %g kPa",
                          p->c_max);
                /* the mat keeps its aspect: 1 cm is as long across as along */
                cr_assert_float_eq(p->pw / p->x_max, p->ph / p->y_max, 1e-6);
                break;
            case RM_PANEL_POSITION:
            case RM_PANEL_SPEED:
            case RM_PANEL_FORCE:
                cr_assert(p->x_max > p->x_min && p->y_max > p->y_min);
                cr_assert_gt(p->n_points, 10, "%s panel on page %zu plots %zu points",
                             rm_report_panel_kind_name(p->kind), i + 1, p->n_points);
                if (p->segment >= 0) {
                    const rm_segment_result *s = &r->segments[p->segment];
                    cr_assert(p->x_min <= s->start_s && p->x_max >= s->end_s);
                } else {
                    cr_assert(p->x_max >= r->segments[4].end_s);
                }
                if (p->kind == RM_PANEL_SPEED) {
                    cr_assert_float_eq(p->band_lo, f.prof.speed_cm_s.lo, 1e-9);
                    cr_assert_float_eq(p->band_hi, f.prof.speed_cm_s.hi, 1e-9);
                    cr_assert(p->y_max > p->band_hi);
                }
                if (p->kind == RM_PANEL_FORCE) /* the simulated subject's mass is known */
                    cr_assert(r->body_mass_kg > 0 ? !isnan(p->y2_max) : isnan(p->y2_max));
                if (p->kind == RM_PANEL_POSITION && p->segment < 0)
                    marks = p->n_marks;
                break;
            case RM_PANEL_TABLE: cr_assert_eq(p->n_marks, 5); break;
            default: break;
            }
        }
    }
    for (int k = 0; k < 5; k++)
        cr_assert_eq(seen[k], 1, "set %d has %d maps", k + 1, seen[k]);
    cr_assert_eq(marks, r->n_strokes + r->n_holds, "overview marks %zu strokes+holds of %zu", marks,
                 r->n_strokes + r->n_holds);
    rm_report_free(rep);
    unmake(&f);
}

static int ink(uint32_t px)
{
    /* anything visibly darker or more coloured than white */
    unsigned rr = px >> 16 & 0xff, g = px >> 8 & 0xff, b = px & 0xff;
    return rr < 235 || g < 235 || b < 235;
}

/* Share of non-white pixels in a page rectangle given in points. */
static double ink_share(const uint32_t *pix, int w, int h, int stride, double dpi, double x,
                        double y, double pw, double ph)
{
    double s = dpi / 72;
    int x0 = (int)(x * s) + 1, y0 = (int)(y * s) + 1, x1 = (int)((x + pw) * s) - 1,
        y1 = (int)((y + ph) * s) - 1;
    if (x1 > w)
        x1 = w;
    if (y1 > h)
        y1 = h;
    size_t n = 0, tot = 0;
    for (int yy = y0; yy < y1; yy++)
        for (int xx = x0; xx < x1; xx++) {
            n += ink(pix[(size_t)yy * (size_t)(stride / 4) + (size_t)xx]);
            tot++;
        }
    return tot ? (double)n / (double)tot : 0;
}

Test(report, every_page_renders_and_no_panel_is_blank)
{
    fixture f;
    make(&f, "guide");
    rm_report *rep = NULL;
    rm_err err = {0};
    cr_assert_eq(rm_report_build(f.r, &f.prof, &rep, &err), RM_OK, "%s", err.msg);
    const double dpi = 40;
    for (size_t i = 0; i < rep->n_pages; i++) {
        uint32_t *pix = NULL;
        int w, h, stride;
        cr_assert_eq(rm_report_render(rep, i, dpi, &pix, &w, &h, &stride, &err), RM_OK, "%s",
                     err.msg);
        cr_assert_eq(w, (int)ceil(rep->page_w * dpi / 72));
        double page = ink_share(pix, w, h, stride, dpi, 0, 0, rep->page_w, rep->page_h);
        cr_assert(page > 0.01 && page < 0.9, "page %zu: %.3f of the page inked", i + 1, page);
        const rm_report_page *pg = &rep->pages[i];
        for (size_t j = 0; j < pg->n_panels; j++) {
            const rm_report_panel *p = &pg->panels[j];
            double s = ink_share(pix, w, h, stride, dpi, p->px, p->py, p->pw, p->ph);
            /* maps are mostly coloured sensels; plots hold lines and bands */
            double want = p->kind == RM_PANEL_MAP ? 0.15 : 0.02;
            cr_assert(s > want, "page %zu %s panel: %.3f inked (want > %.2f)", i + 1,
                      rm_report_panel_kind_name(p->kind), s, want);
        }
        free(pix);
    }
    cr_assert_neq(rm_report_render(rep, rep->n_pages, dpi, &(uint32_t *){NULL}, &(int){0},
                                   &(int){0}, &(int){0}, &err),
                  RM_OK);
    rm_report_free(rep);
    unmake(&f);
}

static size_t count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

Test(report, files_pdf_png_svg)
{
    fixture f;
    make(&f, "rushed");
    rm_report *rep = NULL;
    rm_err err = {0};
    cr_assert_eq(rm_report_build(f.r, &f.prof, &rep, &err), RM_OK, "%s", err.msg);
    char *pdf = rm_test_path(f.dir, "r.pdf"), *png = rm_test_path(f.dir, "r.png"),
         *svg = rm_test_path(f.dir, "r.svg");
    rm_report_format fmt;
    cr_assert_eq(rm_report_format_of(pdf, &fmt, &err), RM_OK);
    cr_assert_eq(fmt, RM_REPORT_PDF);
    cr_assert_eq(rm_report_format_of("x.PNG", &fmt, &err), RM_OK);
    cr_assert_eq(fmt, RM_REPORT_PNG);
    cr_assert_eq(rm_report_format_of("x.jpg", &fmt, &err), RM_ERR_ARG);
    cr_assert(strstr(err.msg, "x.jpg"), "%s", err.msg);

    cr_assert_eq(rm_report_write(rep, pdf, RM_REPORT_PDF, -1, 0, &err), RM_OK, "%s", err.msg);
    cr_assert_eq(rm_report_write(rep, png, RM_REPORT_PNG, 2, 60, &err), RM_OK, "%s", err.msg);
    cr_assert_eq(rm_report_write(rep, svg, RM_REPORT_SVG, 0, 0, &err), RM_OK, "%s", err.msg);
    uint8_t *d;
    size_t n;
    cr_assert_eq(rm_test_read_file(pdf, &d, &n), 0);
    cr_assert(n > 1000 && !memcmp(d, "%PDF", 4));
    free(d);
    cr_assert_eq(rm_test_read_file(png, &d, &n), 0);
    cr_assert(n > 1000 && !memcmp(d, "\x89PNG", 4));
    free(d);
    cr_assert_eq(rm_test_read_file(svg, &d, &n), 0);
    cr_assert(n > 1000 && strstr((char *)d, "<svg"));
    free(d);
    /* poppler agrees on the page count */
    cr_assert_eq(rm_test_system("test \"$(pdfinfo '%s' | awk '/^Pages:/ {print $2}')\" = %zu", pdf,
                                rep->n_pages),
                 0);
    /* a page that does not exist: an error, and nothing left behind */
    size_t before = count_entries(f.dir);
    char *bad = rm_test_path(f.dir, "bad.png");
    cr_assert_eq(rm_report_write(rep, bad, RM_REPORT_PNG, (int)rep->n_pages, 0, &err),
                 RM_ERR_RANGE);
    cr_assert(strstr(err.msg, "bad.png"), "%s", err.msg);
    cr_assert_eq(count_entries(f.dir), before);
    /* an unwritable place: a clear error naming the file */
    cr_assert_neq(rm_report_write(rep, "/nonexistent-dir/r.pdf", RM_REPORT_PDF, -1, 0, &err),
                  RM_OK);
    cr_assert(strstr(err.msg, "/nonexistent-dir/r.pdf"), "%s", err.msg);
    free(bad);
    free(pdf);
    free(png);
    free(svg);
    rm_report_free(rep);
    unmake(&f);
}

Test(report, results_without_frames_or_sets_still_draw)
{
    rm_results *r = rm_results_new();
    cr_assert_not_null(r);
    r->rows = 8;
    r->cols = 6;
    r->row_pitch_cm = r->col_pitch_cm = 1.0;
    snprintf(r->profile, sizeof r->profile, "guide");
    rm_report *rep = NULL;
    rm_err err = {0};
    cr_assert_eq(rm_report_build(r, NULL, &rep, &err), RM_OK, "%s", err.msg);
    /* no roller: the overview's one plot and the table share a page */
    cr_assert_eq(rep->n_pages, 3, "summary, overview with the table, session maps");
    cr_assert_eq(rm_report_count_panels(rep, RM_PANEL_MAP), 1);
    cr_assert_eq(rm_report_count_panels(rep, RM_PANEL_PEAK_MAP), 1);
    for (size_t i = 0; i < rep->n_pages; i++) {
        uint32_t *pix = NULL;
        int w, h, s;
        cr_assert_eq(rm_report_render(rep, i, 30, &pix, &w, &h, &s, &err), RM_OK, "%s", err.msg);
        free(pix);
    }
    rm_report_free(rep);
    /* no geometry: refused with a reason */
    r->rows = 0;
    cr_assert_eq(rm_report_build(r, NULL, &rep, &err), RM_ERR_VALUE);
    cr_assert_null(rep);
    rm_results_free(r);
}

Test(report, command_line)
{
    fixture f;
    make(&f, "behm2020");
    char *res = rm_test_path(f.dir, "res.h5");
    rm_err err = {0};
    cr_assert_eq(rm_results_write(res, f.r, &err), RM_OK, "%s", err.msg);
    const char *R = RM_BUILD_DIR "/cli/rollmat";
    /* from the results file, from the recording, one page as PNG */
    cr_assert_eq(rm_test_system("'%s' report -q '%s' -o '%s/a.pdf'", R, res, f.dir), 0);
    cr_assert_eq(
        rm_test_system("'%s' report -q '%s' -o '%s/b.pdf' --profile behm2020", R, f.rec, f.dir), 0);
    cr_assert_eq(rm_test_system("'%s' report -q '%s' -o '%s/c.png' --page 2", R, res, f.dir), 0);
    cr_assert_eq(rm_test_system("test -s '%s/a.pdf' && test -s '%s/b.pdf' && test -s '%s/c.png'",
                                f.dir, f.dir, f.dir),
                 0);
    cr_assert_eq(
        rm_test_system("pdftoppm -r 20 -png -f 1 -l 1 '%s/a.pdf' '%s/pg' && test -s '%s/pg-1.png'",
                       f.dir, f.dir, f.dir),
        0);
    /* bad input and bad options */
    cr_assert_eq(rm_test_system(
                     "echo junk > '%s/junk.h5'; '%s' report '%s/junk.h5' -o '%s/j.pdf' 2>/dev/null",
                     f.dir, R, f.dir, f.dir),
                 1);
    cr_assert_eq(rm_test_system("test ! -e '%s/j.pdf'", f.dir), 0);
    cr_assert_eq(rm_test_system("'%s' report '%s' -o '%s/x.jpg' 2>/dev/null", R, res, f.dir), 2);
    cr_assert_eq(
        rm_test_system("'%s' report '%s' -o '%s/x.png' --page 99 2>/dev/null", R, res, f.dir), 2);
    cr_assert_eq(rm_test_system("'%s' report 2>/dev/null", R), 2);
    free(res);
    unmake(&f);
}

Test(report, imported_recording_without_a_roller)
{
    /* a vendor export (PhysioNet pmat: a person lying on a mat, no roller) */
    char *dir = rm_test_tmpdir("report");
    char *rec = rm_test_path(dir, "pmat.h5");
    cr_assert_eq(
        rm_test_system("'%s/cli/rollmat' import '%s/data/external/pmat_S1_1.txt' -o '%s' -q",
                       RM_BUILD_DIR, RM_SHARED_DIR, rec),
        0);
    rm_results *r = NULL;
    rm_err err = {0};
    cr_assert_eq(rm_analyze_session(rec, NULL, NULL, &r, &err), RM_OK, "%s", err.msg);
    cr_assert_eq(r->totals.roller_found, 0);
    rm_report *rep = NULL;
    cr_assert_eq(rm_report_build(r, NULL, &rep, &err), RM_OK, "%s", err.msg);
    cr_assert_eq(rm_report_count_panels(rep, RM_PANEL_MAP), r->n_segments ? r->n_segments : 1);
    for (size_t i = 0; i < rep->n_pages; i++) {
        const rm_report_page *pg = &rep->pages[i];
        uint32_t *pix = NULL;
        int w, h, s;
        cr_assert_eq(rm_report_render(rep, i, 40, &pix, &w, &h, &s, &err), RM_OK, "%s", err.msg);
        for (size_t j = 0; j < pg->n_panels; j++) {
            const rm_report_panel *p = &pg->panels[j];
            if (p->kind == RM_PANEL_MAP || p->kind == RM_PANEL_FORCE) {
                /* the pressure and the force on the mat are there without a roller */
                double ink_s = ink_share(pix, w, h, s, 40, p->px, p->py, p->pw, p->ph);
                cr_assert(ink_s > 0.02, "page %zu %s: %.3f inked", i + 1,
                          rm_report_panel_kind_name(p->kind), ink_s);
            }
        }
        free(pix);
    }
    rm_report_free(rep);
    rm_results_free(r);
    rm_test_rmtree(dir);
    free(rec);
    free(dir);
}

Test(report, a_long_routine_continues_on_more_summary_pages)
{
    fixture f;
    make(&f, "guide");
    rm_results *r = f.r;
    /* 40 sets: the five of the routine, eight times over */
    const size_t n = 40, cells = (size_t)r->rows * r->cols;
    rm_segment_result *segs = calloc(n, sizeof *segs);
    float *maps = calloc(n * cells, sizeof *maps), *peaks = calloc(n * cells, sizeof *peaks);
    cr_assert(segs && maps && peaks);
    for (size_t k = 0; k < n; k++) {
        segs[k] = r->segments[k % 5];
        segs[k].index = (int32_t)k;
        snprintf(segs[k].label, sizeof segs[k].label, "set %zu", k + 1);
        memcpy(maps + k * cells, r->seg_mean_kpa + (k % 5) * cells, cells * sizeof *maps);
        memcpy(peaks + k * cells, r->seg_peak_kpa + (k % 5) * cells, cells * sizeof *peaks);
    }
    free(r->segments);
    free(r->seg_mean_kpa);
    free(r->seg_peak_kpa);
    r->segments = segs;
    r->seg_mean_kpa = maps;
    r->seg_peak_kpa = peaks;
    r->n_segments = n;
    rm_report *rep = NULL;
    rm_err err = {0};
    cr_assert_eq(rm_report_build(r, &f.prof, &rep, &err), RM_OK, "%s", err.msg);
    size_t table_sets = 0, verdict_sets = 0, verdict_pages = 0, next_t = 0, next_v = 0, totals = 0;
    for (size_t i = 0; i < rep->n_pages; i++)
        for (size_t j = 0; j < rep->pages[i].n_panels; j++) {
            const rm_report_panel *p = &rep->pages[i].panels[j];
            cr_assert(p->y + p->h <= rep->page_h, "page %zu: %s panel leaves the page", i + 1,
                      rm_report_panel_kind_name(p->kind));
            if (p->kind == RM_PANEL_TABLE) {
                cr_assert_eq(p->first, next_t, "table rows continue in order");
                next_t += p->count;
                table_sets += p->count;
            } else if (p->kind == RM_PANEL_VERDICTS) {
                cr_assert_eq(p->first, next_v, "verdicts continue in order");
                next_v += p->count;
                verdict_sets += p->count;
                verdict_pages++;
                totals += p->n_marks - p->count * 5;
            }
        }
    cr_assert_eq(table_sets, n, "every set has its table row");
    cr_assert_eq(verdict_sets, n, "every set has its verdicts");
    cr_assert_eq(totals, 1, "the day's total once");
    cr_assert_gt(verdict_pages, 1);
    cr_assert_eq(rm_report_count_panels(rep, RM_PANEL_MAP), n);
    for (size_t i = 1; i < rep->n_pages && i < 8; i++) {
        uint32_t *pix = NULL;
        int w, h, s;
        cr_assert_eq(rm_report_render(rep, i, 30, &pix, &w, &h, &s, &err), RM_OK, "%s", err.msg);
        free(pix);
    }
    rm_report_free(rep);
    unmake(&f);
}

/* The rushed routine rolls too fast, holds nothing and stays far under the
 * daily total: the summary's lights are red for those, and its actions say
 * each in numbers, the measured number and the aim (not "a little more"). */
Test(report, summary_of_a_rushed_session_says_what_to_change)
{
    fixture f;
    make(&f, "rushed");
    const rm_results *r = f.r;
    cr_assert_gt(r->n_segments, 0);
    rm_report *rep = NULL;
    rm_err err = {0};
    cr_assert_eq(rm_report_build(r, &f.prof, &rep, &err), RM_OK, "%s", err.msg);
    cr_assert_eq(rm_report_count_panels(rep, RM_PANEL_SUMMARY), 1);
    cr_assert_eq(rep->pages[0].panels[1].kind, RM_PANEL_SUMMARY, "the summary is page 1");
    const rm_segment_result *s = &r->segments[0];
    const rm_report_light *sp = rm_report_light_at(rep, 0, RM_TARGET_PACE);
    const rm_report_light *ho = rm_report_light_at(rep, 0, RM_TARGET_HOLD);
    cr_assert_not_null(sp);
    cr_expect_eq(sp->light, RM_LIGHT_RED, "speed %.1f cm/s is %s", s->mean_speed_cm_s,
                 rm_light_name(sp->light));
    cr_expect_float_eq(sp->value, round(s->mean_speed_cm_s * 10) / 10, 1e-9);
    cr_expect_eq(ho->light, RM_LIGHT_RED, "no hold where the guide asks for one");
    cr_expect_eq(rep->daily.light, RM_LIGHT_RED);
    cr_expect_lt(rep->targets_met, rep->targets_judged);
    /* the verdicts stored by the analysis count the missing hold and the day */
    cr_expect_eq(s->hold_verdict, RM_VERDICT_BELOW);
    cr_assert_geq(rep->n_actions, 2);
    cr_assert_leq(rep->n_actions, RM_REPORT_MAX_ACTIONS);
    char want[160];
    snprintf(want, sizeof want, "roll %s slower: %.1f cm/s, aim for 2.5 (about ", s->label,
             sp->value);
    int speed = 0, hold = 0, daily = 0;
    double on = r->totals.rolling_s + r->totals.holding_s;
    char add[64];
    snprintf(add, sizeof add, "to reach 5 minutes a day (today %.1f min)", on / 60.0);
    for (size_t i = 0; i < rep->n_actions; i++) {
        fprintf(stderr, "action %zu: %s\n", i + 1, rep->actions[i]);
        speed |= strstr(rep->actions[i], want) != NULL;
        hold |= strstr(rep->actions[i], "hold the tender spot on the ") &&
                strstr(rep->actions[i], " 20-30 s: there was no hold");
        daily |= strncmp(rep->actions[i], "add ", 4) == 0 && strstr(rep->actions[i], add);
    }
    cr_expect(speed, "no action \"%s...\"", want);
    cr_expect(hold, "no action for the missing hold");
    cr_expect(daily, "no action \"add ... %s\"", add);
    rm_report_free(rep);

    /* the phone picture: one page of 360 x 640 pt, 1080 x 1920 px at 216 dpi */
    cr_assert_eq(rm_report_build_summary(r, &f.prof, &rep, &err), RM_OK, "%s", err.msg);
    cr_assert_eq(rep->n_pages, 1);
    uint32_t *pix = NULL;
    int w, h, st;
    cr_assert_eq(rm_report_render(rep, 0, RM_REPORT_PHONE_DPI, &pix, &w, &h, &st, &err), RM_OK,
                 "%s", err.msg);
    cr_expect_eq(w, 1080);
    cr_expect_eq(h, 1920);
    const rm_report_panel *p = &rep->pages[0].panels[1];
    cr_expect_gt(ink_share(pix, w, h, st, RM_REPORT_PHONE_DPI, p->px, p->py, p->pw, p->ph), 0.02);
    free(pix);
    rm_report_free(rep);
    unmake(&f);
}

/* A massage-ball set is a steady press on a spot: the summary judges its
 * time on each spot against the profile's spot_s, never as a roller set
 * with a missing hold, and its action speaks of the ball. */
Test(report, summary_judges_a_ball_set_by_its_spots)
{
    fixture f;
    make(&f, "ball");
    const rm_results *r = f.r;
    rm_report *rep = NULL;
    rm_err err = {0};
    cr_assert_eq(rm_report_build(r, &f.prof, &rep, &err), RM_OK, "%s", err.msg);
    size_t balls = 0;
    for (size_t k = 0; k < r->n_segments; k++) {
        const rm_segment_result *s = &r->segments[k];
        if (strcmp(s->tool, "ball"))
            continue;
        balls++;
        cr_assert_gt(s->spots, 0, "ball set %zu: no spot", k + 1);
        const rm_report_light *ho = rm_report_light_at(rep, k, RM_TARGET_HOLD);
        double v = round(s->mean_spot_s);
        cr_expect_float_eq(ho->value, v, 1e-9, "set %zu: light value %g, spot %g s", k + 1,
                           ho->value, v);
        int inside = v >= f.prof.spot_s.lo && v <= f.prof.spot_s.hi;
        cr_expect_eq(ho->light == RM_LIGHT_GREEN, inside, "set %zu: spot %g s is %s", k + 1, v,
                     rm_light_name(ho->light));
        cr_expect(strstr(ho->text, "spot"), "set %zu: light text \"%s\"", k + 1, ho->text);
    }
    cr_assert_gt(balls, 0, "the ball scenario has a ball set");
    /* the daily total counts the ball's time on its spots, not only the
     * roller's rolling and holding */
    double spots = 0;
    for (size_t i = 0; i < r->n_spots; i++)
        spots += r->spots[i].end_s - r->spots[i].start_s;
    cr_assert_gt(spots, 0);
    cr_expect_float_eq(rep->daily.value, round(r->totals.rolling_s + r->totals.holding_s + spots),
                       1e-9, "daily %g s: rolling %g, holding %g, ball %g", rep->daily.value,
                       r->totals.rolling_s, r->totals.holding_s, spots);
    for (size_t i = 0; i < rep->n_actions; i++)
        if (strstr(rep->actions[i], "ball"))
            cr_expect(strstr(rep->actions[i], "s on a spot") ||
                          strstr(rep->actions[i], "you stayed") ||
                          strstr(rep->actions[i], "never stayed"),
                      "ball action \"%s\"", rep->actions[i]);
    rm_report_free(rep);
    unmake(&f);
}

/* Time axes read as a clock: the formatter and the tick steps it gets. */
Test(report, clock_format_for_time_axes)
{
    char b[32];
    static const struct {
        double s;
        int tenths;
        const char *want;
    } cases[] = {
        {0, 0, "0:00"},         {5, 0, "0:05"},        {59.4, 0, "0:59"},
        {59.6, 0, "1:00"},      {75, 0, "1:15"},       {750, 0, "12:30"},
        {3600, 0, "1:00:00"},   {3725, 0, "1:02:05"},  {2.5, 1, "0:02.5"},
        {59.96, 1, "1:00.0"},   {-30, 0, "-0:30"},     {NAN, 0, "-"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rm_report_clock(b, sizeof b, cases[i].s, cases[i].tenths);
        cr_expect_str_eq(b, cases[i].want, "%g s: \"%s\", want \"%s\"", cases[i].s, b,
                         cases[i].want);
    }
    /* cut to the buffer, never past it */
    char small[4] = "xyz";
    rm_report_clock(small, sizeof small, 750, 0);
    cr_expect_str_eq(small, "12:");
}

/* behm2020 judges the pass duration, not the speed: its report plots each
 * pass against the pass band, never an empty speed-against-target plot. */
Test(report, a_profile_without_speed_band_plots_pass_durations)
{
    fixture f;
    make_with(&f, "behm2020", "behm2020");
    const rm_results *r = f.r;
    cr_assert(!f.prof.speed_cm_s.set && f.prof.pass_s.set, "behm2020 judges passes");
    rm_report *rep = NULL;
    rm_err err = {0};
    cr_assert_eq(rm_report_build(r, &f.prof, &rep, &err), RM_OK, "%s", err.msg);
    cr_assert_eq(rm_report_count_panels(rep, RM_PANEL_SPEED), 0);
    cr_assert_eq(rm_report_count_panels(rep, RM_PANEL_PASS), 1 + r->n_segments);
    cr_assert_gt(r->n_strokes, 0);
    const double dpi = 40;
    for (size_t i = 0; i < rep->n_pages; i++)
        for (size_t j = 0; j < rep->pages[i].n_panels; j++) {
            const rm_report_panel *p = &rep->pages[i].panels[j];
            if (p->kind != RM_PANEL_PASS)
                continue;
            cr_assert_float_eq(p->band_lo, f.prof.pass_s.lo, 1e-9);
            cr_assert_float_eq(p->band_hi, f.prof.pass_s.hi, 1e-9);
            cr_assert(p->y_max > p->band_hi && p->x_clock);
            size_t want = 0;
            for (size_t k = 0; k < r->n_strokes; k++)
                want += r->strokes[k].end_s >= p->x_min && r->strokes[k].end_s <= p->x_max;
            cr_assert_eq(p->n_points, want, "page %zu: %zu passes plotted of %zu", i + 1,
                         p->n_points, want);
            cr_assert_gt(p->n_points, 0);
            uint32_t *pix = NULL;
            int w, h, st;
            cr_assert_eq(rm_report_render(rep, i, dpi, &pix, &w, &h, &st, &err), RM_OK, "%s",
                         err.msg);
            /* the band and the passes are drawn */
            cr_expect_gt(ink_share(pix, w, h, st, dpi, p->px, p->py, p->pw, p->ph), 0.05);
            free(pix);
        }
    rm_report_free(rep);
    unmake(&f);
}

/* A massage-ball session: no roller, so no roller plots (position, speed)
 * anywhere, the overview's one plot shares its page with the table, each
 * set page has its maps and the force on the mat; the daily total counts
 * the ball's time on its spots. */
Test(report, a_ball_only_session_has_no_empty_roller_plots)
{
    char *dir = rm_test_tmpdir("report_ball");
    cr_assert_not_null(dir);
    char *scen = rm_test_path(dir, "ball_only.json");
    FILE *fp = fopen(scen, "w");
    cr_assert_not_null(fp);
    fputs("{\"title\": \"ball only\", \"rate_hz\": 50,\n"
          " \"subject\": {\"id\": \"ball-only\", \"body_mass_kg\": 70},\n"
          " \"ball\": {\"radius_cm\": 4, \"modulus_kpa\": 300, \"force_share\": 0.3},\n"
          " \"segments\": [\n"
          "  {\"label\": \"calves\", \"tool\": \"ball\", \"phases\": [\n"
          "   {\"press\": {\"x_cm\": 42, \"y_cm\": 15, \"duration_s\": 60, \"circle_cm\": 1.0,"
          " \"period_s\": 5}}]},\n"
          "  {\"label\": \"glutes\", \"tool\": \"ball\", \"phases\": [\n"
          "   {\"press\": {\"x_cm\": 40, \"y_cm\": 30, \"duration_s\": 70, \"circle_cm\": 0.8,"
          " \"period_s\": 4}}]}]}\n",
          fp);
    cr_assert_eq(fclose(fp), 0);
    fixture f;
    make_with(&f, scen, "guide");
    const rm_results *r = f.r;
    cr_assert_eq(r->n_segments, 2);
    cr_assert_eq(r->totals.roller_found, 0, "no roller in a ball-only session");
    rm_report *rep = NULL;
    rm_err err = {0};
    cr_assert_eq(rm_report_build(r, &f.prof, &rep, &err), RM_OK, "%s", err.msg);
    cr_assert_eq(rm_report_count_panels(rep, RM_PANEL_POSITION), 0);
    cr_assert_eq(rm_report_count_panels(rep, RM_PANEL_SPEED), 0);
    cr_assert_eq(rm_report_count_panels(rep, RM_PANEL_PASS), 0);
    cr_assert_eq(rm_report_count_panels(rep, RM_PANEL_FORCE), 1 + r->n_segments);
    cr_assert_eq(rm_report_count_panels(rep, RM_PANEL_MAP), r->n_segments);
    cr_assert_eq(rm_report_count_panels(rep, RM_PANEL_PEAK_MAP), r->n_segments);
    cr_assert_eq(rep->n_pages, 3, "summary, overview with table, both ball sets on one page");
    cr_assert_eq(rep->pages[2].n_panels, 6, "two ball sets: maps and force each");
    cr_assert_eq(rep->pages[1].n_panels, 3, "force, table and verdicts on one page");
    /* the day's total: the ball's time on its spots, judged */
    double spots = 0;
    for (size_t i = 0; i < r->n_spots; i++)
        spots += r->spots[i].end_s - r->spots[i].start_s;
    cr_assert_gt(spots, 40, "the presses (halved) are spots");
    cr_expect_neq(rep->daily.light, RM_LIGHT_NONE, "the daily total is judged");
    cr_expect_float_eq(rep->daily.value,
                       round(r->totals.rolling_s + r->totals.holding_s + spots), 1e-9,
                       "daily %g s, spots %g s", rep->daily.value, spots);
    /* every page drawn, every panel inked */
    const double dpi = 40;
    for (size_t i = 0; i < rep->n_pages; i++) {
        uint32_t *pix = NULL;
        int w, h, st;
        cr_assert_eq(rm_report_render(rep, i, dpi, &pix, &w, &h, &st, &err), RM_OK, "%s",
                     err.msg);
        for (size_t j = 0; j < rep->pages[i].n_panels; j++) {
            const rm_report_panel *p = &rep->pages[i].panels[j];
            cr_expect_gt(ink_share(pix, w, h, st, dpi, p->px, p->py, p->pw, p->ph), 0.02,
                         "page %zu %s panel blank", i + 1, rm_report_panel_kind_name(p->kind));
        }
        free(pix);
    }
    rm_report_free(rep);
    unmake(&f);
    rm_test_rmtree(dir);
    free(scen);
    free(dir);
}

/* Lost frames are marked where they were lost: each time plot counts the
 * gaps in its window (the analysis' count over the session). */
Test(report, gaps_are_marked_on_time_plots)
{
    fixture f;
    make(&f, "faulty");
    const rm_results *r = f.r;
    cr_assert_gt(r->totals.gaps, 0, "the faulty scenario loses frames");
    rm_report *rep = NULL;
    rm_err err = {0};
    cr_assert_eq(rm_report_build(r, &f.prof, &rep, &err), RM_OK, "%s", err.msg);
    size_t timed = 0;
    for (size_t j = 0; j < rep->pages[1].n_panels; j++) {
        const rm_report_panel *p = &rep->pages[1].panels[j];
        if (!p->x_clock)
            continue;
        timed++;
        cr_expect_eq(p->n_gaps, (size_t)r->totals.gaps, "overview %s: %zu gaps of %d",
                     rm_report_panel_kind_name(p->kind), p->n_gaps, (int)r->totals.gaps);
    }
    cr_assert_eq(timed, 3);
    /* the marks are drawn: red in the strip along the overview's time axis */
    const double dpi = 72;
    uint32_t *pix = NULL;
    int w, h, st;
    cr_assert_eq(rm_report_render(rep, 1, dpi, &pix, &w, &h, &st, &err), RM_OK, "%s", err.msg);
    const rm_report_panel *p = &rep->pages[1].panels[0];
    size_t red = 0;
    for (int x = (int)p->px + 2; x < (int)(p->px + p->pw) - 2; x++) {
        uint32_t px = pix[(size_t)(p->py + p->ph - 3) * (size_t)(st / 4) + (size_t)x];
        unsigned rr = px >> 16 & 0xff, g = px >> 8 & 0xff, b = px & 0xff;
        red += rr > 150 && g < 100 && b < 100;
    }
    cr_expect_gt(red, 10, "%zu red pixels along the time axis", red);
    free(pix);
    rm_report_free(rep);
    unmake(&f);
}
