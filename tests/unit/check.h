/* check.h - the minimal assertion harness our unit tests use. Each test
 * binary runs its cases, prints one line per failure with file:line, and a
 * closing "N passed, N failed" line; exit status 1 on any failure. */
#ifndef CUSTODY_CHECK_H
#define CUSTODY_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_passed, check_failed;

#define CHECK(cond) do { \
    if (cond) check_passed++; \
    else { check_failed++; fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } \
} while (0)

#define CHECK_STR(got, want) do { \
    const char *g_ = (got), *w_ = (want); \
    if (g_ && w_ && strcmp(g_, w_) == 0) check_passed++; \
    else { check_failed++; fprintf(stderr, "%s:%d: CHECK_STR failed: %s\n  got:  %s\n  want: %s\n", \
                                   __FILE__, __LINE__, #got, g_ ? g_ : "(null)", w_ ? w_ : "(null)"); } \
} while (0)

#define CHECK_INT(got, want) do { \
    long long g_ = (long long)(got), w_ = (long long)(want); \
    if (g_ == w_) check_passed++; \
    else { check_failed++; fprintf(stderr, "%s:%d: CHECK_INT failed: %s: got %lld want %lld\n", \
                                   __FILE__, __LINE__, #got, g_, w_); } \
} while (0)

static inline int check_report(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, check_passed, check_failed);
    return check_failed ? 1 : 0;
}

#endif
