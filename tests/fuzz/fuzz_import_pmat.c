/* fuzz_import_pmat.c - libFuzzer target: the pmat importer on arbitrary bytes
 * (RM_IMPORT_PMAT).
 * Invariants: fuzz_import_check.h. */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_import_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_import_check(data, size, RM_IMPORT_PMAT);
    return 0;
}
