#include "runtime/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Messages are one line whatever a hostile file put in the names they
 * quote: control bytes become '?'. */
static void make_one_line(char *msg) {
    for (unsigned char *p = (unsigned char *)msg; *p; p++)
        if (*p < 0x20 || *p == 0x7f) *p = '?';
}

int lc_fail(llamac_error *err, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        make_one_line(err->msg);
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
        /* compose by hand: the message is cut at the buffer size by design */
        size_t n = strnlen(prefix, sizeof prefix - 3);
        memcpy(err->msg, prefix, n);
        memcpy(err->msg + n, ": ", 2);
        size_t room = sizeof err->msg - n - 3;
        size_t m = strnlen(old, room);
        memcpy(err->msg + n + 2, old, m);
        err->msg[n + 2 + m] = 0;
        make_one_line(err->msg);
    }
    return -1;
}
