/* End-to-end tests of the `llamac` command (path in $LLAMAC_BIN): exit
 * codes, one-line errors, --help on every subcommand, and greedy generation
 * through `llamac run --temp 0 --kv-type f32` against the goldens. */
#include <cjson/cJSON.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"

static const char *bin;

typedef struct result {
    int status;
    char out[65536];
    char err[65536];
} result;

/* Runs `bin args` through the shell, capturing stdout and stderr. */
static void run(result *r, const char *args) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s %s >cli_test.out 2>cli_test.err", bin, args);
    int st = system(cmd);
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
    size_t n;
    char *o = lc_test_read_file("cli_test.out", &n);
    snprintf(r->out, sizeof r->out, "%s", o ? o : "");
    free(o);
    char *e = lc_test_read_file("cli_test.err", &n);
    snprintf(r->err, sizeof r->err, "%s", e ? e : "");
    free(e);
}

static int count_lines(const char *s) {
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

static void test_help_and_usage(void) {
    static result r;
    static const char *const subcommands[] = {"run", "info", "convert", "quantize", "chat", "tokenize", "bench"};
    run(&r, "--help");
    CHECK(r.status == 0 && strstr(r.out, "usage: llamac"));
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++) {
        if (!strstr(r.out, subcommands[i])) continue; /* only commands the binary lists */
        char args[64];
        snprintf(args, sizeof args, "%s --help", subcommands[i]);
        static result h;
        run(&h, args);
        CHECKF(h.status == 0 && strstr(h.out, "usage: llamac"), "%s --help", subcommands[i]);
    }
    run(&r, "--version");
    CHECK(r.status == 0 && strstr(r.out, "llamac "));
    run(&r, "frobnicate");
    CHECK(r.status == 2 && strstr(r.err, "frobnicate") && count_lines(r.err) == 1);
    run(&r, "run");
    CHECK(r.status == 2 && count_lines(r.err) == 1);
    run(&r, "run -m ../models/stories260K.gguf --temp nope");
    CHECK(r.status == 2 && strstr(r.err, "--temp") && count_lines(r.err) == 1);
    run(&r, "run -m ../models/stories260K.gguf --kv-type q3");
    CHECK(r.status == 2 && count_lines(r.err) == 1);
    /* --isa: an unknown table or one this CPU lacks is a one-line error naming it */
    run(&r, "run -m ../models/stories260K.gguf --isa mmx -p hi");
    CHECKF(r.status == 1 && strstr(r.err, "'mmx'") && count_lines(r.err) == 1, "%s", r.err);
    run(&r, "bench -m ../models/stories260K.gguf --isa scalar -p 4 -n 4 -r 1 --json");
    CHECKF(r.status == 0 && strstr(r.out, "\"kernels\": \"scalar\""), "%s", r.err);
#if !defined(__aarch64__)
    run(&r, "run -m ../models/stories260K.gguf --isa neon -p hi");
    CHECKF(r.status == 1 && strstr(r.err, "'neon'") && strstr(r.err, "aarch64") && count_lines(r.err) == 1, "%s", r.err);
#endif
}

static void test_bad_files(void) {
    static result r;
    run(&r, "run -m data/does-not-exist.gguf -p hi");
    CHECK(r.status == 1 && strstr(r.err, "does-not-exist.gguf") && count_lines(r.err) == 1);
    /* a truncated model: a clean one-line error naming the file */
    size_t n;
    char *buf = lc_test_read_file("../models/stories260K.gguf", &n);
    CHECK(buf != NULL);
    if (!buf) return;
    FILE *f = fopen("cli_truncated.gguf", "wb");
    fwrite(buf, 1, n / 2, f);
    fclose(f);
    free(buf);
    run(&r, "run -m cli_truncated.gguf -p hi");
    CHECKF(r.status == 1 && strstr(r.err, "cli_truncated.gguf") && count_lines(r.err) == 1, "%s", r.err);
    run(&r, "info cli_truncated.gguf");
    CHECK(r.status == 1 && strstr(r.err, "cli_truncated.gguf"));
    remove("cli_truncated.gguf");
    /* invalid UTF-8 in a prompt file still runs (byte fallback) */
    f = fopen("cli_prompt.txt", "wb");
    fwrite("\xff\xfe Once \xc3", 1, 9, f);
    fclose(f);
    run(&r, "run -m ../models/stories260K.gguf -f cli_prompt.txt -n 5 --temp 0");
    CHECK(r.status == 0);
    remove("cli_prompt.txt");
    /* a prompt longer than the context */
    run(&r, "run -m ../models/stories260K.gguf --ctx 8 -p 'Once upon a time there was a very long prompt'");
    CHECK(r.status == 2 && strstr(r.err, "context") && count_lines(r.err) == 1);
}

static void test_info(void) {
    static result r;
    run(&r, "info ../models/stories260K.gguf");
    CHECK(r.status == 0);
    CHECK(strstr(r.out, "general.architecture") && strstr(r.out, "llama"));
    CHECK(strstr(r.out, "blk.4.ffn_down.weight") && strstr(r.out, "[172, 64]"));
    CHECK(strstr(r.out, "tensors (48)"));
    run(&r, "info --system");
    CHECK(r.status == 0 && strlen(r.out) > 0);
}

static void test_tokenize(void) {
    static result r;
    run(&r, "tokenize -m ../models/stories260K.gguf --ids 'Once upon a time, a little dog'");
    CHECKF(r.status == 0 && strcmp(r.out, "[1, 403, 407, 261, 378, 432, 261, 376, 400, 428]\n") == 0, "%s", r.out);
    run(&r, "tokenize -m ../models/stories260K.gguf --no-bos --ids 'Once'");
    CHECK(r.status == 0 && strcmp(r.out, "[403]\n") == 0);
    run(&r, "tokenize -m ../models/stories260K.gguf 'Once'");
    CHECK(r.status == 0 && strstr(r.out, "403 -> ' Once'"));
    /* a vocab-only GGUF (no tensors) */
    run(&r, "tokenize -m data/tokenizer-vectors/ggml-vocab-llama-spm.gguf --ids 'Hello world'");
    CHECKF(r.status == 0 && strcmp(r.out, "[1, 15043, 3186]\n") == 0, "%s", r.out);
    run(&r, "tokenize -m ../models/stories260K.gguf");
    CHECK(r.status == 2 && count_lines(r.err) == 1);
}

/* Parses "label: 1 2 3" from stderr into ids. */
static int parse_ids(const char *text, const char *label, int *ids, int max) {
    const char *p = strstr(text, label);
    if (!p) return -1;
    p += strlen(label);
    int n = 0;
    while (*p && *p != '\n') {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p) break;
        if (n < max) ids[n] = (int)v;
        n++;
        p = end;
    }
    return n;
}

static void test_greedy_goldens(void) {
    char *text = lc_test_read_file("data/stories260K/stories260K.prompts.expected.json", NULL);
    cJSON *g = text ? cJSON_Parse(text) : NULL;
    free(text);
    CHECK(g != NULL);
    if (!g) return;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(g, "cases")) {
        const char *prompt = cJSON_GetObjectItem(c, "prompt")->valuestring;
        const cJSON *want = cJSON_GetObjectItem(c, "greedy_ids");
        const cJSON *want_prompt = cJSON_GetObjectItem(c, "prompt_ids");
        char args[1024];
        snprintf(args, sizeof args, "run -m ../models/stories260K.gguf -p '%s' --temp 0 --kv-type f32 -n %d --print-ids",
                 prompt, cJSON_GetArraySize(want));
        static result r;
        run(&r, args);
        CHECK(r.status == 0);
        int ids[1024];
        int n = parse_ids(r.err, "generated ids:", ids, 1024);
        CHECKF(n == cJSON_GetArraySize(want), "'%s': %d ids", prompt, n);
        int i = 0;
        const cJSON *it;
        int first_diff = -1;
        cJSON_ArrayForEach(it, want) {
            if (first_diff < 0 && (i >= n || ids[i] != it->valueint)) first_diff = i;
            i++;
        }
        CHECKF(first_diff < 0, "'%s': CLI greedy ids differ from step %d", prompt, first_diff);
        n = parse_ids(r.err, "prompt ids:", ids, 1024);
        CHECK(n == cJSON_GetArraySize(want_prompt));
        /* stdout is the prompt echoed, then the continuation */
        const char *want_text = cJSON_GetObjectItem(c, "text")->valuestring;
        CHECKF(strncmp(r.out, want_text, strlen(want_text)) == 0, "output text:\n%s\nwant:\n%s", r.out, want_text);
        CHECK(strstr(r.err, "tok/s"));
    }
    cJSON_Delete(g);
}

int main(void) {
    bin = getenv("LLAMAC_BIN");
    if (!bin) {
        fprintf(stderr, "LLAMAC_BIN is not set (ctest sets it)\n");
        return 1;
    }
    test_help_and_usage();
    test_bad_files();
    test_info();
    test_tokenize();
    test_greedy_goldens();
    remove("cli_test.out");
    remove("cli_test.err");
    return TEST_SUMMARY("test_cli");
}
