/* A small JSON Schema validator for the keywords the converter supports,
 * written straight from the keyword meanings (not from the converter), so
 * tests can check generated JSON against the schema it was generated for. */
#ifndef LC_SCHEMA_VALIDATE_H
#define LC_SCHEMA_VALIDATE_H

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdbool.h>
#include <string.h>

static bool sv_valid(const cJSON *doc, const cJSON *schema, const cJSON *v);

static size_t sv_code_points(const char *s) {
    size_t n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static bool sv_digits(const char *s, int n) {
    for (int i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i])) return false;
    return true;
}

static bool sv_date(const char *s) {
    if (strlen(s) < 10 || !sv_digits(s, 4) || s[4] != '-' || !sv_digits(s + 5, 2) || s[7] != '-' || !sv_digits(s + 8, 2))
        return false;
    int month = (s[5] - '0') * 10 + s[6] - '0', day = (s[8] - '0') * 10 + s[9] - '0';
    return month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

/* hh:mm:ss[.frac](Z|+hh:mm|-hh:mm); the whole string */
static bool sv_time(const char *s) {
    if (strlen(s) < 9 || !sv_digits(s, 2) || s[2] != ':' || !sv_digits(s + 3, 2) || s[5] != ':' || !sv_digits(s + 6, 2))
        return false;
    if ((s[0] - '0') * 10 + s[1] - '0' > 23 || s[3] > '5' || s[6] > '5') return false;
    s += 8;
    if (*s == '.') {
        s++;
        if (!isdigit((unsigned char)*s)) return false;
        while (isdigit((unsigned char)*s)) s++;
    }
    if (!strcmp(s, "Z")) return true;
    return (s[0] == '+' || s[0] == '-') && strlen(s) == 6 && sv_digits(s + 1, 2) && s[3] == ':' && sv_digits(s + 4, 2);
}

static bool sv_uuid(const char *s) {
    if (strlen(s) != 36) return false;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i])) return false;
    }
    return true;
}

static bool sv_type_is(const cJSON *v, const char *t) {
    if (!strcmp(t, "string")) return cJSON_IsString(v);
    if (!strcmp(t, "number")) return cJSON_IsNumber(v);
    if (!strcmp(t, "integer")) return cJSON_IsNumber(v) && v->valuedouble == (double)(long long)v->valuedouble;
    if (!strcmp(t, "boolean")) return cJSON_IsBool(v);
    if (!strcmp(t, "null")) return cJSON_IsNull(v);
    if (!strcmp(t, "array")) return cJSON_IsArray(v);
    if (!strcmp(t, "object")) return cJSON_IsObject(v);
    return false;
}

static bool sv_valid(const cJSON *doc, const cJSON *schema, const cJSON *v) {
    if (cJSON_IsBool(schema)) return cJSON_IsTrue(schema);
    const cJSON *k;
    if ((k = cJSON_GetObjectItemCaseSensitive(schema, "$ref"))) {
        const char *ref = k->valuestring;
        const char *name = !strncmp(ref, "#/$defs/", 8) ? ref + 8 : ref + 14;
        const cJSON *defs = cJSON_GetObjectItemCaseSensitive(doc, !strncmp(ref, "#/$defs/", 8) ? "$defs" : "definitions");
        return sv_valid(doc, cJSON_GetObjectItemCaseSensitive(defs, name), v);
    }
    if ((k = cJSON_GetObjectItemCaseSensitive(schema, "anyOf"))) {
        const cJSON *s;
        cJSON_ArrayForEach(s, k) if (sv_valid(doc, s, v)) return true;
        return false;
    }
    if ((k = cJSON_GetObjectItemCaseSensitive(schema, "oneOf"))) {
        int n = 0;
        const cJSON *s;
        cJSON_ArrayForEach(s, k) n += sv_valid(doc, s, v);
        return n == 1;
    }
    if ((k = cJSON_GetObjectItemCaseSensitive(schema, "const"))) return cJSON_Compare(k, v, true);
    if ((k = cJSON_GetObjectItemCaseSensitive(schema, "enum"))) {
        const cJSON *e;
        cJSON_ArrayForEach(e, k) if (cJSON_Compare(e, v, true)) return true;
        return false;
    }
    if ((k = cJSON_GetObjectItemCaseSensitive(schema, "type"))) {
        bool ok = false;
        if (cJSON_IsString(k)) ok = sv_type_is(v, k->valuestring);
        const cJSON *t;
        if (cJSON_IsArray(k)) cJSON_ArrayForEach(t, k) ok = ok || sv_type_is(v, t->valuestring);
        if (!ok) return false;
    }
    if (cJSON_IsString(v)) {
        size_t n = sv_code_points(v->valuestring);
        if ((k = cJSON_GetObjectItemCaseSensitive(schema, "minLength")) && n < (size_t)k->valuedouble) return false;
        if ((k = cJSON_GetObjectItemCaseSensitive(schema, "maxLength")) && n > (size_t)k->valuedouble) return false;
        if ((k = cJSON_GetObjectItemCaseSensitive(schema, "format"))) {
            const char *f = k->valuestring, *s = v->valuestring;
            if (!strcmp(f, "date") && !(strlen(s) == 10 && sv_date(s))) return false;
            if (!strcmp(f, "time") && !sv_time(s)) return false;
            if (!strcmp(f, "date-time") && !(sv_date(s) && s[10] == 'T' && sv_time(s + 11))) return false;
            if (!strcmp(f, "uuid") && !sv_uuid(s)) return false;
        }
    }
    if (cJSON_IsArray(v)) {
        int n = cJSON_GetArraySize(v);
        if ((k = cJSON_GetObjectItemCaseSensitive(schema, "minItems")) && n < (int)k->valuedouble) return false;
        if ((k = cJSON_GetObjectItemCaseSensitive(schema, "maxItems")) && n > (int)k->valuedouble) return false;
        if ((k = cJSON_GetObjectItemCaseSensitive(schema, "items"))) {
            const cJSON *item;
            cJSON_ArrayForEach(item, v) if (!sv_valid(doc, k, item)) return false;
        }
    }
    if (cJSON_IsObject(v)) {
        const cJSON *props = cJSON_GetObjectItemCaseSensitive(schema, "properties");
        const cJSON *add = cJSON_GetObjectItemCaseSensitive(schema, "additionalProperties");
        const cJSON *req = cJSON_GetObjectItemCaseSensitive(schema, "required"), *r;
        cJSON_ArrayForEach(r, req) if (!cJSON_GetObjectItemCaseSensitive(v, r->valuestring)) return false;
        const cJSON *m;
        cJSON_ArrayForEach(m, v) {
            const cJSON *p = props ? cJSON_GetObjectItemCaseSensitive(props, m->string) : NULL;
            if (p) {
                if (!sv_valid(doc, p, m)) return false;
            } else if (add) {
                if (!sv_valid(doc, add, m)) return false;
            } else if (props) {
                return false; /* the converter's default: no other keys next to properties */
            }
        }
    }
    return true;
}

#endif
