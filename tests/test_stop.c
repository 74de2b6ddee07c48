/* Stop-string matcher: for every way of cutting a text into pieces (all
 * single and double cuts, byte by byte, and random cuts of random texts)
 * the printed text must equal the text before the first stop string to
 * complete, nothing held back beyond a possible stop prefix, and the stop
 * text never printed. The expected values come from a naive reference. */
#include <stdbool.h>

#include "llamac.h"
#include "test_util.h"

typedef struct stop_set {
    const char *const *stops;
    size_t n;
} stop_set;

static bool ends_with_at(const char *text, size_t end, const char *stop) {
    size_t n = strlen(stop);
    return n > 0 && n <= end && memcmp(text + end - n, stop, n) == 0;
}

/* Reference: scan end positions left to right; the first end where some
 * stop string finishes decides, the longest one finishing there wins.
 * Returns the cut (bytes before the stop) or -1 when none appears. */
static long reference_cut(const char *text, size_t len, stop_set set) {
    for (size_t end = 1; end <= len; end++) {
        size_t best = 0;
        for (size_t i = 0; i < set.n; i++)
            if (ends_with_at(text, end, set.stops[i]) && strlen(set.stops[i]) > best)
                best = strlen(set.stops[i]);
        if (best) return (long)(end - best);
    }
    return -1;
}

/* Reference hold-back after `len` bytes with no match yet: the longest
 * suffix that is a proper prefix of some stop string. */
static size_t reference_hold(const char *text, size_t len, stop_set set) {
    size_t best = 0;
    for (size_t i = 0; i < set.n; i++) {
        size_t n = strlen(set.stops[i]);
        for (size_t h = 1; h < n && h <= len; h++)
            if (memcmp(text + len - h, set.stops[i], h) == 0 && h > best) best = h;
    }
    return best;
}

typedef struct run_result {
    char printed[512];
    size_t n_printed;
    bool stopped;
    bool eager;  /* after every piece, exactly the reference amount was out */
    bool failed; /* an error or a buffer overrun in the test */
} run_result;

/* Feeds text cut at the sorted positions cuts[0..n_cuts) and collects the
 * printed text, flushing at the end as a caller does after an EOG token. */
static run_result run_pieces(llamac_stop *m, const char *text, size_t len, const size_t *cuts,
                             size_t n_cuts, stop_set set) {
    run_result r = {.eager = true};
    llamac_stop_reset(m);
    size_t from = 0;
    for (size_t c = 0; c <= n_cuts && !r.stopped; c++) {
        size_t to = c < n_cuts ? cuts[c] : len;
        const char *out;
        size_t out_len;
        int rc = llamac_stop_feed(m, text + from, to - from, &out, &out_len, NULL);
        if (rc < 0 || r.n_printed + out_len >= sizeof r.printed) { r.failed = true; return r; }
        memcpy(r.printed + r.n_printed, out, out_len);
        r.n_printed += out_len;
        r.stopped = rc == 1;
        if (!r.stopped && r.n_printed != to - reference_hold(text, to, set)) r.eager = false;
        from = to;
    }
    if (!r.stopped) {
        size_t tail_len;
        const char *tail = llamac_stop_flush(m, &tail_len);
        if (r.n_printed + tail_len >= sizeof r.printed) { r.failed = true; return r; }
        memcpy(r.printed + r.n_printed, tail, tail_len);
        r.n_printed += tail_len;
    }
    return r;
}

static bool result_matches(const run_result *r, const char *text, size_t len, stop_set set) {
    long cut = reference_cut(text, len, set);
    size_t want = cut < 0 ? len : (size_t)cut;
    return !r->failed && r->eager && r->stopped == (cut >= 0) && r->n_printed == want &&
           memcmp(r->printed, text, want) == 0;
}

/* Every single cut and every pair of cuts, plus byte by byte. */
static void check_all_splits(const char *text, stop_set set) {
    llamac_stop *m = llamac_stop_create(set.stops, set.n, NULL);
    CHECK(m != NULL);
    if (!m) return;
    size_t len = strlen(text);
    int bad = 0;
    for (size_t i = 0; i <= len; i++) {
        for (size_t j = i; j <= len; j++) {
            size_t cuts[2] = {i, j};
            run_result r = run_pieces(m, text, len, cuts, 2, set);
            if (!result_matches(&r, text, len, set)) {
                if (bad++ == 0)
                    fprintf(stderr, "text \"%s\" cut at %zu,%zu printed \"%.*s\"\n", text, i, j,
                            (int)r.n_printed, r.printed);
            }
        }
    }
    size_t bytes[256];
    for (size_t i = 0; i < len && i < 256; i++) bytes[i] = i + 1;
    run_result r = run_pieces(m, text, len, bytes, len < 256 ? len : 256, set);
    if (!result_matches(&r, text, len, set)) bad++;
    CHECKF(bad == 0, "\"%s\": %d bad splits", text, bad);
    llamac_stop_free(m);
}

static void test_fixed_cases(void) {
    const char *chat[] = {"</s>", "User:", "\n\n"};
    stop_set s1 = {chat, 3};
    check_all_splits("Hello there</s>ignored", s1);
    check_all_splits("Hello <not a stop> </ s> User - but\nno end", s1);
    check_all_splits("line one\nline two\n\nUser: next", s1);
    check_all_splits("</s", s1);   /* a partial stop at the end is real text */
    check_all_splits("Use", s1);
    check_all_splits("User:", s1); /* the whole text is the stop */

    /* Overlapping and self-overlapping stop strings. */
    const char *overlap[] = {"abcd", "bc", "aab"};
    stop_set s2 = {overlap, 3};
    check_all_splits("xabcd", s2);  /* "bc" completes before "abcd" */
    check_all_splits("xaaab", s2);  /* self-overlap: match starts at 2 */
    check_all_splits("xaaxaby", s2);
    const char *rep[] = {"aaa"};
    stop_set s3 = {rep, 1};
    check_all_splits("baabaaab", s3);
    check_all_splits("aa", s3);

    /* UTF-8 stop strings, empty stops ignored, and no stops at all. */
    const char *utf8[] = {"", "\xe2\x80\x94" "end"}; /* em dash */
    stop_set s4 = {utf8, 2};
    check_all_splits("caf\xc3\xa9 \xe2\x80\x94 \xe2\x80\x94" "end.", s4);
    stop_set none = {NULL, 0};
    check_all_splits("anything at all", none);
}

static void test_random(void) {
    const char *stops[] = {"ab", "bca", "cc", "abcab"};
    stop_set set = {stops, 4};
    llamac_stop *m = llamac_stop_create(stops, 4, NULL);
    uint64_t rs = 2024;
    int bad = 0;
    for (int iter = 0; iter < 3000; iter++) {
        char text[64];
        size_t len = 1 + lc_test_rand(&rs) % 40;
        for (size_t i = 0; i < len; i++) text[i] = "abcd"[lc_test_rand(&rs) % 4];
        text[len] = '\0';
        size_t cuts[8], n_cuts = lc_test_rand(&rs) % 8;
        for (size_t i = 0; i < n_cuts; i++) cuts[i] = lc_test_rand(&rs) % (len + 1);
        for (size_t i = 1; i < n_cuts; i++) /* insertion sort */
            for (size_t j = i; j > 0 && cuts[j - 1] > cuts[j]; j--) {
                size_t t = cuts[j]; cuts[j] = cuts[j - 1]; cuts[j - 1] = t;
            }
        run_result r = run_pieces(m, text, len, cuts, n_cuts, set);
        if (!result_matches(&r, text, len, set) && bad++ == 0)
            fprintf(stderr, "random: \"%s\" printed \"%.*s\"\n", text, (int)r.n_printed, r.printed);
    }
    CHECKF(bad == 0, "%d random cases wrong", bad);
    llamac_stop_free(m);
}

static void test_api_edges(void) {
    const char *stops[] = {"STOP"};
    llamac_stop *m = llamac_stop_create(stops, 1, NULL);
    const char *out;
    size_t n;
    CHECK(llamac_stop_feed(m, "abcSTOPdef", 10, &out, &n, NULL) == 1);
    CHECK(n == 3 && memcmp(out, "abc", 3) == 0);
    /* After a match nothing more comes out, flush included. */
    CHECK(llamac_stop_feed(m, "more", 4, &out, &n, NULL) == 1 && n == 0);
    llamac_stop_flush(m, &n);
    CHECK(n == 0);
    /* reset starts a new reply. */
    llamac_stop_reset(m);
    CHECK(llamac_stop_feed(m, "xST", 3, &out, &n, NULL) == 0 && n == 1 && out[0] == 'x');
    CHECK(llamac_stop_feed(m, "", 0, &out, &n, NULL) == 0 && n == 0);
    const char *tail = llamac_stop_flush(m, &n);
    CHECK(n == 2 && memcmp(tail, "ST", 2) == 0);
    /* A long piece grows the window. */
    static char big[10000];
    memset(big, 'x', sizeof big);
    llamac_stop_reset(m);
    CHECK(llamac_stop_feed(m, big, sizeof big, &out, &n, NULL) == 0 && n == sizeof big);
    llamac_stop_free(m);

    llamac_error err = {{0}};
    const char *with_null[] = {"a", NULL};
    CHECK(llamac_stop_create(with_null, 2, &err) == NULL);
    CHECK(strstr(err.msg, "entry 1") != NULL);
    CHECK(llamac_stop_create(NULL, 1, &err) == NULL);
}

int main(void) {
    test_fixed_cases();
    test_random();
    test_api_edges();
    return TEST_SUMMARY("test_stop");
}
