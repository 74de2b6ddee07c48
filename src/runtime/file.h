/* Reading small whole files (configs, tokenizer files, protobufs). */
#ifndef LC_FILE_H
#define LC_FILE_H

#include <stdbool.h>
#include <stddef.h>

#include "llamac.h"

/* Reads all of `path` (at most `max` bytes) into a NUL-terminated malloc'd
 * buffer and sets *size. On failure returns NULL with a message naming the
 * path; when the file does not exist and `missing` is non-NULL, *missing is
 * set and no message is written, so callers can treat it as optional. */
char *lc_read_file(const char *path, size_t max, size_t *size, bool *missing, llamac_error *err);

#endif
