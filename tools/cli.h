/* Helpers shared by the subcommands: strict number parsing, one-line
 * errors, and a progress bar that only draws when stderr is a terminal. */
#ifndef LLAMAC_CLI_H
#define LLAMAC_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "llamac.h"

/* Exit codes: 0 success, 1 runtime failure (bad file, I/O), 2 usage error. */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

/* Prints "llamac CMD: message" to stderr and returns `code`. */
int cli_error(const char *cmd, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Parse the whole string or fail with a message naming the option. */
bool cli_parse_i64(const char *cmd, const char *opt, const char *s, int64_t lo, int64_t hi, int64_t *out);
bool cli_parse_f32(const char *cmd, const char *opt, const char *s, float lo, float hi, float *out);
/* The value after an option, or NULL (after printing an error) if missing. */
const char *cli_value(const char *cmd, int argc, char **argv, int *i);

/* Sampling and context options shared by run and chat:
 * --temp --top-k --top-p --min-p --repeat-penalty --repeat-last-n --seed
 * --ctx --batch --kv-type -t/--threads, and --isa (the model's kernel table,
 * llamac_model_params.isa, checked when the model loads). Returns 1 when argv[*i] was one of
 * them (and consumed its value), 0 when it is not, -1 after printing a
 * usage error. */
int cli_engine_option(const char *cmd, int argc, char **argv, int *i, llamac_sampler_params *sp,
                      llamac_context_params *cp, const char **isa);
#define CLI_ENGINE_OPTIONS_HELP                                                               \
    "      --temp T            temperature; 0 = greedy (default 0.8)\n"                        \
    "      --top-k K           keep the K most likely tokens; 0 = off (default 40)\n"          \
    "      --top-p P           nucleus sampling; 1 = off (default 0.95)\n"                     \
    "      --min-p P           drop tokens below P x the best probability (default 0.05)\n"   \
    "      --repeat-penalty R  penalty for recently seen tokens; 1 = off (default 1.0)\n"     \
    "      --repeat-last-n N   how many recent tokens the penalty sees (default 64)\n"        \
    "      --seed S            random seed (default 42)\n"                                    \
    "      --ctx N             context length, capped by the model's (default: the\n"         \
    "                          model's, at most 4096)\n"                                      \
    "      --batch N           prefill batch size (default 512)\n"                            \
    "      --kv-type TYPE      KV cache type: f16 (default), f32 or q8_0\n"                         \
    "  -t, --threads N         threads (default: physical cores)\n"                           \
    "      --isa NAME          kernels: avx512-bf16, avx512, avx2, neon-dotprod, neon\n"   \
    "                          or scalar (default: the best this CPU runs, unless the\n"     \
    "                          LLAMAC_ISA environment variable names another)\n"

/* "f16" / "f32" / "q8_0" -> LLAMAC_KV_*; false after a usage error. */
bool cli_parse_kv_type(const char *cmd, const char *s, int *out);

/* Reads a whole file (binary-exact). NULL + message on failure. */
char *cli_read_file(const char *cmd, const char *path, size_t *len);

typedef struct cli_progress {
    const char *label;
    int64_t start_us;
    int last_permille;
    bool enabled;
} cli_progress;

void cli_progress_init(cli_progress *p, const char *label);
/* llamac_progress_fn-compatible: user = cli_progress*. */
void cli_progress_update(double fraction, void *user);
void cli_progress_done(cli_progress *p);

/* How run, chat, bench and perplexity load their model (--isa, --mmap,
 * --no-repack; llamac_model_params has the details). */
typedef struct cli_model_opts {
    const char *isa; /* NULL: the best this CPU runs */
    bool mmap, no_repack, f16_as_bf16;
} cli_model_opts;
#define CLI_LOAD_OPTIONS_HELP                                                                 \
    "      --mmap              map the model file instead of reading it into huge-page\n"    \
    "                          memory (less RAM when the file is in the page cache,\n"       \
    "                          slower decode)\n"                                              \
    "      --no-repack         keep the file's weight layout (by default Q4_0, Q8_0,\n"      \
    "                          Q4_K and Q6_K matrices are regrouped 8 rows at a time\n"      \
    "                          for faster kernels)\n"                                      \
    "      --f16-as-bf16       convert F16 weights to BF16 at load: faster prefill with\n"  \
    "                          AVX-512 BF16, 3 fewer mantissa bits (not with --mmap)\n"

/* Loads a model with a progress bar on a terminal; NULL after printing
 * "llamac CMD: why". */
llamac_model *cli_load_model(const char *cmd, const char *path, const cli_model_opts *o);

/* Subcommands. */
int cmd_run(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_perplexity(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_serve(int argc, char **argv);
/* tools/cmd_testgen.c (built only with libclang; see CMakeLists.txt) */
int cmd_testgen(int argc, char **argv);

#endif
