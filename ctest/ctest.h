/* A tiny test harness for the C core: CHECK records a failure and goes on;
 * CTEST_MAIN runs the listed tests and appends "passed failed" to $CTEST_COUNTS. */
#ifndef CTEST_H
#define CTEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int ctest_failed_checks;
static int ctest_passed, ctest_failed;

#define CHECK(cond) do { if (!(cond)) { ctest_failed_checks++; \
    fprintf(stderr, "  %s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } } while (0)
#define CHECK_MEM(a, alen, b, blen) \
    CHECK((alen) == (blen) && ((alen) == 0 || memcmp((a), (b), (alen)) == 0))

typedef void (*ctest_fn)(void);
typedef struct { const char *name; ctest_fn fn; } ctest_case;

static int ctest_run(const char *suite, const ctest_case *cases)
{
    const char *counts = getenv("CTEST_COUNTS");
    for (; cases->name != NULL; cases++) {
        int before = ctest_failed_checks;
        cases->fn();
        if (ctest_failed_checks == before) {
            ctest_passed++;
        } else {
            ctest_failed++;
            fprintf(stderr, "FAIL %s: %s\n", suite, cases->name);
        }
    }
    printf("%s: %d passed, %d failed (C)\n", suite, ctest_passed, ctest_failed);
    if (counts != NULL) {
        FILE *f = fopen(counts, "a");
        if (f != NULL) { fprintf(f, "%d %d\n", ctest_passed, ctest_failed); fclose(f); }
    }
    return ctest_failed == 0 ? 0 : 1;
}

#endif
