/* A small C file for the testgen replay tests. */
#include <stddef.h>

#define CALC_LIMIT 1000

typedef struct range {
    int lo, hi;
} range;

int clamp(int v, int lo, int hi) {
    if (v < lo) return lo;
    if (v > hi) return hi;
    return v;
}

int is_even(int n) {
    return n % 2 == 0;
}
