/* Hostile converter inputs (issue 18, findings 3, 5 and 8):
 *   - a llama2.c header whose size arithmetic wrapped past 2^64 so that the
 *     exact-size check passed on a (sparse) file far too small for its
 *     tensors, and GGUF writer sizes that wrapped the same way;
 *   - config.json sizes far beyond anything loadable (a vocab_size of
 *     2^31-1 padded the vocabulary until memory ran out);
 *   - vocabularies the loader rejects (a NaN score, a BYTE piece whose text
 *     is not <0xXX>), now refused at convert time with the piece's index
 *     instead of written out. */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "convert/hf_config.h"
#include "convert/llama2c.h"
#include "format/gguf.h"
#include "llamac.h"
#include "quant/types.h"
#include "test_util.h"

#define STORIES_BIN "data/stories260K/stories260K.bin"
#define TOK512_BIN "data/stories260K/tok512.bin"
#define NAN_SCORE_MODEL "fuzz/regress_spm_model/nan_score.model"
#define BYTE_TEXT_MODEL "fuzz/regress_spm_model/byte_text.model"

static char dir[64];

static void path_in(char *buf, size_t size, const char *name) { snprintf(buf, size, "%s/%s", dir, name); }

static int count_entries(void) {
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d)) != NULL;) n += e->d_name[0] != '.';
    if (d) closedir(d);
    return n;
}

/* ------------------------------------------------------------ finding 3 */

/* dim 2147481648, hidden_dim 5333, one layer, one head: the true per-layer
 * float count is 2^64 + 2131481648, which wrapped to 2131481648, so a file
 * of 28 + 4 * 8573926592 bytes (sparse here) matched the header exactly,
 * and the converter's tensor sources lay past the mapping. */
static void test_llama2c_size_wrap(void) {
    char path[128];
    path_in(path, sizeof path, "wrap.bin");
    const int32_t header[7] = {2147481648, 5333, 1, 1, 1, 1, 1};
    const off_t size = 28 + 4 * (off_t)8573926592ll;
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
    CHECK(fd >= 0 && write(fd, header, sizeof header) == (ssize_t)sizeof header && ftruncate(fd, size) == 0);
    if (fd >= 0) close(fd);
    lc_llama2c_model *m = NULL;
    llamac_error err = {{0}};
    int rc = lc_llama2c_open(path, &m, &err);
    CHECKF(rc < 0 && m == NULL, "a header whose sizes wrap was accepted");
    CHECKF(strstr(err.msg, "dim 2147481648, hidden_dim 5333") && strstr(err.msg, "overflow 64 bits"), "%s",
           err.msg);
    lc_llama2c_close(m);
    unlink(path);
}

/* A tensor of 2^63 bytes, and eight of 2^61 whose padded sum wrapped the
 * file size to the header's (so the free-space check passed). */
static void test_gguf_writer_size_wrap(void) {
    char path[128];
    path_in(path, sizeof path, "huge.gguf");
    llamac_error err = {{0}};
    lc_gguf_writer *w = lc_gguf_writer_create();
    const int64_t too_big[1] = {(int64_t)1 << 61}; /* f32: 2^63 bytes */
    CHECK(lc_gguf_writer_add_tensor(w, "a", LC_TYPE_F32, 1, too_big, &err) < 0 &&
          strstr(err.msg, "tensor 'a': size overflows"));
    const int64_t big[1] = {(int64_t)1 << 59}; /* f32: 2^61 bytes each */
    bool added = true;
    for (int i = 0; i < 8; i++) {
        char name[8];
        snprintf(name, sizeof name, "t%d", i);
        added &= lc_gguf_writer_add_tensor(w, name, LC_TYPE_F32, 1, big, &err) == 0;
    }
    CHECKF(added, "%s", err.msg);
    CHECK(lc_gguf_writer_total_size(w) == UINT64_MAX);
    int rc = lc_gguf_writer_begin(w, path, &err);
    CHECKF(rc < 0 && strstr(err.msg, "2^62 bytes"), "begin: rc %d, '%s'", rc, err.msg);
    lc_gguf_writer_free(w);
    CHECK(count_entries() == 0);
}

/* ------------------------------------------------------------ finding 5 */

static void expect_config_refused(const char *json, const char *want) {
    char path[128];
    path_in(path, sizeof path, "config.json");
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(json, f);
        fclose(f);
    }
    lc_hf_config c;
    llamac_error err = {{0}};
    int rc = lc_hf_config_load(path, &c, &err);
    CHECKF(rc < 0 && strstr(err.msg, want), "config %s: rc %d, '%s' lacks '%s'", json, rc, err.msg, want);
    unlink(path);
}

#define CFG_HEAD "{\"architectures\":[\"LlamaForCausalLM\"],"
#define CFG_SIZES "\"hidden_size\":8,\"intermediate_size\":16,\"num_hidden_layers\":1,\"num_attention_heads\":2"

static void test_config_caps(void) {
    expect_config_refused(CFG_HEAD "\"vocab_size\":2147483647," CFG_SIZES "}",
                          "\"vocab_size\" = 2147483647 is outside [1, 4194304]");
    expect_config_refused(CFG_HEAD "\"vocab_size\":10," CFG_SIZES ",\"head_dim\":2147483646,"
                                   "\"rope_scaling\":{\"rope_type\":\"llama3\"}}",
                          "\"head_dim\" = 2147483646 is outside [1, 1024]");
    expect_config_refused(CFG_HEAD "\"vocab_size\":10,\"hidden_size\":131072,\"intermediate_size\":16,"
                                   "\"num_hidden_layers\":1,\"num_attention_heads\":2}",
                          "\"hidden_size\" = 131072 is outside [1, 65536]");
    expect_config_refused(CFG_HEAD "\"vocab_size\":10,\"hidden_size\":8,\"intermediate_size\":16,"
                                   "\"num_hidden_layers\":5000,\"num_attention_heads\":2}",
                          "\"num_hidden_layers\" = 5000 is outside [1, 1024]");
    expect_config_refused(CFG_HEAD "\"vocab_size\":10,\"hidden_size\":8,\"intermediate_size\":2000000,"
                                   "\"num_hidden_layers\":1,\"num_attention_heads\":2}",
                          "\"intermediate_size\" = 2000000 is outside [1, 1048576]");
    expect_config_refused(CFG_HEAD "\"vocab_size\":10," CFG_SIZES ",\"num_key_value_heads\":4096}",
                          "\"num_key_value_heads\" = 4096 is outside [1, 1024]");
    expect_config_refused(CFG_HEAD "\"vocab_size\":10,\"hidden_size\":4096,\"intermediate_size\":16,"
                                   "\"num_hidden_layers\":1,\"num_attention_heads\":2}",
                          "head dimension 2048 (hidden_size / num_attention_heads) is larger than 1024");
    expect_config_refused(CFG_HEAD "\"vocab_size\":1.5," CFG_SIZES "}", "\"vocab_size\" must be an integer");
}

/* ------------------------------------------------------------ finding 8 */

static void expect_convert_refused(const char *tokenizer, const char *want, const char *what) {
    char out[128];
    path_in(out, sizeof out, "out.gguf");
    llamac_convert_params p = llamac_convert_default_params();
    p.type = LC_TYPE_F32;
    p.n_threads = 1;
    p.tokenizer = tokenizer;
    llamac_error err = {{0}};
    int rc = llamac_convert(STORIES_BIN, out, &p, &err);
    CHECKF(rc < 0 && strstr(err.msg, want) && !strchr(err.msg, '\n'), "%s: rc %d, '%s' lacks '%s'", what,
           rc, err.msg, want);
    CHECKF(count_entries() == 0, "%s: the output folder is not empty", what);
}

/* tok512.bin with token 300's score set to NaN (the llama2.c format has no
 * reader-side check of its own: the loader's validator catches it). */
static void write_nan_tokenizer_bin(const char *path) {
    size_t n;
    char *buf = lc_test_read_file(TOK512_BIN, &n);
    CHECK(buf != NULL);
    if (!buf) return;
    size_t pos = 4;
    for (int i = 0; i < 300 && pos + 8 <= n; i++) {
        int32_t len;
        memcpy(&len, buf + pos + 4, 4);
        pos += 8 + (size_t)len;
    }
    float nan_score = NAN;
    memcpy(buf + pos, &nan_score, 4);
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(buf, 1, n, f) == n);
    if (f) fclose(f);
    free(buf);
}

static void test_vocab_checked_at_convert(void) {
    expect_convert_refused(NAN_SCORE_MODEL, "nan_score.model: piece 300 has a non-finite score", "NaN score");
    expect_convert_refused(BYTE_TEXT_MODEL,
                           "byte_text.model: piece 100 has type BYTE but its text is not of the form <0xXX>",
                           "BYTE text");
    char bin[128];
    snprintf(bin, sizeof bin, "%s/../tok-nan-%d.bin", dir, (int)getpid());
    write_nan_tokenizer_bin(bin);
    expect_convert_refused(bin, "the vocabulary would not load: tokenizer.ggml.scores: token 300 has a non-finite score",
                           "NaN score in tokenizer.bin");
    unlink(bin);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/llamac-conv-hostile-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_llama2c_size_wrap();
    test_gguf_writer_size_wrap();
    test_config_caps();
    test_vocab_checked_at_convert();
    rmdir(dir);
    return TEST_SUMMARY("test_convert_hostile");
}
