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

/* Subcommands. */
int cmd_run(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_bench(int argc, char **argv);

#endif
