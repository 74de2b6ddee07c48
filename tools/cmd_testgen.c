/* llamac testgen: option parsing; the loop is in src/testgen/ (its own
 * library, linked with libclang). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "testgen/testgen.h"

static const char usage_text[] =
    "usage: llamac testgen -m MODEL.gguf SRC [SRC...] [options]\n"
    "       llamac testgen --replay DIR SRC [SRC...] [options]\n"
    "       llamac testgen --check [--lang c|python]\n"
    "\n"
    "Writes unit tests for the functions of a C file (cmocka) or Python file\n"
    "(pytest) with a local model: K candidates per function, sampled together;\n"
    "each is built (compiled / imported), repaired with the error message for\n"
    "up to R rounds, run --runs times (flaky ones dropped), and kept only when it\n"
    "covers lines or branches the kept tests do not (gcovr / coverage.py). The\n"
    "kept tests go to one file that builds and passes. Table on stdout,\n"
    "progress on stderr.\n"
    "\n"
    "  -m, --model FILE        GGUF instruct model (CodeLlama Instruct, Llama 3.1 ...)\n"
    "      --lang c|python     language (default: from the file name, .py = python)\n"
    "  -o, --output FILE       the test file (default test_NAME.c / test_NAME.py here)\n"
    "      --functions a,b     only these functions (default: every one in the file)\n"
    "      --candidates K      candidates per function, sampled in parallel (default 4)\n"
    "      --rounds R          repair rounds after a build or test failure (default 2)\n"
    "      --runs N            runs a test must pass, every one (default 5)\n"
    "      --temp T            temperature (default 0.7)\n"
    "      --seed S            random seed (default 42)\n"
    "  -n, --n-predict N       most tokens per reply (default 768)\n"
    "      --grammar auto|off  auto: replies follow a grammar made for the file: the\n"
    "                          framework's test functions calling the function under\n"
    "                          test with typed literals (small; for weak models).\n"
    "                          off: free text, code taken from the reply (default)\n"
    "      --chat-template NAME  llama3, llama3.1 or llama2 (default: from the model)\n"
    "      --report FILE       write the JSON report (counts, coverage, commands)\n"
    "      --record DIR        store every prompt and reply under DIR\n"
    "      --replay DIR        take the replies from DIR instead of a model\n"
    "      --timeout S         limit for each build and run, seconds (default 60)\n"
    "      --cc CMD            C compiler (default $CC or cc)\n"
    "      --python CMD        python with pytest and coverage (default: found)\n"
    "      --check             report which tools are present and how to install the rest\n"
    "  -t, --threads N         threads (default: physical cores)\n"
    "  -q, --quiet             no progress on stderr\n"
    "  -h, --help              show this help\n";

int cmd_testgen(int argc, char **argv) {
    tg_options o = {0};
    o.candidates = 4, o.rounds = 2, o.runs = 5, o.n_predict = 768;
    o.sampling = llamac_sampler_default_params();
    o.sampling.temperature = 0.7f;
    o.tools.timeout_s = 60;
    o.tools.cc = getenv("CC") && *getenv("CC") ? getenv("CC") : "cc";
    o.tools.gcovr = "gcovr";
    const char *python = NULL;
    bool check = false;
    const char **sources = calloc((size_t)argc + 1, sizeof *sources);
    int rc = CLI_USAGE;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        int64_t iv;
        float fv;
#define VALUE() do { if (!(v = cli_value("testgen", argc, argv, &i))) goto out; } while (0)
#define INT(lo, hi) do { VALUE(); if (!cli_parse_i64("testgen", a, v, lo, hi, &iv)) goto out; } while (0)
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { fputs(usage_text, stdout); rc = CLI_OK; goto out; }
        else if (!strcmp(a, "-m") || !strcmp(a, "--model")) { VALUE(); o.model = v; }
        else if (!strcmp(a, "--lang")) {
            VALUE();
            if (!strcmp(v, "c")) o.lang = TG_LANG_C;
            else if (!strcmp(v, "python") || !strcmp(v, "py")) o.lang = TG_LANG_PYTHON;
            else { cli_error("testgen", CLI_USAGE, "--lang: '%s' is not c or python", v); goto out; }
            o.lang_set = true;
        }
        else if (!strcmp(a, "-o") || !strcmp(a, "--output")) { VALUE(); o.out_path = v; }
        else if (!strcmp(a, "--functions")) { VALUE(); o.functions = v; }
        else if (!strcmp(a, "--candidates")) { INT(1, LLAMAC_SEQ_MAX); o.candidates = (int)iv; }
        else if (!strcmp(a, "--rounds")) { INT(0, 16); o.rounds = (int)iv; }
        else if (!strcmp(a, "--runs")) { INT(1, 1000); o.runs = (int)iv; }
        else if (!strcmp(a, "-n") || !strcmp(a, "--n-predict")) { INT(16, 1 << 20); o.n_predict = (int)iv; }
        else if (!strcmp(a, "--temp")) { VALUE(); if (!cli_parse_f32("testgen", a, v, 0, 10, &fv)) goto out; o.sampling.temperature = fv; }
        else if (!strcmp(a, "--seed")) { INT(0, INT64_MAX); o.sampling.seed = (uint64_t)iv; }
        else if (!strcmp(a, "--grammar")) {
            VALUE();
            if (!strcmp(v, "auto")) o.grammar = true;
            else if (!strcmp(v, "off")) o.grammar = false;
            else { cli_error("testgen", CLI_USAGE, "--grammar: '%s' is not auto or off", v); goto out; }
        }
        else if (!strcmp(a, "--chat-template")) { VALUE(); o.chat_template = v; }
        else if (!strcmp(a, "--report")) { VALUE(); o.report_path = v; }
        else if (!strcmp(a, "--record")) { VALUE(); o.record_dir = v; }
        else if (!strcmp(a, "--replay")) { VALUE(); o.replay_dir = v; }
        else if (!strcmp(a, "--timeout")) { VALUE(); if (!cli_parse_f32("testgen", a, v, 0.1f, 86400, &fv)) goto out; o.tools.timeout_s = fv; }
        else if (!strcmp(a, "--cc")) { VALUE(); o.tools.cc = v; }
        else if (!strcmp(a, "--python")) { VALUE(); python = v; }
        else if (!strcmp(a, "--check")) check = true;
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) { INT(0, 1024); o.n_threads = (int)iv; }
        else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) o.quiet = true;
        else if (a[0] == '-' && a[1]) { cli_error("testgen", CLI_USAGE, "unknown option '%s' (see --help)", a); goto out; }
        else sources[o.n_sources++] = a;
#undef VALUE
#undef INT
    }
    o.sources = sources;
    o.tools.python = python ? python : tg_find_python();
    if (check) { rc = tg_check_tools(&o); goto out; }
    if (o.n_sources == 0) { rc = cli_error("testgen", CLI_USAGE, "give a source file (see --help)"); goto out; }
    if (!o.model == !o.replay_dir) { rc = cli_error("testgen", CLI_USAGE, "give one of -m MODEL and --replay DIR"); goto out; }
    if (o.record_dir && o.replay_dir) { rc = cli_error("testgen", CLI_USAGE, "--record and --replay exclude each other"); goto out; }
    if (!o.lang_set) {
        const char *dot = strrchr(o.sources[0], '.');
        o.lang = dot && !strcmp(dot, ".py") ? TG_LANG_PYTHON : TG_LANG_C;
    }
    rc = tg_main_run(&o);
out:
    free(sources);
    return rc;
}
