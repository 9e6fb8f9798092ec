/* clock.c - lower-envelope linear fit of the device clock (rm_clock.h). */
#include "rm_clock.h"

#include <string.h>
#include <time.h>

void rm_clock_init(rm_clock *c, double block_s, int max_blocks)
{
    memset(c, 0, sizeof *c);
    c->block_s = block_s > 0 ? block_s : 1.0;
    c->max_blocks = max_blocks > 1 && max_blocks <= RM_CLOCK_MAX_BLOCKS ? max_blocks : 60;
    c->last = -1e300;
}

static void refit(rm_clock *c)
{
    int n = c->nblocks;
    if (n < 2) {
        /* Offset only, with the drift kept from before a device reset. */
        double y = n == 1 ? c->by[0] : c->blk_min, x = n == 1 ? c->bx[0] : c->blk_x;
        if (n == 1 && c->blk_open && c->blk_min < y) {
            y = c->blk_min;
            x = c->blk_x;
        }
        c->a = y - c->b * x;
        return;
    }
    double sx = 0, sy = 0;
    for (int i = 0; i < n; i++) {
        sx += c->bx[i];
        sy += c->by[i];
    }
    double mx = sx / n, my = sy / n, sxx = 0, sxy = 0;
    for (int i = 0; i < n; i++) {
        sxx += (c->bx[i] - mx) * (c->bx[i] - mx);
        sxy += (c->bx[i] - mx) * (c->by[i] - my);
    }
    c->b = sxx > 0 ? sxy / sxx : 0;
    /* Clocks this far apart are not drift but a broken fit: stay offset-only. */
    if (c->b > 1e-3 || c->b < -1e-3)
        c->b = 0;
    c->a = my - c->b * mx;
    /* Keep the line under the current block's envelope too: a latency floor
     * that dropped lowers the offset at once. */
    if (c->blk_open) {
        double here = c->a + c->b * c->blk_x;
        if (c->blk_min < here)
            c->a -= here - c->blk_min;
    }
}

static double raw_map(const rm_clock *c, uint64_t t_us)
{
    double x = (double)(int64_t)(t_us - c->dev0_us) * 1e-6;
    return c->host0 + x + c->a + c->b * x;
}

double rm_clock_observe(rm_clock *c, uint64_t t_us)
{
    if (!c->anchored) {
        c->anchored = 1;
        c->dev0_us = t_us;
        c->host0 = c->arrival;
        c->nblocks = c->next = 0;
        c->blk_open = 0;
    }
    double x = (double)(int64_t)(t_us - c->dev0_us) * 1e-6;
    double r = (c->arrival - c->host0) - x;
    if (c->blk_open && x - c->blk_start >= c->block_s) {
        c->bx[c->next] = c->blk_x;
        c->by[c->next] = c->blk_min;
        c->next = (c->next + 1) % c->max_blocks;
        if (c->nblocks < c->max_blocks)
            c->nblocks++;
        c->blk_open = 0;
    }
    if (!c->blk_open) {
        c->blk_open = 1;
        c->blk_start = x;
        c->blk_min = r;
        c->blk_x = x;
        refit(c);
    } else if (r < c->blk_min) {
        c->blk_min = r;
        c->blk_x = x;
        refit(c);
    }
    double t = raw_map(c, t_us);
    if (t < c->last)
        t = c->last;
    c->last = t;
    return t;
}

double rm_clock_map(const rm_clock *c, uint64_t t_us)
{
    if (!c->anchored)
        return c->arrival;
    return raw_map(c, t_us);
}

void rm_clock_device_reset(rm_clock *c)
{
    double b = c->b, last = c->last;
    double block_s = c->block_s;
    int max_blocks = c->max_blocks;
    rm_clock_init(c, block_s, max_blocks);
    c->b = b;
    c->last = last;
}

double rm_clock_decoder_fn(void *user, uint64_t t_device_us)
{
    return rm_clock_observe(user, t_device_us);
}

double rm_clock_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}
