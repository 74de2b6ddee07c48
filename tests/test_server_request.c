/* The server's request validation and helpers, without HTTP: each bad body
 * must be refused with the field it names, good bodies must fill the
 * request as the API defines (defaults included), UTF-8 checks must agree
 * with a reference decoder on every 1-3 byte string, the API-key
 * comparison must accept only the exact key, and the per-token output
 * segments must survive moves. The end-to-end tests are test_server.sh. */
#include <stdbool.h>

#include "server/internal.h"
#include "test_util.h"

static const llamac_sampler_params *defaults(void) {
    static llamac_sampler_params p;
    p = llamac_sampler_default_params();
    return &p;
}

/* Parses `json` as `kind`; returns whether it was accepted and the param. */
static bool parse(srv_kind kind, const char *json, srv_request *r, srv_error *e) {
    cJSON *body = cJSON_Parse(json);
    if (!body) {
        fprintf(stderr, "bad test JSON: %s\n", json);
        return false;
    }
    memset(e, 0, sizeof *e);
    bool ok = srv_request_parse(r, kind, body, defaults(), true, 512, e);
    cJSON_Delete(body);
    return ok;
}

static void expect_refused(srv_kind kind, const char *json, const char *param) {
    srv_request r;
    srv_error e;
    bool ok = parse(kind, json, &r, &e);
    CHECKF(!ok, "accepted: %s", json);
    if (!ok) {
        CHECKF(e.status == 400, "%s: status %d", json, e.status);
        CHECKF(!strcmp(e.param, param), "%s: param '%s', expected '%s' (%s)", json, e.param, param, e.message);
        CHECKF(strlen(e.message) > 0, "%s: no message", json);
    }
    srv_request_free(&r);
}

static void test_refusals(void) {
    const char *msgs = "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]";
    char buf[512];
#define WITH(extra) (snprintf(buf, sizeof buf, "{%s,%s}", msgs, extra), buf)
    expect_refused(SRV_CHAT, WITH("\"temperature\":\"hot\""), "temperature");
    expect_refused(SRV_CHAT, WITH("\"temperature\":2.5"), "temperature");
    expect_refused(SRV_CHAT, WITH("\"top_p\":1.1"), "top_p");
    expect_refused(SRV_CHAT, WITH("\"top_k\":1.5"), "top_k");
    expect_refused(SRV_CHAT, WITH("\"max_tokens\":0"), "max_tokens");
    expect_refused(SRV_CHAT, WITH("\"max_completion_tokens\":\"9\""), "max_completion_tokens");
    expect_refused(SRV_CHAT, WITH("\"n\":3"), "n");
    expect_refused(SRV_CHAT, WITH("\"stream\":1"), "stream");
    expect_refused(SRV_CHAT, WITH("\"stream_options\":[]"), "stream_options");
    expect_refused(SRV_CHAT, WITH("\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\",\"k\",\"l\",\"m\",\"n\",\"o\",\"p\",\"q\"]"), "stop");
    expect_refused(SRV_CHAT, WITH("\"presence_penalty\":-3"), "presence_penalty");
    expect_refused(SRV_CHAT, WITH("\"logit_bias\":{\"512\":1}"), "logit_bias");
    expect_refused(SRV_CHAT, WITH("\"logit_bias\":{\"5\":101}"), "logit_bias");
    expect_refused(SRV_CHAT, WITH("\"logprobs\":true,\"top_logprobs\":21"), "top_logprobs");
    expect_refused(SRV_CHAT, WITH("\"tools\":[{\"type\":\"function\"}]"), "tools");
    expect_refused(SRV_CHAT, WITH("\"response_format\":{\"type\":\"xml\"}"), "response_format.type");
    expect_refused(SRV_CHAT, WITH("\"response_format\":{\"type\":\"json_schema\"}"), "response_format.json_schema");
    expect_refused(SRV_CHAT, WITH("\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"x\",\"schema\":3}}"),
                   "response_format.json_schema.schema");
    expect_refused(SRV_CHAT, WITH("\"grammar\":7"), "grammar");
    expect_refused(SRV_CHAT, WITH("\"grammar\":\"root ::= \\\"a\\\"\",\"response_format\":{\"type\":\"json_object\"}"), "grammar");
    expect_refused(SRV_CHAT, WITH("\"response_format\":\"text\""), "response_format");
    expect_refused(SRV_CHAT, "{}", "messages");
    expect_refused(SRV_CHAT, "{\"messages\":{}}", "messages");
    expect_refused(SRV_CHAT, "{\"messages\":[]}", "messages");
    expect_refused(SRV_CHAT, "{\"messages\":[7]}", "messages[0]");
    expect_refused(SRV_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"tool\",\"content\":\"b\"}]}",
                   "messages[1].role");
    expect_refused(SRV_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":[]}]}", "messages[0].content");
    expect_refused(SRV_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\"}]}]}",
                   "messages[0].content[0]");
    expect_refused(SRV_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"image_url\"}]}]}",
                   "messages[0].content[1]");
    expect_refused(SRV_CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":null}]}", "messages[0].content");
    expect_refused(SRV_COMPLETION, "{\"prompt\":[\"a\",\"b\"]}", "prompt");
    expect_refused(SRV_COMPLETION, "{\"prompt\":[1,512]}", "prompt");
    expect_refused(SRV_COMPLETION, "{\"prompt\":[1,-1]}", "prompt");
    expect_refused(SRV_COMPLETION, "{\"prompt\":[]}", "prompt");
    expect_refused(SRV_COMPLETION, "{\"prompt\":{}}", "prompt");
    expect_refused(SRV_COMPLETION, "{\"prompt\":\"a\",\"logprobs\":true}", "logprobs");
    expect_refused(SRV_COMPLETION, "{\"prompt\":\"a\",\"best_of\":2}", "best_of");
    expect_refused(SRV_COMPLETION, "{\"prompt\":\"a\",\"suffix\":\"b\"}", "suffix");
#undef WITH
}

static void test_accepted(void) {
    srv_request r;
    srv_error e;
    bool ok = parse(SRV_CHAT,
                    "{\"model\":\"x\",\"unknown\":{\"a\":1},\"temperature\":0,\"top_k\":5,\"seed\":-1,"
                    "\"max_tokens\":10,\"max_completion_tokens\":20,\"stop\":\"END\",\"stream\":true,"
                    "\"stream_options\":{\"include_usage\":true},\"logprobs\":true,\"top_logprobs\":2,"
                    "\"logit_bias\":{\"7\":-100},\"response_format\":{\"type\":\"text\"},\"n\":1,"
                    "\"messages\":[{\"role\":\"developer\",\"content\":\"be nice\"},"
                    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"text\",\"text\":\"b\"}]},"
                    "{\"role\":\"assistant\",\"content\":null}]}",
                    &r, &e);
    CHECKF(ok, "%s", e.message);
    if (ok) {
        CHECK(r.sampling.temperature == 0.0f);
        CHECK(r.sampling.top_k == 5);
        CHECK(r.sampling.seed == UINT64_MAX);
        CHECK(r.max_tokens == 20); /* the newer name wins */
        CHECK(r.n_stops == 1 && !strcmp(r.stops[0], "END"));
        CHECK(r.stream && r.include_usage && r.logprobs && r.top_logprobs == 2);
        CHECK(r.n_logit_bias == 1 && r.logit_bias[0].id == 7 && r.logit_bias[0].bias == -100.0f);
        CHECK(r.n_messages == 3);
        CHECK(!strcmp(r.messages[0].role, "system"));
        CHECK(!strcmp(r.messages[1].content, "a\nb"));
        CHECK(!strcmp(r.messages[2].content, ""));
        CHECK(r.sampling.top_p == defaults()->top_p); /* left out: the server's default */
    }
    srv_request_free(&r);

    ok = parse(SRV_COMPLETION, "{\"prompt\":[[1,2,3]],\"logprobs\":3}", &r, &e);
    CHECKF(ok, "%s", e.message);
    if (ok) {
        CHECK(r.n_prompt_ids == 3 && r.prompt_ids[2] == 3);
        CHECK(r.max_tokens == 16); /* the legacy endpoint's default */
        CHECK(r.logprobs && r.top_logprobs == 3);
    }
    srv_request_free(&r);
    ok = parse(SRV_COMPLETION, "{\"prompt\":[\"one\"],\"stop\":null,\"max_tokens\":null}", &r, &e);
    CHECKF(ok && !strcmp(r.prompt_text, "one") && r.n_stops == 0, "%s", e.message);
    srv_request_free(&r);
}

/* Reference UTF-8 check: decode code points by the definition. */
static bool ref_utf8(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (!len || i + len > n) return false;
        uint32_t cp = len == 1 ? c : c & (0x7Fu >> len);
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += len;
    }
    return true;
}

static void test_utf8(void) {
    unsigned char s[3];
    int mismatches = 0;
    for (unsigned a = 0; a < 256; a++) {
        s[0] = (unsigned char)a;
        if (srv_utf8_valid((char *)s, 1) != ref_utf8(s, 1)) mismatches++;
        for (unsigned b = 0; b < 256; b++) {
            s[1] = (unsigned char)b;
            if (srv_utf8_valid((char *)s, 2) != ref_utf8(s, 2)) mismatches++;
            for (unsigned c = 0x70; c < 0xC8; c++) { /* around the continuation range */
                s[2] = (unsigned char)c;
                if (srv_utf8_valid((char *)s, 3) != ref_utf8(s, 3)) mismatches++;
            }
        }
    }
    CHECKF(mismatches == 0, "%d byte strings judged differently from the reference", mismatches);
    CHECK(srv_utf8_valid("\xF0\x9F\x98\x80", 4));   /* U+1F600 */
    CHECK(!srv_utf8_valid("\xF4\x90\x80\x80", 4));  /* past U+10FFFF */
    CHECK(!srv_utf8_valid("\xED\xA0\x80", 3));      /* a surrogate */
    char *clean = srv_utf8_sanitize("a\xFF" "b\xC3", 4);
    CHECK(clean && !strcmp(clean, "a\xEF\xBF\xBD" "b\xEF\xBF\xBD"));
    free(clean);
}

static void test_secret(void) {
    CHECK(srv_secret_equal("sk-abc", "sk-abc"));
    CHECK(!srv_secret_equal("sk-abc", "sk-ab"));
    CHECK(!srv_secret_equal("sk-abc", "sk-abcd"));
    CHECK(!srv_secret_equal("sk-abc", "sk-abd"));
    CHECK(!srv_secret_equal("sk-abc", ""));
    CHECK(!srv_secret_equal("sk-abc", "SK-ABC"));
}

static void test_output(void) {
    srv_output a = {0}, b = {0};
    srv_token_logprob lp = {.id = 5, .logprob = -0.5f};
    CHECK(srv_output_begin_token(&a, &lp) && srv_output_text(&a, "He", 2));
    CHECK(srv_output_begin_token(&a, &lp)); /* a token whose text is held back */
    CHECK(srv_output_begin_token(&a, &lp) && srv_output_text(&a, "llo", 3) && srv_output_text(&a, "!", 1));
    CHECK(srv_output_move(&b, &a));
    CHECK(a.n_seg == 0 && a.text.len == 0 && a.n_lps == 0);
    CHECK(srv_output_text(&a, " x", 2)); /* text without a token opens a segment */
    CHECK(srv_output_move(&b, &a));
    CHECK(b.n_seg == 4 && b.n_lps == 3);
    CHECK(b.seg[0] == 2 && b.seg[1] == 0 && b.seg[2] == 4 && b.seg[3] == 2);
    CHECK(b.text.len == 8 && !memcmp(b.text.data, "Hello! x", 8));
    srv_output_free(&a);
    srv_output_free(&b);
}

static void test_random_id(void) {
    char a[48], b[48];
    srv_random_id(a, sizeof a, "chatcmpl-");
    srv_random_id(b, sizeof b, "chatcmpl-");
    CHECK(strlen(a) == 9 + 24 && !strncmp(a, "chatcmpl-", 9));
    CHECK(strcmp(a, b) != 0);
}

int main(void) {
    test_refusals();
    test_accepted();
    test_utf8();
    test_secret();
    test_output();
    test_random_id();
    return TEST_SUMMARY("test_server_request");
}
