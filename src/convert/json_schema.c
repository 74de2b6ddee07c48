/* JSON Schema -> GBNF text for the engine's grammar parser. It lives in the
 * conversion library because it reads JSON (cJSON); the engine core only
 * ever sees the GBNF it writes.
 *
 * Supported (anything else is an error that names the keyword and where it
 * is): type (one or a list), properties, required, additionalProperties,
 * items, minItems, maxItems, enum, const, anyOf, oneOf, $ref to #/$defs/..
 * or #/definitions/.., minLength, maxLength, format (date, time,
 * date-time, uuid), and the annotations listed in `annotations` below.
 *
 * Choices that differ from plain JSON Schema, as in llama.cpp's converter:
 * with `properties`, other keys are refused unless additionalProperties is
 * true or a schema; the required keys come first in schema order, then the
 * optional ones, each at most once in schema order. oneOf is written as
 * anyOf (the grammar does not check that only one branch matches).
 * Additional keys are any other names, written without escapes. Whitespace between tokens is at
 * most one space or a newline with a little indentation, so a model cannot
 * pad forever. {"type": "object"} alone is any JSON object; {} any value. */
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llamac.h"
#include "runtime/err.h"

#define MAX_DEPTH 64

typedef struct buf {
    char *s;
    size_t len, cap;
    bool oom;
} buf;

typedef struct conv {
    const cJSON *doc;
    buf out;
    char **names; /* rule names used so far */
    size_t n_names, cap_names;
    char **refs;  /* $ref strings already given a rule, parallel to ref_rules */
    char **ref_rules;
    size_t n_refs, cap_refs;
    bool need_value, need_string, need_number, need_integer, need_char, need_key_char;
    int depth;
    llamac_error *err;
    bool failed;
} conv;

static void put(buf *b, const char *fmt, ...) LC_PRINTF(2, 3);
static void put(buf *b, const char *fmt, ...) {
    if (b->oom) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (b->len + (size_t)n + 1 > b->cap) {
        size_t c = b->cap ? b->cap : 1024;
        while (b->len + (size_t)n + 1 > c) c *= 2;
        char *s = realloc(b->s, c);
        if (!s) {
            b->oom = true;
            return;
        }
        b->s = s;
        b->cap = c;
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static bool fail(conv *c, const char *path, const char *fmt, const char *arg) {
    if (!c->failed) {
        char what[256];
        snprintf(what, sizeof what, fmt, arg);
        lc_fail(c->err, "JSON schema at %s: %s", path[0] ? path : "#", what);
        c->failed = true;
    }
    return false;
}

/* A GBNF string literal of UTF-8 text. */
static void put_literal(buf *b, const char *text) {
    put(b, "\"");
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p == '"' || *p == '\\') put(b, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f) put(b, "\\x%02X", *p);
        else put(b, "%c", *p);
    }
    put(b, "\"");
}

/* A new rule name from a hint: [a-zA-Z0-9-] only, unique. */
static char *new_name(conv *c, const char *hint) {
    char base[64];
    size_t n = 0;
    for (const char *p = hint; *p && n < 40; p++)
        base[n++] = ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')) ? *p : '-';
    if (n == 0) base[n++] = 'r';
    base[n] = 0;
    char name[80];
    snprintf(name, sizeof name, "%s", base);
    for (int k = 2;; k++) {
        bool taken = false;
        for (size_t i = 0; i < c->n_names && !taken; i++) taken = !strcmp(c->names[i], name);
        /* names of the built-in rules are reserved */
        static const char *const builtin[] = {"space", "value", "object", "array", "string", "char",
                                              "number", "integer", "boolean", "null", "hex", NULL};
        for (int i = 0; builtin[i] && !taken; i++) taken = !strcmp(builtin[i], name);
        if (!taken) break;
        snprintf(name, sizeof name, "%s-%d", base, k);
    }
    if (c->n_names == c->cap_names) {
        size_t cap = c->cap_names ? c->cap_names * 2 : 32;
        char **nn = realloc(c->names, cap * sizeof *nn);
        if (!nn) return NULL;
        c->names = nn;
        c->cap_names = cap;
    }
    char *copy = strdup(name);
    if (!copy) return NULL;
    c->names[c->n_names++] = copy;
    return copy;
}

static bool is_keyword(const char *k, const char *const *list) {
    for (int i = 0; list[i]; i++)
        if (!strcmp(k, list[i])) return true;
    return false;
}

static const char *const annotations[] = {"title", "description", "$schema", "$id", "$comment", "default",
                                          "examples", "$defs", "definitions", "readOnly", "writeOnly",
                                          "deprecated", NULL};
static const char *const supported[] = {"type", "properties", "required", "additionalProperties", "items",
                                        "minItems", "maxItems", "enum", "const", "anyOf", "oneOf", "$ref",
                                        "minLength", "maxLength", "format", NULL};

static bool gen(conv *c, const cJSON *schema, const char *rule, const char *path);

/* A rule for a sub-schema; returns its name (owned by c->names) or NULL. */
static const char *gen_sub(conv *c, const cJSON *schema, const char *hint, const char *path) {
    char *name = new_name(c, hint);
    if (!name) return fail(c, path, "%sout of memory", ""), NULL;
    if (++c->depth > MAX_DEPTH) return fail(c, path, "%snested more than 64 deep", ""), NULL;
    bool ok = gen(c, schema, name, path);
    c->depth--;
    return ok ? name : NULL;
}

static const cJSON *resolve_ref(conv *c, const char *ref, const char *path) {
    const char *name = NULL;
    const cJSON *defs = NULL;
    if (!strncmp(ref, "#/$defs/", 8)) name = ref + 8, defs = cJSON_GetObjectItemCaseSensitive(c->doc, "$defs");
    else if (!strncmp(ref, "#/definitions/", 14))
        name = ref + 14, defs = cJSON_GetObjectItemCaseSensitive(c->doc, "definitions");
    else return fail(c, path, "$ref '%s' is not supported (only #/$defs/NAME and #/definitions/NAME)", ref), NULL;
    const cJSON *target = defs ? cJSON_GetObjectItemCaseSensitive(defs, name) : NULL;
    if (!target) return fail(c, path, "$ref '%s' points at nothing", ref), NULL;
    return target;
}

/* The rule for a $ref: made once, so recursive schemas work. */
static const char *gen_ref(conv *c, const char *ref, const char *path) {
    for (size_t i = 0; i < c->n_refs; i++)
        if (!strcmp(c->refs[i], ref)) return c->ref_rules[i];
    const cJSON *target = resolve_ref(c, ref, path);
    if (!target) return NULL;
    const char *slash = strrchr(ref, '/');
    char *name = new_name(c, slash + 1);
    if (!name) return fail(c, path, "%sout of memory", ""), NULL;
    if (c->n_refs == c->cap_refs) {
        size_t cap = c->cap_refs ? c->cap_refs * 2 : 16;
        char **r = realloc(c->refs, cap * sizeof *r);
        if (r) c->refs = r;
        char **rr = realloc(c->ref_rules, cap * sizeof *rr);
        if (rr) c->ref_rules = rr;
        if (!r || !rr) return fail(c, path, "%sout of memory", ""), NULL;
        c->cap_refs = cap;
    }
    c->refs[c->n_refs] = strdup(ref);
    if (!c->refs[c->n_refs]) return fail(c, path, "%sout of memory", ""), NULL;
    c->ref_rules[c->n_refs++] = name;
    if (++c->depth > MAX_DEPTH) return fail(c, path, "%snested more than 64 deep", ""), NULL;
    bool ok = gen(c, target, name, ref);
    c->depth--;
    return ok ? name : NULL;
}

static bool get_count(conv *c, const cJSON *schema, const char *key, const char *path, long *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(schema, key);
    if (!v) return true;
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble != (double)(long)v->valuedouble)
        return fail(c, path, "'%s' must be a non-negative integer", key);
    if (v->valuedouble > 10000) return fail(c, path, "'%s' above 10000 is not supported", key);
    *out = (long)v->valuedouble;
    return true;
}

static bool gen_string(conv *c, const cJSON *schema, const char *path) {
    const cJSON *format = cJSON_GetObjectItemCaseSensitive(schema, "format");
    long min = 0, max = -1;
    if (!get_count(c, schema, "minLength", path, &min) || !get_count(c, schema, "maxLength", path, &max)) return false;
    if (format) {
        if (!cJSON_IsString(format)) return fail(c, path, "%s'format' must be a string", "");
        if (min != 0 || max != -1) return fail(c, path, "%s'format' together with minLength/maxLength is not supported", "");
        static const char date[] = "[0-9]{4} \"-\" ( \"0\" [1-9] | \"1\" [0-2] ) \"-\" ( \"0\" [1-9] | [12] [0-9] | \"3\" [01] )";
        static const char time[] = "( [01] [0-9] | \"2\" [0-3] ) \":\" [0-5] [0-9] \":\" [0-5] [0-9] ( \".\" [0-9]{1,6} )? "
                                   "( \"Z\" | [+-] ( [01] [0-9] | \"2\" [0-3] ) \":\" [0-5] [0-9] )";
        const char *f = format->valuestring;
        if (!strcmp(f, "date")) put(&c->out, "\"\\\"\" %s \"\\\"\" space", date);
        else if (!strcmp(f, "time")) put(&c->out, "\"\\\"\" %s \"\\\"\" space", time);
        else if (!strcmp(f, "date-time")) put(&c->out, "\"\\\"\" %s \"T\" %s \"\\\"\" space", date, time);
        else if (!strcmp(f, "uuid"))
            put(&c->out, "\"\\\"\" hex{8} \"-\" hex{4} \"-\" hex{4} \"-\" hex{4} \"-\" hex{12} \"\\\"\" space");
        else return fail(c, path, "unsupported format '%s' (supported: date, time, date-time, uuid)", f);
        return true;
    }
    if (max >= 0 && max < min) return fail(c, path, "%smaxLength is below minLength", "");
    c->need_char = true;
    if (min == 0 && max < 0) put(&c->out, "\"\\\"\" char* \"\\\"\" space");
    else if (max < 0) put(&c->out, "\"\\\"\" char{%ld,} \"\\\"\" space", min);
    else put(&c->out, "\"\\\"\" char{%ld,%ld} \"\\\"\" space", min, max);
    return true;
}

static bool gen_array(conv *c, const cJSON *schema, const char *rule, const char *path) {
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(schema, "items");
    long min = 0, max = -1;
    if (!get_count(c, schema, "minItems", path, &min) || !get_count(c, schema, "maxItems", path, &max)) return false;
    if (max >= 0 && max < min) return fail(c, path, "%smaxItems is below minItems", "");
    const char *item = "value";
    if (items) {
        if (cJSON_IsArray(items)) return fail(c, path, "%s'items' as an array (tuples) is not supported", "");
        char hint[160], sub[512];
        snprintf(hint, sizeof hint, "%.60s-item", rule);
        snprintf(sub, sizeof sub, "%.400s/items", path);
        item = gen_sub(c, items, hint, sub);
        if (!item) return false;
    } else {
        c->need_value = true;
    }
    buf *o = &c->out;
    if (max == 0) {
        put(o, "\"[\" space \"]\" space");
    } else if (min == 0) {
        if (max < 0) put(o, "\"[\" space ( %s ( \",\" space %s )* )? \"]\" space", item, item);
        else put(o, "\"[\" space ( %s ( \",\" space %s ){0,%ld} )? \"]\" space", item, item, max - 1);
    } else {
        if (max < 0) put(o, "\"[\" space %s ( \",\" space %s ){%ld,} \"]\" space", item, item, min - 1);
        else put(o, "\"[\" space %s ( \",\" space %s ){%ld,%ld} \"]\" space", item, item, min - 1, max - 1);
    }
    return true;
}

static bool is_required(const cJSON *required, const char *key) {
    const cJSON *r;
    cJSON_ArrayForEach(r, required) if (cJSON_IsString(r) && !strcmp(r->valuestring, key)) return true;
    return false;
}

/* "key" space ":" space value, as a rule; returns its name. */
static const char *gen_member(conv *c, const cJSON *prop, const char *rule, const char *path) {
    char hint[160], sub[512];
    snprintf(hint, sizeof hint, "%.60s-%.60s", rule, prop->string);
    snprintf(sub, sizeof sub, "%.300s/properties/%.100s", path, prop->string);
    const char *value = gen_sub(c, prop, hint, sub);
    if (!value) return NULL;
    char *kv = new_name(c, hint);
    if (!kv) return fail(c, path, "%sout of memory", ""), NULL;
    char *json_key = cJSON_PrintUnformatted(&(cJSON){.type = cJSON_String, .valuestring = prop->string});
    if (!json_key) return fail(c, path, "%sout of memory", ""), NULL;
    put(&c->out, "%s ::= ", kv);
    put_literal(&c->out, json_key);
    put(&c->out, " space \":\" space %s\n", value);
    free(json_key);
    return kv;
}

/* Length of the UTF-8 character at s (1 for a stray byte). */
static size_t char_len(const char *s) {
    unsigned char c = (unsigned char)*s;
    size_t n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
    for (size_t i = 1; i < n; i++)
        if (!s[i]) return i;
    return n;
}

static uint32_t char_value(const char *s, size_t n) {
    uint32_t v = n == 1 ? (unsigned char)s[0] : (unsigned char)s[0] & (0x3F >> (n - 1));
    for (size_t i = 1; i < n; i++) v = (v << 6) | ((unsigned char)s[i] & 0x3F);
    return v;
}

/* A key that is none of keys[0..n), all sharing their first `off` bytes:
 * the trie of the known keys, where each node allows ending the key unless
 * a known key ends there, any other next character followed by anything,
 * or a known next character and the node below. Escapes are left out of
 * these keys, so an escaped spelling cannot sneak a known name in. */
static const char *gen_other_key(conv *c, const char *const *keys, size_t n, size_t off, const char *hint,
                                 const char *path) {
    char *name = new_name(c, hint);
    if (!name) return fail(c, path, "%sout of memory", ""), NULL;
    buf alts = {0};
    bool ends_here = false;
    put(&alts, "[^\"\\\\\\x00-\\x1F\\x7F");
    for (size_t i = 0; i < n; i++) {
        if (!keys[i][off]) {
            ends_here = true;
            continue;
        }
        size_t cl = char_len(keys[i] + off);
        put(&alts, "\\U%08X", char_value(keys[i] + off, cl));
    }
    put(&alts, "] key-char* \"\\\"\" space");
    if (!ends_here) put(&alts, " | \"\\\"\" space");
    /* one alternative per distinct next character */
    for (size_t i = 0; i < n; i++) {
        if (!keys[i][off]) continue;
        size_t cl = char_len(keys[i] + off);
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = keys[j][off] && char_len(keys[j] + off) == cl && !memcmp(keys[j] + off, keys[i] + off, cl);
        if (seen) continue;
        const char *sub[256];
        size_t m = 0;
        for (size_t j = i; j < n; j++)
            if (keys[j][off] && char_len(keys[j] + off) == cl && !memcmp(keys[j] + off, keys[i] + off, cl))
                sub[m++] = keys[j];
        const char *below = gen_other_key(c, sub, m, off + cl, hint, path);
        if (!below) {
            free(alts.s);
            return NULL;
        }
        put(&alts, " | \"\\U%08X\" %s", char_value(keys[i] + off, cl), below);
    }
    if (alts.oom) return free(alts.s), fail(c, path, "%sout of memory", ""), NULL;
    put(&c->out, "%s ::= %s\n", name, alts.s);
    free(alts.s);
    return name;
}

/* Objects: required keys in order, then optional ones (each at most once,
 * in order), then additional keys if allowed. With no required key the
 * first member present has no comma before it: R(i) ::= kv(i) C(i+1) |
 * R(i+1) picks the first, and C(j) ::= ("," kv(j))? C(j+1) the rest. */
static bool gen_object(conv *c, const cJSON *schema, const char *rule, const char *path) {
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(schema, "properties");
    const cJSON *required = cJSON_GetObjectItemCaseSensitive(schema, "required");
    const cJSON *additional = cJSON_GetObjectItemCaseSensitive(schema, "additionalProperties");
    if (props && !cJSON_IsObject(props)) return fail(c, path, "%s'properties' must be an object", "");
    if (required && !cJSON_IsArray(required)) return fail(c, path, "%s'required' must be an array", "");
    const cJSON *r;
    cJSON_ArrayForEach(r, required) {
        if (!cJSON_IsString(r)) return fail(c, path, "%s'required' must list strings", "");
        if (!props || !cJSON_GetObjectItemCaseSensitive(props, r->valuestring))
            return fail(c, path, "required key '%s' is not in 'properties'", r->valuestring);
    }
    if (!props && !additional) { /* any object */
        c->need_value = c->need_string = true;
        put(&c->out, "object");
        return true;
    }
    /* the value of an additional key, or NULL when none are allowed */
    const char *extra = NULL;
    if (additional && !cJSON_IsBool(additional)) {
        char hint[160], sub[512];
        snprintf(hint, sizeof hint, "%.60s-additional", rule);
        snprintf(sub, sizeof sub, "%.400s/additionalProperties", path);
        extra = gen_sub(c, additional, hint, sub);
        if (!extra) return false;
    } else if (cJSON_IsTrue(additional)) {
        c->need_value = true;
        extra = "value";
    }
    char *extra_kv = NULL;
    if (extra) {
        const char *known[256];
        size_t n_known = 0;
        const cJSON *p;
        cJSON_ArrayForEach(p, props) {
            if (n_known == 256) return fail(c, path, "%smore than 256 properties", "");
            known[n_known++] = p->string;
        }
        char hint[160];
        snprintf(hint, sizeof hint, "%.60s-other-key", rule);
        c->need_key_char = true;
        char *other = new_name(c, hint);
        const char *key = other ? gen_other_key(c, known, n_known, 0, hint, path) : NULL;
        if (!key) return fail(c, path, "%sout of memory", "");
        put(&c->out, "%s ::= \"\\\"\" %s\n", other, key);
        snprintf(hint, sizeof hint, "%.60s-extra-kv", rule);
        extra_kv = new_name(c, hint);
        if (!extra_kv) return fail(c, path, "%sout of memory", "");
        put(&c->out, "%s ::= %s \":\" space %s\n", extra_kv, other, extra);
    }
    const char *req[256], *opt[256];
    size_t n_req = 0, n_opt = 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, props) {
        if (n_req + n_opt == 256) return fail(c, path, "%smore than 256 properties", "");
        const char *kv = gen_member(c, p, rule, path);
        if (!kv) return false;
        if (is_required(required, p->string)) req[n_req++] = kv;
        else opt[n_opt++] = kv;
    }
    /* C(j) rules for the optional tail, built from the end */
    char tail_hint[160];
    snprintf(tail_hint, sizeof tail_hint, "%.60s-rest", rule);
    const char *after = NULL; /* C(n_opt): additional keys, or nothing */
    char *c_name = new_name(c, tail_hint);
    if (!c_name) return fail(c, path, "%sout of memory", "");
    if (extra_kv) put(&c->out, "%s ::= ( \",\" space %s )*\n", c_name, extra_kv);
    else put(&c->out, "%s ::= \"\"\n", c_name);
    after = c_name;
    const char *cs[257];
    cs[n_opt] = after;
    for (size_t j = n_opt; j-- > 0;) {
        char *n = new_name(c, tail_hint);
        if (!n) return fail(c, path, "%sout of memory", "");
        put(&c->out, "%s ::= ( \",\" space %s )? %s\n", n, opt[j], cs[j + 1]);
        cs[j] = n;
    }
    buf *o = &c->out;
    if (n_req > 0) {
        char body[4096];
        size_t at = 0;
        for (size_t i = 0; i < n_req && at < sizeof body; i++)
            at += (size_t)snprintf(body + at, sizeof body - at, "%s%s", i ? " \",\" space " : "", req[i]);
        if (at >= sizeof body) return fail(c, path, "%stoo many required properties", "");
        char *obj = new_name(c, rule);
        if (!obj) return fail(c, path, "%sout of memory", "");
        put(o, "%s ::= \"{\" space %s %s \"}\" space\n", obj, body, cs[0]);
        put(o, "%s", obj);
        return true;
    }
    /* R(i) chain: the first member present */
    const char *rs_next = NULL;
    char first_hint[160];
    snprintf(first_hint, sizeof first_hint, "%.60s-first", rule);
    char *r_end = new_name(c, first_hint);
    if (!r_end) return fail(c, path, "%sout of memory", "");
    if (extra_kv) put(o, "%s ::= ( %s ( \",\" space %s )* )?\n", r_end, extra_kv, extra_kv);
    else put(o, "%s ::= \"\"\n", r_end);
    rs_next = r_end;
    for (size_t i = n_opt; i-- > 0;) {
        char *n = new_name(c, first_hint);
        if (!n) return fail(c, path, "%sout of memory", "");
        put(o, "%s ::= %s %s | %s\n", n, opt[i], cs[i + 1], rs_next);
        rs_next = n;
    }
    char *obj = new_name(c, rule);
    if (!obj) return fail(c, path, "%sout of memory", "");
    put(o, "%s ::= \"{\" space %s \"}\" space\n", obj, rs_next);
    put(o, "%s", obj);
    return true;
}

/* One type's body (without the rule head). */
static bool gen_type(conv *c, const cJSON *schema, const char *type, const char *rule, const char *path) {
    buf *o = &c->out;
    if (!strcmp(type, "string")) return gen_string(c, schema, path);
    if (!strcmp(type, "integer")) return c->need_integer = true, put(o, "integer"), true;
    if (!strcmp(type, "number")) return c->need_number = true, put(o, "number"), true;
    if (!strcmp(type, "boolean")) return put(o, "( \"true\" | \"false\" ) space"), true;
    if (!strcmp(type, "null")) return put(o, "\"null\" space"), true;
    if (!strcmp(type, "array")) return gen_array(c, schema, rule, path);
    if (!strcmp(type, "object")) return gen_object(c, schema, rule, path);
    return fail(c, path, "unknown type '%s'", type);
}

/* The literal JSON text of a value, as a GBNF literal followed by space. */
static bool put_json_literal(conv *c, const cJSON *v, const char *path) {
    char *text = cJSON_PrintUnformatted(v);
    if (!text) return fail(c, path, "%sout of memory", "");
    put_literal(&c->out, text);
    put(&c->out, " space");
    free(text);
    return true;
}

/* Builds the rule `rule ::= ...` for a schema. Object and array bodies
 * write their helper rules first (between rules, never inside one). */
static bool gen(conv *c, const cJSON *schema, const char *rule, const char *path) {
    if (cJSON_IsTrue(schema)) {
        c->need_value = true;
        put(&c->out, "%s ::= value\n", rule);
        return true;
    }
    if (cJSON_IsFalse(schema)) return fail(c, path, "%sthe schema 'false' matches nothing", "");
    if (!cJSON_IsObject(schema)) return fail(c, path, "%sa schema must be an object or a boolean", "");
    const cJSON *k;
    cJSON_ArrayForEach(k, schema) {
        if (!is_keyword(k->string, annotations) && !is_keyword(k->string, supported))
            return fail(c, path, "unsupported JSON Schema keyword '%s'", k->string);
    }
    const cJSON *ref = cJSON_GetObjectItemCaseSensitive(schema, "$ref");
    const cJSON *any = cJSON_GetObjectItemCaseSensitive(schema, "anyOf");
    if (!any) any = cJSON_GetObjectItemCaseSensitive(schema, "oneOf");
    const cJSON *en = cJSON_GetObjectItemCaseSensitive(schema, "enum");
    const cJSON *cn = cJSON_GetObjectItemCaseSensitive(schema, "const");
    /* keywords that replace the whole value may not be mixed with others */
    const char *whole = ref ? "$ref" : any ? any->string : en ? "enum" : cn ? "const" : NULL;
    if (whole) {
        cJSON_ArrayForEach(k, schema)
            if (!is_keyword(k->string, annotations) && strcmp(k->string, whole) && strcmp(k->string, "type")) {
                char msg[160];
                snprintf(msg, sizeof msg, "'%s' together with '%s' is not supported", whole, k->string);
                return fail(c, path, "%s", msg);
            }
    }
    if (ref) {
        if (!cJSON_IsString(ref)) return fail(c, path, "%s'$ref' must be a string", "");
        const char *target = gen_ref(c, ref->valuestring, path);
        if (!target) return false;
        put(&c->out, "%s ::= %s\n", rule, target);
        return true;
    }
    if (any) {
        if (!cJSON_IsArray(any) || cJSON_GetArraySize(any) == 0)
            return fail(c, path, "'%s' must be a non-empty array", any->string);
        const char *alts[256];
        int n = 0;
        const cJSON *s;
        cJSON_ArrayForEach(s, any) {
            if (n == 256) return fail(c, path, "'%s' with more than 256 branches", any->string);
            char hint[160], sub[512];
            snprintf(hint, sizeof hint, "%.60s-%d", rule, n);
            snprintf(sub, sizeof sub, "%.400s/%s/%d", path, any->string, n);
            if (!(alts[n++] = gen_sub(c, s, hint, sub))) return false;
        }
        put(&c->out, "%s ::= ", rule);
        for (int i = 0; i < n; i++) put(&c->out, "%s%s", i ? " | " : "", alts[i]);
        put(&c->out, "\n");
        return true;
    }
    if (en || cn) {
        if (en && (!cJSON_IsArray(en) || cJSON_GetArraySize(en) == 0))
            return fail(c, path, "%s'enum' must be a non-empty array", "");
        put(&c->out, "%s ::= ", rule);
        if (cn) return put_json_literal(c, cn, path) && (put(&c->out, "\n"), true);
        const cJSON *v;
        bool first = true;
        cJSON_ArrayForEach(v, en) {
            if (!first) put(&c->out, " | ");
            first = false;
            if (!put_json_literal(c, v, path)) return false;
        }
        put(&c->out, "\n");
        return true;
    }
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(schema, "type");
    /* Bodies of object/array types write helper rules, so gather the body
     * of each type into its own rule first. */
    const char *types[8];
    int n_types = 0;
    if (!type) {
        if (cJSON_GetObjectItemCaseSensitive(schema, "properties") ||
            cJSON_GetObjectItemCaseSensitive(schema, "additionalProperties") ||
            cJSON_GetObjectItemCaseSensitive(schema, "required"))
            types[n_types++] = "object";
        else if (cJSON_GetObjectItemCaseSensitive(schema, "items") ||
                 cJSON_GetObjectItemCaseSensitive(schema, "minItems") ||
                 cJSON_GetObjectItemCaseSensitive(schema, "maxItems"))
            types[n_types++] = "array";
        else if (cJSON_GetObjectItemCaseSensitive(schema, "minLength") ||
                 cJSON_GetObjectItemCaseSensitive(schema, "maxLength") ||
                 cJSON_GetObjectItemCaseSensitive(schema, "format"))
            types[n_types++] = "string";
        else {
            c->need_value = true;
            put(&c->out, "%s ::= value\n", rule);
            return true;
        }
    } else if (cJSON_IsString(type)) {
        types[n_types++] = type->valuestring;
    } else if (cJSON_IsArray(type) && cJSON_GetArraySize(type) > 0) {
        const cJSON *t;
        cJSON_ArrayForEach(t, type) {
            if (!cJSON_IsString(t)) return fail(c, path, "%s'type' must list strings", "");
            if (n_types == 8) return fail(c, path, "%s'type' lists more than 8 types", "");
            types[n_types++] = t->valuestring;
        }
    } else {
        return fail(c, path, "%s'type' must be a string or a non-empty array of strings", "");
    }
    /* each type's body goes into a buffer of its own, then the rule */
    buf rule_line = {0};
    put(&rule_line, "%s ::= ", rule);
    for (int i = 0; i < n_types; i++) {
        buf outer = c->out;
        c->out = (buf){0};
        char sub_rule[96];
        snprintf(sub_rule, sizeof sub_rule, "%.60s%s%.20s", rule, n_types > 1 ? "-" : "", n_types > 1 ? types[i] : "");
        bool ok = gen_type(c, schema, types[i], sub_rule, path);
        /* c->out now holds helper rules ending with the body: split at the
         * last newline */
        buf body = c->out;
        c->out = outer;
        if (!ok || body.oom) {
            free(body.s);
            free(rule_line.s);
            return ok ? fail(c, path, "%sout of memory", "") : false;
        }
        size_t cut = 0;
        for (size_t j = 0; j < body.len; j++)
            if (body.s[j] == '\n') cut = j + 1;
        if (cut) put(&c->out, "%.*s", (int)cut, body.s);
        put(&rule_line, "%s( %.*s )", i ? " | " : "", (int)(body.len - cut), body.s + cut);
        free(body.s);
    }
    put(&c->out, "%s\n", rule_line.oom ? "" : rule_line.s);
    bool oom = rule_line.oom;
    free(rule_line.s);
    return oom ? fail(c, path, "%sout of memory", "") : true;
}

static void put_builtins(conv *c) {
    buf *o = &c->out;
    put(o, "space ::= ( \" \" | \"\\n\" [ ]{0,8} )?\n");
    if (c->need_value) c->need_string = c->need_number = true;
    if (c->need_value) {
        put(o, "value ::= object | array | string | number | ( \"true\" | \"false\" | \"null\" ) space\n");
        put(o, "object ::= \"{\" space ( string \":\" space value ( \",\" space string \":\" space value )* )? \"}\" space\n");
        put(o, "array ::= \"[\" space ( value ( \",\" space value )* )? \"]\" space\n");
    }
    if (c->need_string) {
        put(o, "string ::= \"\\\"\" char* \"\\\"\" space\n");
        c->need_char = true;
    }
    if (c->need_char)
        /* \u escapes of surrogates are left out: a lone one is not text */
        put(o, "char ::= [^\"\\\\\\x00-\\x1F\\x7F] | \"\\\\\" ( [\"\\\\/bfnrt] | \"u\" ( [0-9a-cA-Ce-fE-F] hex{3} | [dD] [0-7] hex{2} ) )\n");
    put(o, "hex ::= [0-9a-fA-F]\n");
    if (c->need_key_char) put(o, "key-char ::= [^\"\\\\\\x00-\\x1F\\x7F]\n");
    if (c->need_number) put(o, "number ::= \"-\"? ( \"0\" | [1-9] [0-9]{0,15} ) ( \".\" [0-9]{1,16} )? ( [eE] [-+]? [0-9]{1,3} )? space\n");
    if (c->need_integer) put(o, "integer ::= \"-\"? ( \"0\" | [1-9] [0-9]{0,15} ) space\n");
}

char *llamac_json_schema_to_gbnf(const char *schema_json, llamac_error *err) {
    if (!schema_json) {
        lc_fail(err, "no JSON schema");
        return NULL;
    }
    cJSON *doc = cJSON_Parse(schema_json);
    if (!doc) {
        const char *at = cJSON_GetErrorPtr();
        lc_fail(err, "JSON schema: not valid JSON (at byte %zu)",
                at && at >= schema_json ? (size_t)(at - schema_json) : (size_t)0);
        return NULL;
    }
    conv c = {.doc = doc, .err = err};
    const char *root = new_name(&c, "root");
    bool ok = root ? gen(&c, doc, root, "#") : fail(&c, "#", "%sout of memory", "");
    if (ok) put_builtins(&c);
    if (ok && c.out.oom) ok = fail(&c, "#", "%sout of memory", "");
    for (size_t i = 0; i < c.n_names; i++) free(c.names[i]);
    for (size_t i = 0; i < c.n_refs; i++) free(c.refs[i]);
    free(c.names);
    free(c.refs);
    free(c.ref_rules);
    cJSON_Delete(doc);
    if (!ok) {
        free(c.out.s);
        return NULL;
    }
    return c.out.s;
}

llamac_grammar *llamac_grammar_from_json_schema(const llamac_model *model, const char *schema_json,
                                                llamac_error *err) {
    char *gbnf = llamac_json_schema_to_gbnf(schema_json, err);
    if (!gbnf) return NULL;
    llamac_grammar *g = llamac_grammar_create(model, gbnf, "root", err);
    if (!g) lc_fail_prefix(err, "grammar from the JSON schema");
    free(gbnf);
    return g;
}
