#include "convert/safetensors.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/err.h"
#include "runtime/file.h"

/* Bounds on the header's JSON, checked by a cheap scan before cJSON builds
 * a node for each value (about 100 bytes of memory per value, so a header
 * of a long array of zeros would take twenty times its size). A real
 * header nests three deep (the root, a tensor entry, its shape or
 * data_offsets), has no array longer than a shape, and about eleven
 * values per tensor (the value limit leaves room for 90k tensors in one
 * file, where real checkpoints have a few thousand at most). */
#define ST_MAX_DEPTH 3
#define ST_MAX_ARRAY (LC_ST_MAX_DIMS + 1) /* one more, so a 5-D shape is named as such */
#define ST_MAX_VALUES (1u << 20)
/* Offsets arrive as JSON numbers (doubles): beyond 2^53 they are inexact. */
#define ST_MAX_EXACT 9007199254740992.0

static const struct {
    const char *name;
    size_t size;
} st_dtypes[LC_ST_DTYPE_COUNT] = {
    [LC_ST_BOOL] = {"BOOL", 1}, [LC_ST_U8] = {"U8", 1},     [LC_ST_I8] = {"I8", 1},
    [LC_ST_I16] = {"I16", 2},   [LC_ST_U16] = {"U16", 2},   [LC_ST_F16] = {"F16", 2},
    [LC_ST_BF16] = {"BF16", 2}, [LC_ST_I32] = {"I32", 4},   [LC_ST_U32] = {"U32", 4},
    [LC_ST_F32] = {"F32", 4},   [LC_ST_F64] = {"F64", 8},   [LC_ST_I64] = {"I64", 8},
    [LC_ST_U64] = {"U64", 8},   [LC_ST_F8_E4M3] = {"F8_E4M3", 1},
    [LC_ST_F8_E5M2] = {"F8_E5M2", 1},
};

const char *lc_st_dtype_name(int dtype) {
    return dtype >= 0 && dtype < LC_ST_DTYPE_COUNT ? st_dtypes[dtype].name : "?";
}

size_t lc_st_dtype_size(int dtype) {
    return dtype >= 0 && dtype < LC_ST_DTYPE_COUNT ? st_dtypes[dtype].size : 0;
}

int lc_st_dtype_to_ggml(int dtype) {
    switch (dtype) {
    case LC_ST_F32: return 0;   /* LC_TYPE_F32 */
    case LC_ST_F16: return 1;   /* LC_TYPE_F16 */
    case LC_ST_BF16: return 30; /* LC_TYPE_BF16 */
    default: return -1;
    }
}

static int st_dtype_from_name(const char *s) {
    for (int i = 0; i < LC_ST_DTYPE_COUNT; i++)
        if (strcmp(st_dtypes[i].name, s) == 0) return i;
    return -1;
}

/* ------------------------------------------------------------ containers */

static void st_free_tensors(lc_st_tensor *t, size_t n) {
    for (size_t i = 0; i < n; i++) free(t[i].name);
    free(t);
}

void lc_safetensors_close(lc_safetensors *st) {
    if (!st) return;
    for (int i = 0; i < st->n_files; i++) {
        lc_st_file *f = &st->files[i];
        if (f->map) munmap((void *)f->map, f->size);
        if (f->fd >= 0) close(f->fd);
        free(f->path);
    }
    free(st->files);
    free(st->by_name);
    st_free_tensors(st->tensors, st->n_tensors);
    free(st);
}

/* Appends `n` tensors (taking ownership of their names) to st. */
static int st_append_tensors(lc_safetensors *st, lc_st_tensor *t, size_t n, llamac_error *err) {
    lc_st_tensor *grown = realloc(st->tensors, (st->n_tensors + n + 1) * sizeof *grown);
    if (!grown) return lc_fail(err, "out of memory for %zu tensor entries", st->n_tensors + n);
    memcpy(grown + st->n_tensors, t, n * sizeof *t);
    st->tensors = grown;
    st->n_tensors += n;
    return 0;
}

/* Maps `path` and adds it as a file of st; returns its index. */
static int st_map_file(lc_safetensors *st, const char *path, llamac_error *err) {
    lc_st_file *grown = realloc(st->files, (size_t)(st->n_files + 1) * sizeof *grown);
    if (!grown) return lc_fail(err, "%s: out of memory", path);
    st->files = grown;
    lc_st_file *f = &st->files[st->n_files];
    memset(f, 0, sizeof *f);
    f->fd = -1;
    f->path = strdup(path);
    st->n_files++;
    if (!f->path) return lc_fail(err, "%s: out of memory", path);
    f->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (f->fd < 0) return lc_fail(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(f->fd, &sb) != 0) return lc_fail(err, "%s: cannot stat: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode)) return lc_fail(err, "%s: not a regular file", path);
    if (sb.st_size < 8)
        return lc_fail(err, "%s: file is %lld bytes, too small for the 8-byte header length",
                       path, (long long)sb.st_size);
    f->size = (size_t)sb.st_size;
    void *m = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, f->fd, 0);
    if (m == MAP_FAILED) return lc_fail(err, "%s: mmap failed: %s", path, strerror(errno));
    f->map = m;
    /* Tensors are read once, front to back: let the kernel read ahead. */
    madvise(m, f->size, MADV_SEQUENTIAL);
    return st->n_files - 1;
}

/* ------------------------------------------------------- header parsing */

static bool json_exact_u64(const cJSON *n, uint64_t *out) {
    if (!cJSON_IsNumber(n)) return false;
    double d = n->valuedouble;
    if (!(d >= 0.0) || d > ST_MAX_EXACT || d != (double)(uint64_t)d) return false;
    *out = (uint64_t)d;
    return true;
}

static int st_parse_shape(const char *path, const char *name, const cJSON *shape,
                          lc_st_tensor *t, uint64_t *numel, llamac_error *err) {
    if (!cJSON_IsArray(shape))
        return lc_fail(err, "%s: tensor '%s': \"shape\" is missing or not an array", path, name);
    int n = cJSON_GetArraySize(shape);
    if (n > LC_ST_MAX_DIMS)
        return lc_fail(err, "%s: tensor '%s': %d dimensions (at most %d supported)", path, name,
                       n, LC_ST_MAX_DIMS);
    uint64_t count = 1;
    int i = 0;
    const cJSON *d;
    cJSON_ArrayForEach(d, shape) {
        uint64_t v;
        if (!json_exact_u64(d, &v) || v > (uint64_t)INT64_MAX)
            return lc_fail(err, "%s: tensor '%s': shape[%d] is not a non-negative integer",
                           path, name, i);
        if (v != 0 && count > UINT64_MAX / v)
            return lc_fail(err, "%s: tensor '%s': element count overflows", path, name);
        count *= v;
        t->shape[i++] = (int64_t)v;
    }
    t->n_dims = n;
    *numel = count;
    return 0;
}

static int st_parse_entry(const char *path, const cJSON *e, uint64_t buf_size,
                          lc_st_tensor *t, uint64_t *begin, llamac_error *err) {
    const char *name = e->string;
    if (!cJSON_IsObject(e)) return lc_fail(err, "%s: tensor '%s': entry is not an object", path, name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    if (!cJSON_IsString(dt))
        return lc_fail(err, "%s: tensor '%s': \"dtype\" is missing or not a string", path, name);
    t->dtype = st_dtype_from_name(dt->valuestring);
    if (t->dtype < 0)
        return lc_fail(err, "%s: tensor '%s': unknown dtype \"%s\"", path, name, dt->valuestring);
    uint64_t numel = 0;
    if (st_parse_shape(path, name, cJSON_GetObjectItemCaseSensitive(e, "shape"), t, &numel, err))
        return -1;
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    uint64_t b, en;
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 ||
        !json_exact_u64(cJSON_GetArrayItem(offs, 0), &b) ||
        !json_exact_u64(cJSON_GetArrayItem(offs, 1), &en))
        return lc_fail(err, "%s: tensor '%s': \"data_offsets\" must be two non-negative integers",
                       path, name);
    if (en < b)
        return lc_fail(err, "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 ") end before they begin",
                       path, name, b, en);
    if (en > buf_size)
        return lc_fail(err,
                       "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 ") run past the %" PRIu64
                       "-byte data buffer (file truncated?)",
                       path, name, b, en, buf_size);
    size_t esize = lc_st_dtype_size(t->dtype);
    if (numel > UINT64_MAX / esize || numel * esize != en - b)
        return lc_fail(err,
                       "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 ") hold %" PRIu64
                       " bytes but shape x %s needs %" PRIu64 " elements x %zu bytes",
                       path, name, b, en, en - b, lc_st_dtype_name(t->dtype), numel, esize);
    *begin = b;
    t->nbytes = en - b;
    return 0;
}

static int cmp_tensor_name(const void *a, const void *b) {
    const lc_st_tensor *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

static int cmp_tensor_offset(const void *a, const void *b) {
    const lc_st_tensor *const *x = a, *const *y = b;
    uint64_t xa = (*x)->file_offset, ya = (*y)->file_offset;
    if (xa != ya) return xa < ya ? -1 : 1;
    return (*x)->nbytes < (*y)->nbytes ? -1 : (*x)->nbytes > (*y)->nbytes;
}

/* cJSON keeps duplicate keys as separate children, so uniqueness has to be
 * checked by hand. */
static int st_check_unique(const char *path, lc_st_tensor **by, size_t n, llamac_error *err) {
    qsort(by, n, sizeof *by, cmp_tensor_name);
    for (size_t i = 1; i < n; i++)
        if (strcmp(by[i - 1]->name, by[i]->name) == 0)
            return lc_fail(err, "%s: tensor '%s' is listed twice in the header", path, by[i]->name);
    return 0;
}

/* The format requires the tensors to tile the data buffer exactly. */
static int st_check_coverage(const char *path, lc_st_tensor **by, size_t n, uint64_t data_start,
                             uint64_t buf_size, llamac_error *err) {
    qsort(by, n, sizeof *by, cmp_tensor_offset);
    uint64_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t b = by[i]->file_offset - data_start;
        if (b < pos)
            return lc_fail(err, "%s: tensor '%s' at data offset %" PRIu64 " overlaps '%s'", path,
                           by[i]->name, b, by[i - 1]->name);
        if (b > pos)
            return lc_fail(err, "%s: %" PRIu64 "-byte hole in the data buffer before tensor '%s' (data offset %" PRIu64 ")",
                           path, b - pos, by[i]->name, pos);
        pos = b + by[i]->nbytes;
    }
    if (pos != buf_size)
        return lc_fail(err, "%s: data buffer has %" PRIu64 " bytes but the tensors cover only %" PRIu64,
                       path, buf_size, pos);
    return 0;
}

static int st_check_layout(const char *path, lc_st_tensor *t, size_t n, uint64_t data_start,
                           uint64_t buf_size, llamac_error *err) {
    lc_st_tensor **by = malloc((n + 1) * sizeof *by);
    if (!by) return lc_fail(err, "%s: out of memory", path);
    for (size_t i = 0; i < n; i++) by[i] = &t[i];
    int rc = st_check_unique(path, by, n, err);
    if (rc == 0) rc = st_check_coverage(path, by, n, data_start, buf_size, err);
    free(by);
    return rc;
}

static int st_check_trailer(const char *path, const char *hdr, uint64_t len, const char *end,
                            llamac_error *err) {
    for (const char *p = end; p < hdr + len; p++)
        if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t')
            return lc_fail(err, "%s: unexpected byte 0x%02x after the JSON header at offset %td",
                           path, (unsigned char)*p, 8 + (p - hdr));
    return 0;
}

/* A string of the header, from its opening quote at *i; leaves *i on the
 * closing quote. Raw control bytes are not JSON (cJSON would keep them),
 * and "\u0000" would cut a tensor name short in cJSON's NUL-terminated
 * copy, so that two different names could meet. */
static int st_scan_string(const char *path, const char *hdr, uint64_t len, uint64_t *i,
                          llamac_error *err) {
    for (uint64_t k = *i + 1; k < len; k++) {
        unsigned char c = (unsigned char)hdr[k];
        if (c == '"') {
            *i = k;
            return 0;
        }
        if (c < 0x20)
            return lc_fail(err, "%s: %s byte 0x%02x inside a JSON string of the header at offset %" PRIu64,
                           path, c ? "control" : "NUL", c, 8 + k);
        if (c != '\\') continue;
        if (len - k > 5 && memcmp(hdr + k + 1, "u0000", 5) == 0)
            return lc_fail(err, "%s: \"\\u0000\" inside a JSON string of the header at offset %" PRIu64,
                           path, 8 + k);
        k++; /* the escaped character: a quote there does not end the string */
    }
    return lc_fail(err, "%s: unterminated JSON string in the header", path);
}

/* Checks the ST_MAX_* bounds and refuses NUL bytes (cJSON skips them as
 * whitespace), all before any JSON node exists. Brackets that do not match
 * are left for cJSON to report. */
static int st_prescan_header(const char *path, const char *hdr, uint64_t len, llamac_error *err) {
    int depth = 0;
    bool in_array[ST_MAX_DEPTH + 1] = {false};
    uint32_t elements[ST_MAX_DEPTH + 1] = {0};
    uint32_t values = 0;
    for (uint64_t i = 0; i < len; i++) {
        char c = hdr[i];
        if (c == '"') {
            if (st_scan_string(path, hdr, len, &i, err)) return -1;
        } else if (c == 0) {
            return lc_fail(err, "%s: NUL byte in the JSON header at offset %" PRIu64, path, 8 + i);
        } else if (c == '{' || c == '[') {
            if (depth == ST_MAX_DEPTH)
                return lc_fail(err, "%s: the JSON header nests deeper than %d levels at offset %" PRIu64,
                               path, ST_MAX_DEPTH, 8 + i);
            depth++;
            in_array[depth] = c == '[';
            elements[depth] = 1;
        } else if (c == '}' || c == ']') {
            if (depth > 0) depth--;
        } else if (c == ',' && depth > 0 && in_array[depth] && ++elements[depth] > ST_MAX_ARRAY) {
            return lc_fail(err, "%s: a JSON array of the header has more than %d elements (offset %" PRIu64 ")",
                           path, ST_MAX_ARRAY, 8 + i);
        }
        if ((c == ',' || c == ':' || c == '[' || c == '{') && ++values > ST_MAX_VALUES)
            return lc_fail(err, "%s: the JSON header holds more than %u values (offset %" PRIu64 ")", path,
                           ST_MAX_VALUES, 8 + i);
    }
    return 0;
}

/* Parses the header of the file at index fi and appends its tensors. */
static int st_parse_file(lc_safetensors *st, int fi, llamac_error *err) {
    const lc_st_file *f = &st->files[fi];
    uint64_t hlen;
    memcpy(&hlen, f->map, 8);
    if (hlen > f->size - 8)
        return lc_fail(err, "%s: header length %" PRIu64 " at offset 0 runs past the end of the file (%zu bytes)",
                       f->path, hlen, f->size);
    if (hlen > LC_ST_MAX_HEADER)
        return lc_fail(err, "%s: header length %" PRIu64 " exceeds the %u-byte limit", f->path, hlen,
                       LC_ST_MAX_HEADER);
    const char *hdr = (const char *)f->map + 8;
    if (hlen < 2 || hdr[0] != '{')
        return lc_fail(err, "%s: header at offset 8 is not a JSON object", f->path);
    if (st_prescan_header(f->path, hdr, hlen, err)) return -1;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(hdr, (size_t)hlen, &end, 0);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return lc_fail(err, "%s: header is not valid JSON (near offset %td)", f->path,
                       8 + ((end ? end : cJSON_GetErrorPtr()) - hdr));
    }
    if (st_check_trailer(f->path, hdr, hlen, end, err)) {
        cJSON_Delete(root);
        return -1;
    }
    uint64_t data_start = 8 + hlen, buf_size = f->size - data_start;
    size_t cap = (size_t)cJSON_GetArraySize(root);
    lc_st_tensor *t = calloc(cap + 1, sizeof *t);
    size_t n = 0;
    int rc = t ? 0 : lc_fail(err, "%s: out of memory", f->path);
    const cJSON *e;
    cJSON_ArrayForEach(e, root) {
        if (rc) break;
        if (strcmp(e->string, "__metadata__") == 0) {
            if (!cJSON_IsObject(e)) rc = lc_fail(err, "%s: \"__metadata__\" is not an object", f->path);
            continue;
        }
        lc_st_tensor *cur = &t[n];
        uint64_t begin = 0;
        rc = st_parse_entry(f->path, e, buf_size, cur, &begin, err);
        if (rc) break;
        cur->name = strdup(e->string);
        if (!cur->name) { rc = lc_fail(err, "%s: out of memory", f->path); break; }
        cur->file_offset = data_start + begin;
        cur->data = f->map + cur->file_offset;
        cur->file_index = fi;
        n++;
    }
    cJSON_Delete(root);
    if (rc == 0) rc = st_check_layout(f->path, t, n, data_start, buf_size, err);
    if (rc == 0) rc = st_append_tensors(st, t, n, err);
    if (rc == 0) free(t); /* names now owned by st */
    else st_free_tensors(t, n);
    return rc;
}

/* Sorts the tensors by name into st->by_name, once all files are read (the
 * tensor array does not move after that); names must be unique across
 * shards too. */
static int st_build_index(lc_safetensors *st, llamac_error *err) {
    const lc_st_tensor **by = malloc((st->n_tensors + 1) * sizeof *by);
    if (!by) return lc_fail(err, "out of memory");
    for (size_t i = 0; i < st->n_tensors; i++) by[i] = &st->tensors[i];
    qsort(by, st->n_tensors, sizeof *by, cmp_tensor_name);
    st->by_name = by;
    for (size_t i = 1; i < st->n_tensors; i++)
        if (strcmp(by[i - 1]->name, by[i]->name) == 0)
            return lc_fail(err, "tensor '%s' appears in both %s and %s", by[i]->name,
                           st->files[by[i - 1]->file_index].path, st->files[by[i]->file_index].path);
    return 0;
}

/* Tensor names, dtypes and shard names come from the files and may hold
 * any byte (JSON allows "\n"); a control character would break the
 * one-line message format, so failures leave with them replaced by '?'. */
static int st_fail_one_line(llamac_error *err) {
    if (err)
        for (char *c = err->msg; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = '?';
    return -1;
}

static lc_safetensors *st_new(llamac_error *err) {
    lc_safetensors *st = calloc(1, sizeof *st);
    if (!st) lc_fail(err, "out of memory");
    return st;
}

static int st_add_file(lc_safetensors *st, const char *path, llamac_error *err) {
    int fi = st_map_file(st, path, err);
    if (fi < 0) return -1;
    return st_parse_file(st, fi, err);
}

int lc_safetensors_open_file(const char *path, lc_safetensors **out, llamac_error *err) {
    *out = NULL;
    lc_safetensors *st = st_new(err);
    if (!st) return -1;
    if (st_add_file(st, path, err) || st_build_index(st, err)) {
        lc_safetensors_close(st);
        return st_fail_one_line(err);
    }
    *out = st;
    return 0;
}

const lc_st_tensor *lc_safetensors_find(const lc_safetensors *st, const char *name) {
    size_t lo = 0, hi = st->n_tensors;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(st->by_name[mid]->name, name);
        if (c == 0) return st->by_name[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

/* ------------------------------------------------------------- folders */

static char *path_join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static bool file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}


/* Finds or adds the shard `name`; returns its file index. */
static int st_shard_index(lc_safetensors *st, const char *dir, const char *name,
                          const char *index_path, llamac_error *err) {
    if (name[0] == 0 || strchr(name, '/') || strcmp(name, "..") == 0)
        return lc_fail(err, "%s: weight_map names \"%s\", which is not a file in the folder",
                       index_path, name);
    char *path = path_join(dir, name);
    if (!path) return lc_fail(err, "out of memory");
    for (int i = 0; i < st->n_files; i++)
        if (strcmp(st->files[i].path, path) == 0) {
            free(path);
            return i;
        }
    int before = st->n_files;
    int rc = st_add_file(st, path, err);
    free(path);
    return rc ? -1 : before;
}

static int st_check_weight_map(const lc_safetensors *st, const cJSON *map, const char *index_path,
                               llamac_error *err) {
    const cJSON *e;
    cJSON_ArrayForEach(e, map) {
        const lc_st_tensor *t = lc_safetensors_find(st, e->string);
        if (!t)
            return lc_fail(err, "%s: tensor '%s' is not in shard %s", index_path, e->string,
                           e->valuestring);
        const char *shard = strrchr(st->files[t->file_index].path, '/');
        if (strcmp(shard ? shard + 1 : st->files[t->file_index].path, e->valuestring) != 0)
            return lc_fail(err, "%s: tensor '%s' is mapped to %s but found in %s", index_path,
                           e->string, e->valuestring, st->files[t->file_index].path);
    }
    return 0;
}

static int st_open_index(lc_safetensors *st, const char *dir, const char *index_path,
                         llamac_error *err) {
    char *text = lc_read_file(index_path, LC_ST_MAX_HEADER, NULL, NULL, err);
    if (!text) return -1;
    cJSON *root = cJSON_Parse(text);
    free(text);
    const cJSON *map = root ? cJSON_GetObjectItemCaseSensitive(root, "weight_map") : NULL;
    int rc = 0;
    if (!root) rc = lc_fail(err, "%s: not valid JSON", index_path);
    else if (!cJSON_IsObject(map) || !map->child)
        rc = lc_fail(err, "%s: \"weight_map\" is missing or empty", index_path);
    const cJSON *e;
    if (rc == 0) cJSON_ArrayForEach(e, map) {
        if (!cJSON_IsString(e)) {
            rc = lc_fail(err, "%s: weight_map entry '%s' is not a file name", index_path, e->string);
            break;
        }
        if (st_shard_index(st, dir, e->valuestring, index_path, err) < 0) { rc = -1; break; }
    }
    if (rc == 0) rc = st_build_index(st, err);
    if (rc == 0) rc = st_check_weight_map(st, map, index_path, err);
    cJSON_Delete(root);
    return rc;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool has_suffix(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Without an index: every *.safetensors file, in name order. */
static int st_open_glob(lc_safetensors *st, const char *dir, llamac_error *err) {
    DIR *d = opendir(dir);
    if (!d) return lc_fail(err, "%s: cannot open folder: %s", dir, strerror(errno));
    char **names = NULL;
    size_t n = 0;
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || !has_suffix(de->d_name, ".safetensors")) continue;
        char **grown = realloc(names, (n + 1) * sizeof *grown);
        if (!grown || !(grown[n] = strdup(de->d_name))) {
            if (grown) names = grown;
            rc = lc_fail(err, "out of memory");
            break;
        }
        names = grown;
        n++;
    }
    closedir(d);
    if (rc == 0 && n == 0)
        rc = lc_fail(err, "%s: no model.safetensors, model.safetensors.index.json or *.safetensors file",
                     dir);
    if (rc == 0) qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *path = path_join(dir, names[i]);
        rc = path ? st_add_file(st, path, err) : lc_fail(err, "out of memory");
        free(path);
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    if (rc == 0) rc = st_build_index(st, err);
    return rc;
}

int lc_safetensors_open_dir(const char *dir, lc_safetensors **out, llamac_error *err) {
    *out = NULL;
    lc_safetensors *st = st_new(err);
    if (!st) return -1;
    char *index = path_join(dir, "model.safetensors.index.json");
    char *single = path_join(dir, "model.safetensors");
    int rc;
    if (!index || !single) rc = lc_fail(err, "out of memory");
    else if (file_exists(index)) rc = st_open_index(st, dir, index, err);
    else if (file_exists(single)) rc = st_add_file(st, single, err) || st_build_index(st, err) ? -1 : 0;
    else rc = st_open_glob(st, dir, err);
    free(index);
    free(single);
    if (rc) {
        lc_safetensors_close(st);
        return st_fail_one_line(err);
    }
    *out = st;
    return 0;
}
