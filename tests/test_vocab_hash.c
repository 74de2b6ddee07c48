/* The vocabulary's text table under crafted collisions (issue 18, finding
 * 4). The table used an unseeded hash that is a bijection on 8-byte texts,
 * so texts can be computed that all land in one slot: 40k of them (a 640 KB
 * vocab-only file) made loading and tokenizing quadratic, 75 s instead of
 * 0.2 s. This test computes 20k such texts for that old hash (its formula
 * is copied below as the attacker would), builds a vocabulary of them, and
 * bounds the number of slots visited to look every symbol up: a count, so
 * the bound cannot flake on a loaded machine. With the old hash the count
 * is about n^2/2 (2e8); with a seeded hash it is about 1.2 n. */
#include "test_util.h"
#include "tokenizer/tokenizer_data.h"
#include "tokenizer/vocab.h"
#include "tokenizer/vocab_internal.h"

enum { N_CRAFTED = 20000, TEXT_LEN = 8 };

static const uint64_t OLD_SEED = 0x9E3779B97F4A7C15ull, OLD_K1 = 0xFF51AFD7ED558CCDull,
                      OLD_K2 = 0xC4CEB9FE1A85EC53ull;

/* The old hash of an 8-byte text: one word step, then the empty tail. */
static uint64_t old_hash8(uint64_t w) {
    uint64_t h = (OLD_SEED ^ TEXT_LEN ^ w) * OLD_K1;
    h ^= h >> 32;
    h *= OLD_K2;
    return h ^ (h >> 29);
}

static uint64_t inverse_odd(uint64_t k) {
    uint64_t x = k; /* Newton's iteration doubles the correct low bits each step */
    for (int i = 0; i < 6; i++) x *= 2 - k * x;
    return x;
}

/* The text whose old hash is `out`: every step of old_hash8 is invertible. */
static uint64_t old_preimage(uint64_t out) {
    uint64_t h = out ^ (out >> 29) ^ (out >> 58);
    h *= inverse_odd(OLD_K2);
    h ^= h >> 32;
    h *= inverse_odd(OLD_K1);
    return h ^ OLD_SEED ^ TEXT_LEN;
}

static bool has_nul(uint64_t w) {
    for (int i = 0; i < 8; i++)
        if (((w >> (8 * i)) & 0xFF) == 0) return true;
    return false;
}

int main(void) {
    lc_tokenizer_data d;
    lc_tokenizer_data_init(&d);
    llamac_error err = {{0}};
    const int32_t n = 3 + N_CRAFTED;
    CHECK(lc_tokenizer_data_alloc_tokens(&d, n, 1, &err) == 0);
    CHECK(lc_tokenizer_data_set_string(&d.model, "llama", 5, &err) == 0);
    static const char *const specials[3] = {"<unk>", "<s>", "</s>"};
    for (int i = 0; i < 3; i++) {
        CHECK(lc_tokenizer_data_set_token(&d, i, specials[i], strlen(specials[i]), &err) == 0);
        d.token_types[i] = i == 0 ? LC_TOKEN_UNKNOWN : LC_TOKEN_CONTROL;
    }
    /* Old hashes with the low 20 bits zero: one home slot in any table of
     * up to 2^20 slots (this one has 2^16). */
    static uint64_t texts[N_CRAFTED];
    int32_t made = 0;
    for (uint64_t r = 1; made < N_CRAFTED; r++) {
        uint64_t w = old_preimage(r << 20);
        if (has_nul(w)) continue;
        if (old_hash8(w) != r << 20) {
            fprintf(stderr, "the preimage is wrong\n");
            return 1;
        }
        texts[made] = w;
        CHECK(lc_tokenizer_data_set_token(&d, 3 + made, (const char *)&texts[made], TEXT_LEN, &err) == 0);
        d.token_types[3 + made] = LC_TOKEN_NORMAL;
        made++;
    }

    lc_vocab *v = NULL;
    CHECKF(lc_vocab_create(&d, &v, &err) == 0, "%s", err.msg);
    if (v) {
        /* Every crafted text is found, under its own id. */
        bool all_found = true;
        for (int32_t i = 0; i < N_CRAFTED; i++)
            all_found &= lc_vocab_find(v, (const char *)&texts[i], TEXT_LEN) == 3 + i;
        CHECK(all_found);
        CHECK(lc_vocab_find(v, "<s>", 3) == 1 && lc_vocab_find(v, "nope", 4) < 0);
        uint64_t probes = lc_vocab_lookup_probes(v);
        fprintf(stderr, "%d crafted texts: %llu probes to look up all %d symbols\n", N_CRAFTED,
                (unsigned long long)probes, (int)n);
        /* Linear probing at load 0.3 averages 1.2 probes per key; 4 per key
         * is astronomically unlikely for a seeded hash and far below the
         * 1e4 per key that one crowded slot gives. */
        CHECKF(probes <= 4 * (uint64_t)n, "%llu probes for %d symbols", (unsigned long long)probes, (int)n);
    }
    lc_vocab_free(v);
    lc_tokenizer_data_free(&d);
    return TEST_SUMMARY("test_vocab_hash");
}
