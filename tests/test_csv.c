/* test_csv.c - the one CSV writer (rm_csv.h): quoting, missing values,
 * numbers, and a failing stream. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_csv.h"

Test(csv, quoting_missing_values_and_numbers)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    cr_assert_not_null(m);
    rm_csv c;
    rm_csv_open(&c, m);
    static const char *const head[] = {"a", "b c", "d,e"};
    cr_assert_eq(rm_csv_header(&c, head, 3), 0);
    rm_csv_text(&c, "plain");
    rm_csv_text(&c, "calf, left");
    rm_csv_text(&c, "say \"hi\"");
    rm_csv_text(&c, "two\nlines");
    rm_csv_text(&c, " lead");
    rm_csv_text(&c, "trail\t");
    rm_csv_text(&c, "");
    rm_csv_text(&c, NULL);
    cr_assert_eq(rm_csv_end_row(&c), 0);
    rm_csv_number(&c, 1.0 / 3.0, 6);
    rm_csv_number(&c, NAN, 6);
    rm_csv_number(&c, INFINITY, 7);
    rm_csv_fixed(&c, 2.5, 3);
    rm_csv_fixed(&c, NAN, 3);
    rm_csv_int(&c, -42);
    rm_csv_na(&c);
    cr_assert_eq(rm_csv_end_row(&c), 0);
    cr_assert_eq(rm_csv_failed(&c), 0);
    cr_assert_eq(fclose(m), 0);
    cr_expect_str_eq(
        buf, "a,b c,\"d,e\"\n"
             "plain,\"calf, left\",\"say \"\"hi\"\"\",\"two\nlines\",\" lead\",\"trail\t\",,NA\n"
             "0.333333,NA,NA,2.500,NA,-42,NA\n");
    free(buf);
}

Test(csv, a_failed_write_is_sticky)
{
    FILE *f = fopen("/dev/full", "w");
    if (!f)
        cr_skip_test("no /dev/full");
    setvbuf(f, NULL, _IONBF, 0); /* every write reaches the device and fails */
    rm_csv c;
    rm_csv_open(&c, f);
    cr_expect_eq(rm_csv_text(&c, "x"), -1);
    cr_expect_eq(rm_csv_number(&c, 1, 6), -1);
    cr_expect_eq(rm_csv_end_row(&c), -1);
    cr_expect_neq(rm_csv_failed(&c), 0);
    fclose(f);
}
