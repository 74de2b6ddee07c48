/* Lookups by name in a GGUF file with many records (issue 18, finding 6):
 * the loader asks for 16 tensor names per layer, 7 of them absent bias
 * names, and a few dozen keys, so a linear scan per lookup let a file with
 * 1024 tiny layers and 80k junk tensors take a minute to load. The reader
 * now sorts names once at open; this test opens a file of 40k keys and 40k
 * tensors and looks every one of them up, and as many absent names, with a
 * CPU-time bound far above the sorted lookups (even under ASan on a loaded
 * machine) and far below the 6.4e9 comparisons of the scans. */
#include <time.h>

#include "format/gguf.h"
#include "gguf_test_util.h"
#include "test_util.h"

enum { N = 40000, ALIGN = 32, F32 = 0 };

static void build(bytes *b) {
    put(b, "GGUF", 4);
    put_le(b, 3, 4);
    put_le(b, N, 8); /* tensors */
    put_le(b, N, 8); /* keys */
    char name[32];
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "junk.key.%d", i);
        put_str(b, name);
        put_le(b, 4, 4); /* u32 */
        put_le(b, (uint64_t)i, 4);
    }
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "blk.%d.attn_q.weight", i);
        put_str(b, name);
        put_le(b, 1, 4);         /* n_dims */
        put_le(b, 8, 8);         /* ne[0]: 8 floats = 32 bytes */
        put_le(b, F32, 4);
        put_le(b, (uint64_t)i * ALIGN, 8);
    }
    while (b->len % ALIGN) put_le(b, 0, 1);
    for (int i = 0; i < N; i++)
        for (int k = 0; k < 8; k++) {
            float v = (float)i;
            put(b, &v, 4);
        }
}

int main(void) {
    bytes b = {0};
    build(&b);
    lc_gguf_file *f = NULL;
    llamac_error err = {{0}};
    clock_t t0 = clock();
    int rc = lc_gguf_open_buffer(b.p, b.len, "many.gguf", &f, &err);
    CHECKF(rc == 0, "%s", err.msg);
    if (rc != 0) return TEST_SUMMARY("test_gguf_index");

    bool keys_ok = true, tensors_ok = true, absent_ok = true;
    char name[40];
    /* Visit in a scrambled order (7919 is prime, so i -> i*7919 mod N covers all). */
    for (int k = 0; k < N; k++) {
        int i = (int)(((int64_t)k * 7919) % N);
        snprintf(name, sizeof name, "junk.key.%d", i);
        uint32_t v = 0;
        keys_ok &= lc_gguf_get_u32(f, name, &v, NULL) == 1 && v == (uint32_t)i;
        snprintf(name, sizeof name, "blk.%d.attn_q.weight", i);
        const lc_gguf_tensor *t = lc_gguf_find_tensor(f, name);
        tensors_ok &= t != NULL && strcmp(t->name, name) == 0 && ((const float *)t->data)[7] == (float)i;
        snprintf(name, sizeof name, "blk.%d.attn_q.bias", i);
        absent_ok &= lc_gguf_find_tensor(f, name) == NULL;
        snprintf(name, sizeof name, "junk.key.%d.", i);
        absent_ok &= lc_gguf_find(f, name) == NULL;
    }
    double cpu_s = (double)(clock() - t0) / CLOCKS_PER_SEC;
    CHECK(keys_ok);
    CHECK(tensors_ok);
    CHECK(absent_ok);
    /* Prefixes and extensions of real names sort beside them: not found. */
    CHECK(lc_gguf_find(f, "junk.key.") == NULL && lc_gguf_find(f, "") == NULL && lc_gguf_find(f, "junk.key.400000") == NULL);
    CHECK(lc_gguf_find_tensor(f, "blk.1.attn_q.weigh") == NULL && lc_gguf_find_tensor(f, "zzz") == NULL);
    CHECK(lc_gguf_find(f, "junk.key.0") == &f->kv[0]);
    CHECK(lc_gguf_find_tensor(f, "blk.39999.attn_q.weight") == &f->tensors[N - 1]);
    CHECKF(cpu_s < 3.0, "open and %d lookups took %.2f s of CPU", 4 * N, cpu_s);
    fprintf(stderr, "%d keys, %d tensors: open and %d lookups in %.3f s of CPU\n", N, N, 4 * N, cpu_s);
    lc_gguf_close(f);
    free(b.p);
    return TEST_SUMMARY("test_gguf_index");
}
