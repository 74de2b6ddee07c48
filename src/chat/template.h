/* Chat templates: the internal entry points behind llamac_chat_* that work
 * on template text rather than a loaded model, so they can be tested and
 * reused (e.g. by the converter) without one. Formats: docs/formats.md "Chat templates". */
#ifndef LC_CHAT_TEMPLATE_H
#define LC_CHAT_TEMPLATE_H

#include <stddef.h>

/* The known template name whose distinctive markers `text` (a Jinja
 * chat_template, `len` bytes, not necessarily NUL-terminated) contains, or
 * NULL when none matches. */
const char *lc_chat_template_detect_text(const char *text, size_t len);

/* Length of the leading / trailing whitespace of s[0..n) in the sense of
 * Python's str.strip() (Unicode White_Space as str.isspace() sees it), which
 * is what Jinja's `trim` and `.strip()` apply. */
size_t lc_chat_lead_space(const char *s, size_t n);
size_t lc_chat_trail_space(const char *s, size_t n);

#endif
