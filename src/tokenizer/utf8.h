/* UTF-8 helpers shared by the tokenizers and the streaming detokenizer. */
#ifndef LC_UTF8_H
#define LC_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Length of a character from its lead byte's top nibble, the way
 * llama.cpp splits text into symbols: 0x0-0xB -> 1, 0xC-0xD -> 2, 0xE -> 3,
 * 0xF -> 4. Stray continuation bytes count as one-byte characters. */
static inline size_t lc_utf8_lead_len(uint8_t c) {
    static const uint8_t len[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return len[c >> 4];
}

/* Encodes a code point (<= 0x10FFFF) into out; returns 1..4. */
size_t lc_utf8_encode(uint32_t cp, char out[4]);

/* Strict decoding of the character at s[0..n) (no overlongs, no
 * surrogates, nothing above U+10FFFF). Returns:
 *   k > 0  a valid k-byte character, stored in *cp;
 *   0      a valid but incomplete prefix (more bytes could complete it);
 *   -k     an invalid sequence whose maximal valid prefix is k bytes long,
 *          to be replaced by one U+FFFD (Unicode's recommended practice). */
int lc_utf8_decode(const uint8_t *s, size_t n, uint32_t *cp);

#endif
