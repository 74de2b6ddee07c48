/* Shared by the fuzz targets whose parsers only open files: the input is
 * handed over as a memfd (path /proc/self/fd/N). */
#ifndef LC_FUZZ_UTIL_H
#define LC_FUZZ_UTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* A file holding exactly the input. A failure here is the harness's, not
 * the input's: abort so that it is not mistaken for a rejected input. */
static inline int fuzz_input_file(const char *name, const uint8_t *data, size_t size) {
    int fd = memfd_create(name, MFD_CLOEXEC);
    if (fd < 0) abort();
    size_t done = 0;
    while (done < size) {
        ssize_t n = write(fd, data + done, size - done);
        if (n <= 0) abort();
        done += (size_t)n;
    }
    return fd;
}

#endif
