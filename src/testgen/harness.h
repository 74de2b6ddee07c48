/* Commands that build, run and measure a test file (testgen internal). */
#ifndef LLAMAC_TESTGEN_HARNESS_H
#define LLAMAC_TESTGEN_HARNESS_H

#include "testgen/testgen.h"

typedef struct tg_commands_out {
    char *build;          /* C: compile + link; Python: pytest --collect-only (imports it) */
    char *run;            /* exit 0 = every test passed */
    char *coverage;       /* after run (C) / instead of run (Python): writes testgen-coverage.json */
    char *coverage_show;  /* the human-readable table of the same */
} tg_commands_out;

/* Commands for test file `file`, run in the file's folder. */
void tg_commands(const tg_tools *t, const tg_source *srcs, int n_srcs, tg_lang lang, const char *file,
                 tg_commands_out *c);
void tg_commands_free(tg_commands_out *c);

#endif
