/* rm_csv.h - the one CSV writer of rollmat's tables (`rollmat export`,
 * `rollmat batch`): RFC 4180 text for R, pandas and spreadsheets.
 *
 * Rules, the same for every table:
 * - fields are separated by ',' and rows end with "\n";
 * - a text field is quoted ("...", with '"' doubled) when it contains a
 *   comma, a quote, CR or LF, or begins or ends with a blank (space or
 *   tab: readers that trim would change it); otherwise written as is;
 * - a missing value (a non-finite number, or a NULL text) is written NA,
 *   unquoted: R's read.csv and pandas' read_csv read it as missing;
 * - numbers are written in the C locale by printf (%.*g, %.*f, %lld).
 *
 * Usage: rm_csv_open on a FILE* the caller owns (and closes), fields, then
 * rm_csv_end_row for each row. Every call returns 0, or -1 once a write to
 * the FILE* has failed (then errno is stdio's; the error is sticky, see
 * rm_csv_failed). */
#ifndef RM_CSV_H
#define RM_CSV_H

#include <stddef.h>
#include <stdio.h>

#define RM_CSV_NA "NA"

typedef struct rm_csv {
    FILE *f;      /* borrowed: the caller keeps and closes it */
    size_t field; /* fields written in the current row */
    int failed;   /* a write failed */
} rm_csv;

/* Starts writing CSV on f (at the start of a row). */
void rm_csv_open(rm_csv *c, FILE *f);
/* A text field, quoted as above; NULL is missing (NA); "" is an empty field. */
int rm_csv_text(rm_csv *c, const char *s);
/* A number with `digits` significant digits (%.*g); NA if not finite. */
int rm_csv_number(rm_csv *c, double v, int digits);
/* A number with `decimals` digits after the point (%.*f); NA if not finite. */
int rm_csv_fixed(rm_csv *c, double v, int decimals);
/* An integer. */
int rm_csv_int(rm_csv *c, long long v);
/* A missing value: NA. */
int rm_csv_na(rm_csv *c);
/* Ends the row. */
int rm_csv_end_row(rm_csv *c);
/* A header row: the n names as text fields, then the end of the row. */
int rm_csv_header(rm_csv *c, const char *const *names, size_t n);
/* Whether any write so far failed (also a stdio error flagged on f). */
int rm_csv_failed(const rm_csv *c);

#endif
