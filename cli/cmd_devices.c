/* cmd_devices.c - `rollmat devices`: the RM-1 mats attached over USB. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_cli.h"
#include "rm_usb.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: rollmat devices [--json] [--vid-pid VVVV:PPPP]\n"
                 "Lists the RM-1 mats on USB: serial, model, firmware, geometry, rate.\n"
                 "  --json               one JSON array on stdout\n"
                 "  --vid-pid VVVV:PPPP  USB ids to look for (default 1209:0001)\n");
}

static json_t *found_json(const rm_usb_found *f)
{
    char id[16];
    snprintf(id, sizeof id, "%04x:%04x", f->vid, f->pid);
    json_t *o =
        json_pack("{s:s, s:i, s:i, s:s, s:s, s:s}", "id", id, "bus", f->bus, "address", f->address,
                  "serial", f->serial, "manufacturer", f->manufacturer, "product", f->product);
    if (f->have_info) {
        const rm_info *in = &f->info;
        json_object_set_new(o, "model", json_string(in->model));
        json_object_set_new(o, "firmware", json_string(in->firmware));
        json_object_set_new(o, "protocol_version", json_integer(in->protocol_version));
        json_object_set_new(o, "rows", json_integer(in->rows));
        json_object_set_new(o, "cols", json_integer(in->cols));
        json_object_set_new(o, "row_pitch_mm", json_real(in->row_pitch_um / 1000.0));
        json_object_set_new(o, "col_pitch_mm", json_real(in->col_pitch_um / 1000.0));
        json_object_set_new(o, "adc_bits", json_integer(in->adc_bits));
        json_object_set_new(o, "rate_hz", json_integer(in->rate_hz));
        json_object_set_new(o, "min_rate_hz", json_integer(in->min_rate_hz));
        json_object_set_new(o, "max_rate_hz", json_integer(in->max_rate_hz));
        json_object_set_new(o, "calibration", json_boolean(in->flags & RM_INFO_FLAG_CALIB));
    }
    if (f->error[0])
        json_object_set_new(o, "error", json_string(f->error));
    return o;
}

int rm_cmd_devices(int argc, char **argv)
{
    const char *cmd = "devices";
    enum { O_JSON = 256, O_VIDPID };
    static const struct option opts[] = {
        {"json", no_argument, NULL, O_JSON},
        {"vid-pid", required_argument, NULL, O_VIDPID},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int as_json = 0;
    unsigned vid = 0, pid = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_JSON: as_json = 1; break;
        case O_VIDPID: {
            char tail;
            if (sscanf(optarg, "%4x:%4x%c", &vid, &pid, &tail) != 2 || !vid || !pid)
                return rm_cli_usage_error(cmd, "--vid-pid '%s' is not VVVV:PPPP in hex", optarg);
            break;
        }
        case 'h': usage(stdout); return RM_EXIT_OK;
        default:
            return rm_cli_usage_error(cmd, "unknown option or missing value: '%s'",
                                      argv[optind - 1]);
        }
    }
    if (optind < argc)
        return rm_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    rm_usb_found *found = NULL;
    size_t n = 0;
    rm_err e = {0};
    rm_status st = rm_usb_list((uint16_t)vid, (uint16_t)pid, &found, &n, &e);
    if (st != RM_OK)
        return rm_cli_fail(cmd, &e, st);
    if (as_json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, found_json(&found[i]));
        char *s = json_dumps(arr, JSON_INDENT(2));
        json_decref(arr);
        if (s)
            puts(s);
        free(s);
        free(found);
        return s ? RM_EXIT_OK : RM_EXIT_FAIL;
    }
    if (n == 0)
        printf("no RM-1 mat (%04x:%04x) found on USB\n", vid ? vid : RM_USB_VID,
               pid ? pid : RM_USB_PID);
    for (size_t i = 0; i < n; i++) {
        const rm_usb_found *f = &found[i];
        printf("%04x:%04x bus %03u device %03u serial %s", f->vid, f->pid, f->bus, f->address,
               f->serial[0] ? f->serial : "?");
        if (f->have_info)
            printf(": %s firmware %s, %ux%u sensels at %.1fx%.1f mm, %u-bit, %u Hz (%u..%u)%s",
                   f->info.model, f->info.firmware, f->info.rows, f->info.cols,
                   f->info.row_pitch_um / 1000.0, f->info.col_pitch_um / 1000.0, f->info.adc_bits,
                   f->info.rate_hz, f->info.min_rate_hz, f->info.max_rate_hz,
                   (f->info.flags & RM_INFO_FLAG_CALIB) ? ", calibrated" : "");
        if (f->error[0])
            printf(" (%s)", f->error);
        printf("\n");
    }
    free(found);
    return RM_EXIT_OK;
}
