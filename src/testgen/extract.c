/* Code out of a model's reply. Instruct models wrap code in Markdown fences
 * with prose around it; a grammar-constrained reply is bare code. */
#include <stdlib.h>
#include <string.h>

#include "testgen/testgen.h"

static bool starts_with(const char *s, const char *p) { return !strncmp(s, p, strlen(p)); }

/* Whether a fence's info string is this language (or absent). */
static bool fence_matches(const char *info, size_t n, tg_lang lang) {
    while (n && (info[n - 1] == ' ' || info[n - 1] == '\r')) n--;
    if (n == 0) return true;
    static const char *c_tags[] = {"c", "C", "cpp", "c++", "cmocka"};
    static const char *py_tags[] = {"python", "py", "python3", "Python"};
    const char **tags = lang == TG_LANG_C ? c_tags : py_tags;
    size_t count = lang == TG_LANG_C ? 5 : 4;
    for (size_t i = 0; i < count; i++)
        if (strlen(tags[i]) == n && !strncmp(info, tags[i], n)) return true;
    return false;
}

/* Every fenced block of the language, concatenated; NULL when none. */
static char *fenced_blocks(const char *reply, tg_lang lang) {
    tg_buf b = {0};
    bool found = false;
    const char *p = reply;
    while ((p = strstr(p, "```"))) {
        const char *info = p + 3;
        const char *nl = strchr(info, '\n');
        if (!nl) break;
        const char *body = nl + 1;
        const char *close = strstr(body, "```");
        const char *end = close ? close : body + strlen(body);
        if (fence_matches(info, (size_t)(nl - info), lang)) {
            tg_buf_add(&b, body, (size_t)(end - body));
            if (b.len && b.s[b.len - 1] != '\n') tg_buf_puts(&b, "\n");
            found = true;
        }
        if (!close) break;
        p = close + 3;
    }
    if (!found) {
        tg_buf_free(&b);
        return NULL;
    }
    return tg_buf_take(&b);
}

static bool looks_like_code(const char *line, tg_lang lang) {
    static const char *c_starts[] = {"#include", "static ", "void ", "int ", "/*", "//", "typedef ", "#define",
                                     "struct ", "const ", "unsigned ", "double ", "char ", "bool "};
    static const char *py_starts[] = {"import ", "from ", "def ", "@", "class ", "# ", "assert "};
    const char **s = lang == TG_LANG_C ? c_starts : py_starts;
    size_t n = lang == TG_LANG_C ? sizeof c_starts / sizeof *c_starts : sizeof py_starts / sizeof *py_starts;
    for (size_t i = 0; i < n; i++)
        if (starts_with(line, s[i])) return true;
    return false;
}

/* Unfenced: from the first line that looks like code. For Python, stop at
 * the first unindented line that does not (prose after the code); C keeps
 * the rest, since the parser takes only whole definitions out of it. */
static char *bare_code(const char *reply, tg_lang lang) {
    tg_buf b = {0};
    bool in_code = false;
    for (const char *p = reply; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) + 1 : strlen(p);
        if (!in_code && looks_like_code(p, lang)) in_code = true;
        if (in_code && lang == TG_LANG_PYTHON && n > 1 && p[0] != ' ' && p[0] != '\t' && p[0] != '\n' &&
            p[0] != '\r' && !looks_like_code(p, lang) && p[0] != ')' && p[0] != ']' && p[0] != '}')
            break;
        if (in_code) tg_buf_add(&b, p, n);
        p += n;
    }
    return tg_buf_take(&b);
}

char *tg_extract_code(const char *reply, tg_lang lang) {
    char *code = fenced_blocks(reply, lang);
    return code ? code : bare_code(reply, lang);
}
