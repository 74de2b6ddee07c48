/* UTF-8 helpers shared by the tokenizers and the streaming detokenizer. */
#ifndef LC_UTF8_H
#define LC_UTF8_H

#include <stddef.h>
#include <stdint.h>

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
