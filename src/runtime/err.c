#include "runtime/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int lc_fail(llamac_error *err, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int lc_fail_prefix(llamac_error *err, const char *fmt, ...) {
    if (err) {
        char prefix[LLAMAC_ERROR_MAX];
        char old[LLAMAC_ERROR_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(prefix, sizeof prefix, fmt, ap);
        va_end(ap);
        memcpy(old, err->msg, sizeof old);
        snprintf(err->msg, sizeof err->msg, "%s: %s", prefix, old);
    }
    return -1;
}
