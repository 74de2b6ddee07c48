/* safetensors reader (docs/formats.md "safetensors"): every file is mmapped read-only and
 * its JSON header validated strictly before any tensor is handed out, so
 * the converter can trust that each tensor's bytes lie inside the mapping.
 * A checkpoint folder is either one model.safetensors or a set of shards
 * named by model.safetensors.index.json. */
#ifndef LC_SAFETENSORS_H
#define LC_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "llamac.h"

#define LC_ST_MAX_DIMS 4

/* The dtypes of the format; only F32, F16 and BF16 can be converted. */
enum lc_st_dtype {
    LC_ST_BOOL, LC_ST_U8, LC_ST_I8, LC_ST_I16, LC_ST_U16, LC_ST_F16, LC_ST_BF16,
    LC_ST_I32, LC_ST_U32, LC_ST_F32, LC_ST_F64, LC_ST_I64, LC_ST_U64,
    LC_ST_F8_E4M3, LC_ST_F8_E5M2, LC_ST_DTYPE_COUNT
};

typedef struct lc_st_tensor {
    char *name;
    int dtype;                      /* enum lc_st_dtype */
    int n_dims;
    int64_t shape[LC_ST_MAX_DIMS];  /* row-major (PyTorch) order */
    const uint8_t *data;            /* inside the file's mapping */
    uint64_t nbytes;
    uint64_t file_offset;           /* absolute offset in its file */
    int file_index;                 /* into lc_safetensors.files */
} lc_st_tensor;

typedef struct lc_st_file {
    char *path;
    int fd;
    const uint8_t *map;
    size_t size;
} lc_st_file;

typedef struct lc_safetensors {
    lc_st_file *files;
    int n_files;
    lc_st_tensor *tensors;
    size_t n_tensors;
    /* The tensors sorted by name, built once when the checkpoint is
     * opened: lookups are a binary search (a crafted checkpoint cannot
     * make them slower, as it could collide names in a hash table). */
    const lc_st_tensor **by_name;
} lc_safetensors;

/* Largest JSON header accepted. The format's own readers allow 100 MB, but
 * cJSON spends about ten times the text on nodes, and a real header is far
 * smaller (about 150 bytes per tensor: 16 MiB holds 100k tensors, where a
 * 405B-parameter checkpoint has a few thousand). The same limit applies to
 * model.safetensors.index.json. */
#define LC_ST_MAX_HEADER (16u << 20)

/* Opens the checkpoint in `dir`: model.safetensors.index.json when present
 * (every shard it names, each tensor checked to be in the shard the index
 * says), else model.safetensors, else every *.safetensors file in the
 * folder. Tensor names must be unique across all files. */
int lc_safetensors_open_dir(const char *dir, lc_safetensors **out, llamac_error *err);
/* Opens a single file. */
int lc_safetensors_open_file(const char *path, lc_safetensors **out, llamac_error *err);
void lc_safetensors_close(lc_safetensors *st);

const lc_st_tensor *lc_safetensors_find(const lc_safetensors *st, const char *name);
const char *lc_st_dtype_name(int dtype);
size_t lc_st_dtype_size(int dtype);
/* The ggml type id of a convertible dtype (F32/F16/BF16), else -1. */
int lc_st_dtype_to_ggml(int dtype);

#endif
