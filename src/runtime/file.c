#include "runtime/file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/err.h"

char *lc_read_file(const char *path, size_t max, size_t *size, bool *missing, llamac_error *err) {
    if (missing) *missing = false;
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        if (missing && errno == ENOENT) {
            *missing = true;
            return NULL;
        }
        lc_fail(err, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    long n = -1;
    if (fseek(fp, 0, SEEK_END) == 0) n = ftell(fp);
    if (n < 0 || (unsigned long)n > max || fseek(fp, 0, SEEK_SET) != 0) {
        fclose(fp);
        lc_fail(err, "%s: cannot read: not a regular file or larger than %zu bytes", path, max);
        return NULL;
    }
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, fp) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(fp);
    if (!buf) {
        lc_fail(err, "%s: cannot read %ld bytes", path, n);
        return NULL;
    }
    buf[n] = 0;
    if (size) *size = (size_t)n;
    return buf;
}
