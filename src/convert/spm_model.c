/* A small protobuf reader for sentencepiece's ModelProto: only the fields listed in
 * docs/formats.md "sentencepiece tokenizer.model" are read, everything else is skipped by wire type.
 * Every length is checked against the bytes left, so a truncated or
 * hostile file is an error naming the byte offset, never a crash. */
#include "convert/spm_model.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/err.h"
#include "runtime/file.h"
#include "tokenizer/vocab.h"

#define SPM_MAX_FILE ((long)1 << 30)

typedef struct pb_reader {
    const uint8_t *p;
    size_t end; /* one past the last byte of the current message */
    size_t pos;
    const char *path;
} pb_reader;

enum { WT_VARINT = 0, WT_FIXED64 = 1, WT_BYTES = 2, WT_FIXED32 = 5 };

static int read_varint(pb_reader *r, uint64_t *out, llamac_error *err) {
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (r->pos >= r->end)
            return lc_fail(err, "%s: truncated varint at byte %zu", r->path, r->pos);
        uint8_t b = r->p[r->pos++];
        v |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return lc_fail(err, "%s: varint longer than 10 bytes at byte %zu", r->path, r->pos);
}

/* A length-delimited field: a sub-reader over its bytes. */
static int read_bytes(pb_reader *r, pb_reader *sub, llamac_error *err) {
    uint64_t len;
    size_t at = r->pos;
    if (read_varint(r, &len, err) < 0) return -1;
    if (len > r->end - r->pos)
        return lc_fail(err, "%s: field at byte %zu has length %llu, only %zu bytes left", r->path,
                       at, (unsigned long long)len, r->end - r->pos);
    *sub = (pb_reader){r->p, r->pos + (size_t)len, r->pos, r->path};
    r->pos += (size_t)len;
    return 0;
}

static int read_fixed32(pb_reader *r, uint32_t *out, llamac_error *err) {
    if (r->end - r->pos < 4)
        return lc_fail(err, "%s: truncated fixed32 at byte %zu", r->path, r->pos);
    const uint8_t *b = r->p + r->pos;
    *out = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    r->pos += 4;
    return 0;
}

static int skip_field(pb_reader *r, int wire, llamac_error *err) {
    uint64_t v;
    pb_reader sub;
    switch (wire) {
    case WT_VARINT: return read_varint(r, &v, err);
    case WT_BYTES: return read_bytes(r, &sub, err);
    case WT_FIXED32:
    case WT_FIXED64: {
        size_t n = wire == WT_FIXED32 ? 4 : 8;
        if (r->end - r->pos < n)
            return lc_fail(err, "%s: truncated fixed field at byte %zu", r->path, r->pos);
        r->pos += n;
        return 0;
    }
    default:
        return lc_fail(err, "%s: unsupported protobuf wire type %d at byte %zu", r->path, wire,
                       r->pos);
    }
}

static int read_key(pb_reader *r, uint32_t *field, int *wire, llamac_error *err) {
    uint64_t key;
    if (read_varint(r, &key, err) < 0) return -1;
    if ((key >> 3) == 0 || (key >> 3) > UINT32_MAX)
        return lc_fail(err, "%s: invalid protobuf field number at byte %zu", r->path, r->pos);
    *field = (uint32_t)(key >> 3);
    *wire = (int)(key & 7);
    return 0;
}

/* A field read with the wrong wire type is a format error, not a skip. */
static int expect_wire(const pb_reader *r, uint32_t field, int wire, int want, const char *name,
                       llamac_error *err) {
    if (wire == want) return 0;
    return lc_fail(err, "%s: %s (field %u) has wire type %d, expected %d, before byte %zu",
                   r->path, name, field, wire, want, r->pos);
}

/* ------------------------------------------------------------ the model */

typedef struct spm_piece {
    const uint8_t *text;
    size_t len;
    float score;
    int type;
} spm_piece;

typedef struct spm_model {
    spm_piece *pieces;
    size_t n, cap;
    int64_t model_type; /* trainer_spec.model_type: UNIGRAM 1 (default), BPE 2 */
    int64_t unk_id, bos_id, eos_id, pad_id;
    bool treat_whitespace_as_suffix;
    bool add_dummy_prefix;
} spm_model;

static int parse_piece(pb_reader *r, spm_piece *out, llamac_error *err) {
    *out = (spm_piece){(const uint8_t *)"", 0, 0.0f, 1};
    while (r->pos < r->end) {
        uint32_t field;
        int wire;
        uint64_t v = 0;
        uint32_t bits = 0;
        pb_reader sub;
        if (read_key(r, &field, &wire, err) < 0) return -1;
        if (field == 1) {
            if (expect_wire(r, field, wire, WT_BYTES, "SentencePiece.piece", err) < 0 ||
                read_bytes(r, &sub, err) < 0)
                return -1;
            out->text = sub.p + sub.pos;
            out->len = sub.end - sub.pos;
        } else if (field == 2) {
            if (expect_wire(r, field, wire, WT_FIXED32, "SentencePiece.score", err) < 0 ||
                read_fixed32(r, &bits, err) < 0)
                return -1;
            memcpy(&out->score, &bits, sizeof out->score);
        } else if (field == 3) {
            if (expect_wire(r, field, wire, WT_VARINT, "SentencePiece.type", err) < 0 ||
                read_varint(r, &v, err) < 0)
                return -1;
            out->type = v >= 1 && v <= 6 ? (int)v : -1;
            if (out->type < 0)
                return lc_fail(err, "%s: SentencePiece.type %llu before byte %zu is not 1..6",
                               r->path, (unsigned long long)v, r->pos);
        } else if (skip_field(r, wire, err) < 0) {
            return -1;
        }
    }
    return 0;
}

static int add_piece(spm_model *m, pb_reader *r, llamac_error *err) {
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 1024;
        spm_piece *p = realloc(m->pieces, cap * sizeof *p);
        if (!p) return lc_fail(err, "%s: out of memory for pieces", r->path);
        m->pieces = p;
        m->cap = cap;
    }
    if (m->n >= INT32_MAX) return lc_fail(err, "%s: too many pieces", r->path);
    pb_reader sub;
    if (read_bytes(r, &sub, err) < 0) return -1;
    return parse_piece(&sub, &m->pieces[m->n++], err);
}

/* int32 fields: negative values arrive as 10-byte two's complement. */
static int64_t as_int32(uint64_t v) { return (int64_t)(int32_t)(uint32_t)v; }

static int parse_trainer_spec(pb_reader *r, spm_model *m, llamac_error *err) {
    while (r->pos < r->end) {
        uint32_t field;
        int wire;
        uint64_t v = 0;
        if (read_key(r, &field, &wire, err) < 0) return -1;
        bool known = field == 3 || field == 24 || (field >= 40 && field <= 43);
        if (!known) {
            if (skip_field(r, wire, err) < 0) return -1;
            continue;
        }
        if (expect_wire(r, field, wire, WT_VARINT, "TrainerSpec field", err) < 0 ||
            read_varint(r, &v, err) < 0)
            return -1;
        switch (field) {
        case 3: m->model_type = as_int32(v); break;
        case 24: m->treat_whitespace_as_suffix = v != 0; break;
        case 40: m->unk_id = as_int32(v); break;
        case 41: m->bos_id = as_int32(v); break;
        case 42: m->eos_id = as_int32(v); break;
        default: m->pad_id = as_int32(v); break;
        }
    }
    return 0;
}

static int parse_normalizer_spec(pb_reader *r, spm_model *m, llamac_error *err) {
    while (r->pos < r->end) {
        uint32_t field;
        int wire;
        uint64_t v = 0;
        if (read_key(r, &field, &wire, err) < 0) return -1;
        if (field != 3) {
            if (skip_field(r, wire, err) < 0) return -1;
            continue;
        }
        if (expect_wire(r, field, wire, WT_VARINT, "NormalizerSpec.add_dummy_prefix", err) < 0 ||
            read_varint(r, &v, err) < 0)
            return -1;
        m->add_dummy_prefix = v != 0;
    }
    return 0;
}

static int parse_model(pb_reader *r, spm_model *m, llamac_error *err) {
    while (r->pos < r->end) {
        uint32_t field;
        int wire;
        pb_reader sub;
        if (read_key(r, &field, &wire, err) < 0) return -1;
        if (field < 1 || field > 3) {
            if (skip_field(r, wire, err) < 0) return -1;
            continue;
        }
        if (expect_wire(r, field, wire, WT_BYTES, "ModelProto field", err) < 0) return -1;
        if (field == 1) {
            if (add_piece(m, r, err) < 0) return -1;
            continue;
        }
        if (read_bytes(r, &sub, err) < 0) return -1;
        int rc = field == 2 ? parse_trainer_spec(&sub, m, err) : parse_normalizer_spec(&sub, m, err);
        if (rc < 0) return -1;
    }
    return 0;
}

/* convert_hf_to_gguf keeps UNKNOWN, CONTROL, UNUSED and BYTE and calls
 * everything else (NORMAL, USER_DEFINED) NORMAL. */
static int32_t gguf_type_of(int spm_type) {
    return spm_type == 4 ? LC_TOKEN_NORMAL : spm_type;
}

static int32_t id_or_absent(int64_t id, size_t n) {
    return id >= 0 && (uint64_t)id < n ? (int32_t)id : -1;
}

static int to_data(const spm_model *m, const char *path, lc_tokenizer_data *d, llamac_error *err) {
    if (m->n == 0) return lc_fail(err, "%s: ModelProto has no pieces", path);
    if (m->model_type != 2)
        return lc_fail(err, "%s: trainer_spec.model_type is %lld; only BPE (2) sentencepiece "
                            "models are supported", path, (long long)m->model_type);
    if (m->treat_whitespace_as_suffix)
        return lc_fail(err, "%s: trainer_spec.treat_whitespace_as_suffix is not supported", path);
    if (lc_tokenizer_data_alloc_tokens(d, (int32_t)m->n, 1, err) < 0) return -1;
    for (size_t i = 0; i < m->n; i++) {
        const spm_piece *p = &m->pieces[i];
        /* What the vocabulary loader refuses, refused here with the piece's
         * index, so that convert never writes a file that does not load. */
        if (!isfinite(p->score))
            return lc_fail(err, "%s: piece %zu has a non-finite score", path, i);
        if (p->type == LC_TOKEN_BYTE && lc_vocab_byte_token_value((const char *)p->text, p->len) < 0)
            return lc_fail(err, "%s: piece %zu has type BYTE but its text is not of the form <0xXX>", path, i);
        if (lc_tokenizer_data_set_token(d, (int32_t)i, (const char *)p->text, p->len, err) < 0)
            return -1;
        d->scores[i] = p->score;
        d->token_types[i] = gguf_type_of(p->type);
    }
    if (lc_tokenizer_data_set_string(&d->model, "llama", 5, err) < 0 ||
        lc_tokenizer_data_set_string(&d->pre, "default", 7, err) < 0)
        return -1;
    d->unk_id = id_or_absent(m->unk_id, m->n);
    d->bos_id = id_or_absent(m->bos_id, m->n);
    d->eos_id = id_or_absent(m->eos_id, m->n);
    d->pad_id = id_or_absent(m->pad_id, m->n);
    /* Only a difference from llama.cpp's default (a space prefix) is written. */
    if (!m->add_dummy_prefix) d->add_space_prefix = 0;
    return 0;
}


int lc_tokenizer_data_from_spm_model(const char *path, lc_tokenizer_data *out,
                                     llamac_error *err) {
    lc_tokenizer_data_init(out);
    size_t size;
    uint8_t *buf = (uint8_t *)lc_read_file(path, SPM_MAX_FILE, &size, NULL, err);
    if (!buf) return -1;
    spm_model m = {NULL, 0, 0, 1, 0, 1, 2, -1, false, true};
    pb_reader r = {buf, size, 0, path};
    int rc = parse_model(&r, &m, err);
    if (rc == 0) rc = to_data(&m, path, out, err);
    free(m.pieces);
    free(buf);
    if (rc < 0) lc_tokenizer_data_free(out);
    return rc;
}
