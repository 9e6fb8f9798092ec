/* import_registry.c - the importer table: the one place that lists the
 * formats. Detection tries the rows in table order (the first match wins),
 * `--format NAME` looks a row up by name, and the help and error messages
 * list the names from here. Adding an importer is one file
 * (formats/src/import_NAME.c with a detector and a parser) plus one row. */
#include <string.h>

#include "import_impl.h"

/* Order matters: a Tekscan header may carry "ROWS"/"COLS" keys that the
 * rollmat CSV detector would also accept, so Tekscan goes first; pmat is the
 * weakest test (a line of 2048 numbers) and goes last. */
static const imp_importer importers[] = {
    {"tekscan", RM_IMPORT_TEKSCAN, "Tekscan ASCII movie (.asf: F-Scan, I-Scan, MatScan)",
     imp_detect_tekscan, imp_parse_tekscan},
    {"tekscan-csv", RM_IMPORT_TEKSCAN_CSV, "Tekscan CSV movie export", imp_detect_tekscan_csv,
     imp_parse_tekscan},
    {"csv", RM_IMPORT_CSV, "rollmat plain CSV frames for lab-built mats (docs/import.md)",
     imp_detect_csv, imp_parse_csv},
    {"xsensor", RM_IMPORT_XSENSOR, "XSENSOR per-frame CSV (statistics kept as reference series)",
     imp_detect_xsensor, imp_parse_xsensor},
    {"emed", RM_IMPORT_EMED, "novel emed .lst ASCII export", imp_detect_emed, imp_parse_emed},
    {"pmat", RM_IMPORT_PMAT, "PhysioNet pmat text (64 x 32 raw values per line)", imp_detect_pmat,
     imp_parse_pmat},
};

#define N_IMPORTERS (sizeof importers / sizeof importers[0])

const imp_importer *imp_importer_find(rm_import_format fmt)
{
    for (size_t i = 0; i < N_IMPORTERS; i++)
        if (importers[i].format == fmt)
            return &importers[i];
    return NULL;
}

size_t rm_import_format_count(void) { return N_IMPORTERS; }

rm_import_format rm_import_format_at(size_t i)
{
    return i < N_IMPORTERS ? importers[i].format : RM_IMPORT_UNKNOWN;
}

const char *rm_import_format_name(rm_import_format fmt)
{
    const imp_importer *im = imp_importer_find(fmt);
    return im ? im->name : "unknown";
}

const char *rm_import_format_description(rm_import_format fmt)
{
    const imp_importer *im = imp_importer_find(fmt);
    return im ? im->description : "";
}

rm_status rm_import_format_parse(const char *name, rm_import_format *out)
{
    for (size_t i = 0; name && i < N_IMPORTERS; i++) {
        if (!strcmp(name, importers[i].name)) {
            *out = importers[i].format;
            return RM_OK;
        }
    }
    return RM_ERR_ARG;
}

size_t rm_import_format_list(char *buf, size_t cap)
{
    size_t n = 0;
    if (buf && cap)
        buf[0] = 0;
    for (size_t i = 0; i < N_IMPORTERS; i++) {
        const char *sep = i ? ", " : "", *name = importers[i].name;
        /* appended piece by piece: what fits is copied, the length counts all */
        for (const char *piece = sep; piece; piece = piece == sep ? name : NULL) {
            size_t len = strlen(piece);
            if (buf && n + 1 < cap) {
                size_t room = cap - 1 - n, k = len < room ? len : room;
                memcpy(buf + n, piece, k);
                buf[n + k] = 0;
            }
            n += len;
        }
    }
    return n;
}

rm_import_format imp_detect_table(const char *buf, size_t len, const char *name)
{
    for (size_t i = 0; i < N_IMPORTERS; i++)
        if (importers[i].detect(buf, len, name))
            return importers[i].format;
    return RM_IMPORT_UNKNOWN;
}
