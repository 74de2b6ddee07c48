/* `llamac convert` and `llamac quantize` (tools/cmd_convert.c,
 * tools/cmd_quantize.c), plus the progress display and notes they share. */
#ifndef LLAMAC_CMD_CONVERT_H
#define LLAMAC_CMD_CONVERT_H

#include <stdbool.h>
#include <stdint.h>

#include "llamac.h"

int cmd_convert(int argc, char **argv);
int cmd_quantize(int argc, char **argv);

/* Shared by both commands: a progress line on stderr when it is a terminal
 * (tensors, bytes, rate, ETA), nothing otherwise; Ctrl-C cancels the run
 * (the library then removes its temporary file). */
typedef struct convert_ui {
    const char *cmd;
    bool tty;
    bool quiet;
    int64_t last_draw_us;
    bool drawn;
    uint64_t bytes_total;
    int64_t tensors_total;
    double elapsed_s;
} convert_ui;

void convert_ui_init(convert_ui *ui, const char *cmd, bool quiet);
/* Installs the SIGINT/SIGTERM handler and fills the progress/note fields. */
void convert_ui_attach(convert_ui *ui, llamac_convert_params *p);
/* Restores the signal handlers, clears the progress line. */
void convert_ui_detach(convert_ui *ui);
/* The one-line summary after success. */
void convert_ui_summary(const convert_ui *ui, const char *dst);

#endif
