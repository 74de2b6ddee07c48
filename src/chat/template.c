/* Chat templates written out in C: each function produces exactly the text
 * the model's Hugging Face Jinja template renders for plain conversations
 * (no tools), so no Jinja engine is needed. Facts: docs/formats.md "Chat templates". */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "chat/template.h"
#include "llamac.h"
#include "runtime/err.h"

/* ----------------------------------------------------------- output text */

/* snprintf-like sink: counts every byte, stores what fits (leaving room for
 * the NUL), so one pass both measures and writes. */
typedef struct text_out {
    char *buf;
    size_t size;
    size_t len;
} text_out;

static void put_bytes(text_out *o, const char *s, size_t n) {
    if (o->size > 0 && o->len < o->size - 1) {
        size_t room = o->size - 1 - o->len;
        memcpy(o->buf + o->len, s, n < room ? n : room);
    }
    o->len += n;
}

static void put_str(text_out *o, const char *s) { put_bytes(o, s, strlen(s)); }

/* Content with Python-style strip() applied. */
static void put_stripped(text_out *o, const char *s) {
    size_t n = strlen(s);
    size_t lead = lc_chat_lead_space(s, n);
    size_t trail = lc_chat_trail_space(s + lead, n - lead);
    put_bytes(o, s + lead, n - lead - trail);
}

static int64_t finish(text_out *o) {
    if (o->size > 0) o->buf[o->len < o->size ? o->len : o->size - 1] = '\0';
    return (int64_t)o->len;
}

/* ------------------------------------------------------------ whitespace */

/* The code points Python's str.isspace() accepts. */
static bool is_python_space(uint32_t cp) {
    return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 ||
           cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
           cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

/* Decodes one UTF-8 sequence at s[0..n); returns its length, or 0 when it
 * is not a valid sequence (such bytes never count as whitespace). */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
    if (n == 0) return 0;
    unsigned char b = s[0];
    size_t len;
    uint32_t v, min;
    if (b < 0x80) { *cp = b; return 1; }
    if ((b & 0xE0) == 0xC0) { len = 2; v = b & 0x1F; min = 0x80; }
    else if ((b & 0xF0) == 0xE0) { len = 3; v = b & 0x0F; min = 0x800; }
    else if ((b & 0xF8) == 0xF0) { len = 4; v = b & 0x07; min = 0x10000; }
    else return 0;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return len;
}

size_t lc_chat_lead_space(const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        size_t len = utf8_decode(u + i, n - i, &cp);
        if (len == 0 || !is_python_space(cp)) break;
        i += len;
    }
    return i;
}

size_t lc_chat_trail_space(const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    size_t end = n;
    while (end > 0) {
        /* Step back to the lead byte of the last character (at most 3
         * continuation bytes before it). */
        size_t start = end - 1;
        while (start > 0 && end - start < 4 && (u[start] & 0xC0) == 0x80) start--;
        uint32_t cp;
        size_t len = utf8_decode(u + start, end - start, &cp);
        if (len != end - start || !is_python_space(cp)) break;
        end = start;
    }
    return n - end;
}

/* ------------------------------------------------------------- templates */

#define L3_BOS "<|begin_of_text|>"
#define L3_HEADER_START "<|start_header_id|>"
#define L3_HEADER_END "<|end_header_id|>\n\n"
#define L3_EOT "<|eot_id|>"

/* The Jinja templates index messages[0], so an empty conversation is an
 * error there too; every message needs a role and a content. */
static int check_messages(const char *name, const llamac_chat_message *msgs, size_t n,
                          llamac_error *err) {
    if (n == 0 || !msgs) return lc_fail(err, "chat template %s: the conversation is empty", name);
    for (size_t i = 0; i < n; i++) {
        if (!msgs[i].role || !msgs[i].content)
            return lc_fail(err, "chat template %s: message %zu has a NULL %s", name, i,
                           msgs[i].role ? "content" : "role");
    }
    return 0;
}

static void put_llama3_message(text_out *o, const char *role, const char *content) {
    put_str(o, L3_HEADER_START);
    put_str(o, role);
    put_str(o, L3_HEADER_END);
    put_stripped(o, content);
    put_str(o, L3_EOT);
}

static void put_llama3_generation_prompt(text_out *o) {
    put_str(o, L3_HEADER_START "assistant" L3_HEADER_END);
}

/* Llama 3.0 Instruct: BOS before the first message, no default system. */
static int render_llama3(const llamac_chat_message *msgs, size_t n, bool gen, text_out *o,
                         llamac_error *err) {
    (void)err;
    put_str(o, L3_BOS);
    for (size_t i = 0; i < n; i++) put_llama3_message(o, msgs[i].role, msgs[i].content);
    if (gen) put_llama3_generation_prompt(o);
    return 0;
}

static bool is_role(const llamac_chat_message *m, const char *role) {
    return strcmp(m->role, role) == 0;
}

/* Text as a JSON string literal the way the template's `tojson` filter
 * (Hugging Face: json.dumps, ensure_ascii=False) writes it: quotes,
 * backslash and control characters escaped, everything else verbatim. */
static void put_json_string(text_out *o, const char *s) {
    static const char hex[] = "0123456789abcdef";
    put_str(o, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': put_str(o, "\\\""); break;
        case '\\': put_str(o, "\\\\"); break;
        case '\n': put_str(o, "\\n"); break;
        case '\r': put_str(o, "\\r"); break;
        case '\t': put_str(o, "\\t"); break;
        case '\b': put_str(o, "\\b"); break;
        case '\f': put_str(o, "\\f"); break;
        default:
            if (*p < 0x20) {
                char esc[7] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15], 0};
                put_str(o, esc);
            } else {
                put_bytes(o, (const char *)p, 1);
            }
        }
    }
    put_str(o, "\"");
}

/* Llama 3.1 Instruct without tools: the system block is always there, with
 * the knowledge/date header before the (trimmed) system text. A tool result
 * (role "ipython" or "tool") goes under an ipython header; the template
 * passes a string content through `tojson` (a string is "iterable" to
 * Jinja), so it appears as a JSON string literal. */
static int render_llama31(const llamac_chat_message *msgs, size_t n, bool gen, text_out *o,
                          llamac_error *err) {
    (void)err;
    size_t first = 0;
    put_str(o, L3_BOS L3_HEADER_START "system" L3_HEADER_END
               "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n");
    if (is_role(&msgs[0], "system")) {
        put_stripped(o, msgs[0].content);
        first = 1;
    }
    put_str(o, L3_EOT);
    for (size_t i = first; i < n; i++) {
        if (is_role(&msgs[i], "ipython") || is_role(&msgs[i], "tool")) {
            put_str(o, L3_HEADER_START "ipython" L3_HEADER_END);
            put_json_string(o, msgs[i].content);
            put_str(o, L3_EOT);
        } else {
            put_llama3_message(o, msgs[i].role, msgs[i].content);
        }
    }
    if (gen) put_llama3_generation_prompt(o);
    return 0;
}

/* The first user turn with the system text folded in: the template strips
 * "<<SYS>>\n" + sys + "\n<</SYS>>\n\n" + user as one string, so a blank
 * user text strips back into the system block's trailing newlines. */
static void put_llama2_first_user(text_out *o, const char *sys, const char *user) {
    size_t n = strlen(user);
    size_t keep = n - lc_chat_trail_space(user, n);
    put_str(o, "<<SYS>>\n");
    put_str(o, sys);
    if (keep == 0) {
        put_str(o, "\n<</SYS>>");
        return;
    }
    put_str(o, "\n<</SYS>>\n\n");
    put_bytes(o, user, keep);
}

/* Llama 2 Chat / CodeLlama Instruct: an optional first system message,
 * then strictly user, assistant, user, ... Each user turn is
 * "<s>[INST] {text} [/INST]" and each answer " {text} </s>". */
static int render_llama2(const llamac_chat_message *msgs, size_t n, bool gen, text_out *o,
                         llamac_error *err) {
    (void)gen; /* the prompt already ends with [/INST]: nothing to add */
    const char *sys = NULL;
    size_t first = 0;
    if (is_role(&msgs[0], "system")) {
        sys = msgs[0].content;
        first = 1;
    }
    for (size_t i = first; i < n; i++) {
        const char *want = (i - first) % 2 == 0 ? "user" : "assistant";
        if (!is_role(&msgs[i], want))
            return lc_fail(err,
                           "chat template llama2: message %zu has role '%s' where '%s' was "
                           "expected (roles must alternate user/assistant after an optional "
                           "first system message)",
                           i, msgs[i].role, want);
        if (want[0] == 'u') {
            put_str(o, "<s>[INST] ");
            if (i == first && sys) put_llama2_first_user(o, sys, msgs[i].content);
            else put_stripped(o, msgs[i].content);
            put_str(o, " [/INST]");
        } else {
            put_str(o, " ");
            put_stripped(o, msgs[i].content);
            put_str(o, " </s>");
        }
    }
    return 0;
}

typedef int (*render_fn)(const llamac_chat_message *, size_t, bool, text_out *, llamac_error *);

/* One row per template: its name and its renderer, in the same order. */
static const char *const TEMPLATE_NAMES[] = {"llama3", "llama3.1", "llama2"};
static const render_fn RENDERERS[] = {render_llama3, render_llama31, render_llama2};
#define N_TEMPLATES (sizeof TEMPLATE_NAMES / sizeof TEMPLATE_NAMES[0])
_Static_assert(sizeof RENDERERS / sizeof RENDERERS[0] == N_TEMPLATES, "one renderer per name");

const char *const *llamac_chat_template_names(size_t *n) {
    if (n) *n = N_TEMPLATES;
    return TEMPLATE_NAMES;
}

/* Index of the template called `name`, or -1. */
static int find_template(const char *name) {
    for (size_t i = 0; name && i < N_TEMPLATES; i++)
        if (strcmp(TEMPLATE_NAMES[i], name) == 0) return (int)i;
    return -1;
}

int64_t llamac_chat_render(const char *name, const llamac_chat_message *msgs, size_t n,
                           bool add_generation_prompt, char *buf, size_t size,
                           llamac_error *err) {
    int t = find_template(name);
    if (t < 0) {
        char known[128] = "";
        size_t used = 0;
        for (size_t i = 0; i < N_TEMPLATES && used < sizeof known; i++)
            used += (size_t)snprintf(known + used, sizeof known - used, "%s%s", i ? ", " : "",
                                     TEMPLATE_NAMES[i]);
        return lc_fail(err, "unknown chat template '%s' (known: %s)", name ? name : "(null)",
                       known);
    }
    if (check_messages(TEMPLATE_NAMES[t], msgs, n, err) < 0) return -1;
    text_out o = {buf, buf ? size : 0, 0};
    if (RENDERERS[t](msgs, n, add_generation_prompt, &o, err) < 0) return -1;
    return finish(&o);
}

/* ------------------------------------------------------------- detection */

static bool contains(const char *text, size_t len, const char *needle) {
    return memmem(text, len, needle, strlen(needle)) != NULL;
}

const char *lc_chat_template_detect_text(const char *text, size_t len) {
    if (!text) return NULL;
    if (contains(text, len, "<|start_header_id|>") && contains(text, len, "<|end_header_id|>"))
        return contains(text, len, "Cutting Knowledge Date") ? "llama3.1" : "llama3";
    if (contains(text, len, "[INST]") && contains(text, len, "<<SYS>>")) return "llama2";
    return NULL;
}
