/* Hostile safetensors inputs (issue 18, findings 7 and 11): bytes in the
 * JSON header that cJSON would quietly accept (a NUL byte, "\u0000" or a
 * raw control byte in a tensor name), a huge header refused before any
 * JSON node is built for it (peak memory stays far below what cJSON would
 * take), and a sharded checkpoint of 80k tensors whose weight_map check
 * and lookups are no longer quadratic. */
#include <dirent.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "convert/safetensors.h"
#include "test_util.h"

static char dir[64];

static void path_in(char *buf, size_t size, const char *name) { snprintf(buf, size, "%s/%s", dir, name); }

/* Writes a one-file checkpoint: the 8-byte length, the header text (n
 * bytes, may hold NULs) and `data` zero bytes. */
static void write_st(const char *name, const char *hdr, size_t n, size_t data) {
    char path[128];
    path_in(path, sizeof path, name);
    FILE *f = fopen(path, "wb");
    uint64_t hl = n;
    CHECK(f && fwrite(&hl, 8, 1, f) == 1 && fwrite(hdr, 1, n, f) == n);
    for (size_t i = 0; f && i < data; i++) fputc(0, f);
    if (f) fclose(f);
}

/* Opens dir/name and expects a refusal whose one-line message holds `want`. */
static void expect_refused(const char *name, const char *want) {
    char path[128];
    path_in(path, sizeof path, name);
    lc_safetensors *st = NULL;
    llamac_error err = {{0}};
    int rc = lc_safetensors_open_file(path, &st, &err);
    CHECKF(rc < 0 && st == NULL, "%s was accepted", name);
    CHECKF(strstr(err.msg, want) != NULL && strchr(err.msg, '\n') == NULL, "%s: '%s' lacks '%s'", name,
           err.msg, want);
    lc_safetensors_close(st);
}

static void test_nul_and_control_bytes(void) {
    static const char ok[] = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    write_st("ok.safetensors", ok, sizeof ok - 1, 4);
    char path[128];
    path_in(path, sizeof path, "ok.safetensors");
    lc_safetensors *st = NULL;
    llamac_error err = {{0}};
    CHECKF(lc_safetensors_open_file(path, &st, &err) == 0, "%s", err.msg);
    CHECK(st && st->n_tensors == 1 && lc_safetensors_find(st, "a") != NULL);
    lc_safetensors_close(st);

    /* A NUL byte where JSON allows whitespace (cJSON skipped it). */
    static const char nul_ws[] = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\0\"data_offsets\":[0,4]}}";
    write_st("nul.safetensors", nul_ws, sizeof nul_ws - 1, 4);
    expect_refused("nul.safetensors", "NUL byte in the JSON header at offset 40");
    /* A NUL byte inside a name. */
    static const char nul_name[] = "{\"a\0b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    write_st("nulname.safetensors", nul_name, sizeof nul_name - 1, 4);
    expect_refused("nulname.safetensors", "NUL byte 0x00 inside a JSON string of the header at offset 11");
    /* "\u0000" cut the name to "a" (and two such names could meet). */
    static const char esc[] = "{\"a\\u0000b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    write_st("esc.safetensors", esc, sizeof esc - 1, 4);
    expect_refused("esc.safetensors", "\"\\u0000\" inside a JSON string of the header at offset 11");
    /* An escaped backslash before "u0000" is plain text: accepted. */
    static const char lit[] = "{\"a\\\\u0000b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    write_st("lit.safetensors", lit, sizeof lit - 1, 4);
    path_in(path, sizeof path, "lit.safetensors");
    CHECKF(lc_safetensors_open_file(path, &st, &err) == 0, "%s", err.msg);
    CHECK(st && lc_safetensors_find(st, "a\\u0000b") != NULL);
    lc_safetensors_close(st);
    /* A raw control byte in a name is not JSON. */
    static const char ctl[] = "{\"a\x01\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    write_st("ctl.safetensors", ctl, sizeof ctl - 1, 4);
    expect_refused("ctl.safetensors", "control byte 0x01 inside a JSON string");
}

static long peak_rss_kib(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* A 15 MiB header that is one shape array of zeros: cJSON would build 7.8M
 * nodes (over 500 MB) before the shape was checked. The scan refuses it
 * first, so the peak memory of this process grows by little more than the
 * mapped header. Runs first, while the peak is still low. */
static void test_huge_header(void) {
    enum { HEADER = 15 << 20 };
    char path[128];
    path_in(path, sizeof path, "huge.safetensors");
    FILE *f = fopen(path, "wb");
    static const char head[] = "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,0],\"shape\":[0";
    static const char tail[] = "]}}";
    uint64_t hl = HEADER;
    size_t zeros = (HEADER - (sizeof head - 1) - (sizeof tail - 1)) / 2;
    CHECK(f && fwrite(&hl, 8, 1, f) == 1 && fwrite(head, 1, sizeof head - 1, f) == sizeof head - 1);
    for (size_t i = 0; f && i < zeros; i++) fputs(",0", f);
    size_t written = sizeof head - 1 + 2 * zeros;
    if (f) fwrite(tail, 1, sizeof tail - 1, f);
    written += sizeof tail - 1;
    for (; f && written < HEADER; written++) fputc(' ', f);
    if (f) fclose(f);

    long before = peak_rss_kib();
    expect_refused("huge.safetensors", "has more than 5 elements");
    long grown = peak_rss_kib() - before;
    CHECKF(grown < 64 * 1024, "peak memory grew by %ld KiB for a %d-byte header", grown, HEADER);

    /* Deeper than a header nests. */
    static const char deep[] = "{\"a\":{\"b\":{\"c\":[1]}}}";
    write_st("deep.safetensors", deep, sizeof deep - 1, 0);
    expect_refused("deep.safetensors", "nests deeper than 3 levels at offset 23");
    /* A five-dimension shape still gets the parser's own message. */
    static const char dims5[] = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1],\"data_offsets\":[0,4]}}";
    write_st("dims5.safetensors", dims5, sizeof dims5 - 1, 4);
    expect_refused("dims5.safetensors", "5 dimensions (at most 4 supported)");
}

/* Two shards of 40k empty tensors each and an index naming all 80k: the
 * index check used to look every weight_map entry up with a linear scan
 * (3.2e9 name comparisons, tens of seconds); now each is a binary search.
 * The bound is on CPU time and twenty times what the sorted lookup needs
 * under ASan on a loaded machine, and several times below what the scan
 * needs in a Release build. */
enum { PER_SHARD = 40000 };

static void write_shard(const char *name, int shard) {
    size_t cap = (size_t)PER_SHARD * 80 + 64, n = 0;
    char *h = malloc(cap);
    n += (size_t)snprintf(h + n, cap - n, "{");
    for (int i = 0; i < PER_SHARD; i++)
        n += (size_t)snprintf(h + n, cap - n, "%s\"model.layers.%d.w%d\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}",
                              i ? "," : "", i, shard);
    n += (size_t)snprintf(h + n, cap - n, "}");
    write_st(name, h, n, 0);
    free(h);
}

static void test_many_tensors(void) {
    char sub[96], path[160];
    snprintf(sub, sizeof sub, "%s/sharded", dir);
    CHECK(mkdir(sub, 0700) == 0);
    write_shard("sharded/model-1.safetensors", 1);
    write_shard("sharded/model-2.safetensors", 2);
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", sub);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs("{\"metadata\":{\"total_size\":0},\"weight_map\":{", f);
    for (int s = 1; s <= 2; s++)
        for (int i = 0; i < PER_SHARD; i++)
            fprintf(f, "%s\"model.layers.%d.w%d\":\"model-%d.safetensors\"", s + i > 1 ? "," : "", i, s, s);
    fputs("}}", f);
    fclose(f);

    clock_t t0 = clock();
    lc_safetensors *st = NULL;
    llamac_error err = {{0}};
    CHECKF(lc_safetensors_open_dir(sub, &st, &err) == 0, "%s", err.msg);
    bool all_found = st != NULL && st->n_tensors == 2 * PER_SHARD;
    for (int s = 1; all_found && s <= 2; s++)
        for (int i = 0; i < PER_SHARD; i++) {
            char name[64];
            snprintf(name, sizeof name, "model.layers.%d.w%d", i, s);
            const lc_st_tensor *t = lc_safetensors_find(st, name);
            all_found &= t != NULL && strcmp(t->name, name) == 0 && t->file_index == s - 1;
        }
    CHECK(all_found);
    CHECK(st && lc_safetensors_find(st, "model.layers.0.w3") == NULL &&
          lc_safetensors_find(st, "") == NULL && lc_safetensors_find(st, "zzz") == NULL);
    double cpu_s = (double)(clock() - t0) / CLOCKS_PER_SEC;
    CHECKF(cpu_s < 8.0, "opening and looking up 80k tensors took %.1f s of CPU", cpu_s);
    fprintf(stderr, "80k tensors: open and look up in %.2f s of CPU\n", cpu_s);
    lc_safetensors_close(st);

    /* A weight_map entry that names the wrong shard is still caught. */
    f = fopen(path, "w");
    if (!f) return;
    fputs("{\"weight_map\":{\"model.layers.5.w1\":\"model-2.safetensors\"}}", f);
    fclose(f);
    CHECK(lc_safetensors_open_dir(sub, &st, &err) < 0 && strstr(err.msg, "is not in shard model-2.safetensors"));
}

static void remove_tree(const char *path) {
    DIR *d = opendir(path);
    if (!d) {
        unlink(path);
        return;
    }
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        char sub[512];
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        remove_tree(sub);
    }
    closedir(d);
    rmdir(path);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/llamac-st-hostile-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_huge_header();
    test_nul_and_control_bytes();
    test_many_tensors();
    remove_tree(dir);
    return TEST_SUMMARY("test_safetensors_hostile");
}
