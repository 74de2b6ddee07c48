/* Error reporting shared by every module: format a one-line message into the
 * caller's llamac_error and return -1, so a failing path reads
 *     return lc_fail(err, "%s: tensor '%s': ...", path, name);
 */
#ifndef LC_ERR_H
#define LC_ERR_H

#include "llamac.h"

#if defined(__GNUC__)
#define LC_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define LC_PRINTF(a, b)
#endif

/* Writes the message (if err is non-NULL) and returns -1. */
int lc_fail(llamac_error *err, const char *fmt, ...) LC_PRINTF(2, 3);
/* Prepends "prefix: " to an existing message. Returns -1. */
int lc_fail_prefix(llamac_error *err, const char *fmt, ...) LC_PRINTF(2, 3);

#endif
