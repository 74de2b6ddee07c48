/* llamac convert: Hugging Face folders and llama2.c checkpoints to GGUF. */
#include "cmd_convert.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static const char convert_usage[] =
    "usage: llamac convert SRC -o OUT.gguf [options]\n"
    "\n"
    "SRC is a Hugging Face LlamaForCausalLM folder (config.json, model.safetensors or\n"
    "sharded model-*.safetensors with model.safetensors.index.json, tokenizer.json or\n"
    "tokenizer.model, tokenizer_config.json, generation_config.json), or a llama2.c\n"
    "legacy checkpoint (.bin) together with --tokenizer.\n"
    "\n"
    "  -o, --output FILE   the GGUF file to write (required); it appears only when complete\n"
    "  -t, --type TYPE     f32, f16 (default), bf16, q8_0, q6_k, q5_1, q5_0, q4_1, q4_0,\n"
    "                      q4_k_m, q4_k_s, q5_k_m, q5_k_s (see types below)\n"
    "  --tokenizer FILE    llama2.c only: tokenizer.model (SentencePiece) or tokenizer.bin\n"
    "  --vocab-from PATH   Hugging Face folders without tokenizer files: take the vocabulary\n"
    "                      from PATH (a folder with tokenizer.json/tokenizer.model, or a\n"
    "                      tokenizer.model; padded to the config's vocab_size)\n"
    "  --no-vocab          Hugging Face folders: write the weights without a vocabulary\n"
    "  --vocab-only        write the metadata and tokenizer, no tensors\n"
    "  --name NAME         general.name (default: the folder or file name)\n"
    "  --threads N         threads for quantization (default: all CPUs)\n"
    "  -q, --quiet         no notes and no summary (errors are still printed)\n"
    "  -h, --help          show this help\n"
    "\n"
    CONVERT_TYPES_HELP
    "\n"
    "examples:\n"
    "  llamac convert ~/models/Llama-3.1-8B-Instruct -o llama3.1-8b-q4_k_m.gguf -t q4_k_m\n"
    "  llamac convert stories260K.bin --tokenizer tok512.model -o stories260K.gguf -t f32\n";

/* The only state a signal handler may touch; read by the progress callback,
 * which then cancels the conversion cleanly. */
static volatile sig_atomic_t convert_interrupted;

static void on_interrupt(int sig) {
    (void)sig;
    convert_interrupted = 1;
}

static void install_handler(int sig) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_interrupt;
    sa.sa_flags = SA_RESTART | SA_RESETHAND; /* a second Ctrl-C kills at once */
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

static void human_bytes(double b, char *buf, size_t size) {
    if (b >= 1e9) snprintf(buf, size, "%.2f GB", b / 1e9);
    else if (b >= 1e6) snprintf(buf, size, "%.1f MB", b / 1e6);
    else snprintf(buf, size, "%.0f kB", b / 1e3);
}

static bool ui_progress(const llamac_convert_progress *p, void *user) {
    convert_ui *ui = user;
    ui->bytes_total = p->bytes_total;
    ui->tensors_total = p->tensors_total;
    ui->elapsed_s = p->elapsed_s;
    if (ui->tty) {
        int64_t now = llamac_time_us();
        bool last = p->bytes_done == p->bytes_total;
        if (now - ui->last_draw_us >= 100000 || last) {
            ui->last_draw_us = now;
            ui->drawn = true;
            double frac = p->bytes_total ? (double)p->bytes_done / (double)p->bytes_total : 1.0;
            double rate = p->elapsed_s > 0 ? (double)p->bytes_done / p->elapsed_s : 0.0;
            double eta = rate > 0 ? (double)(p->bytes_total - p->bytes_done) / rate : 0.0;
            char bar[31], done[32], total[32], r[32];
            int fill = (int)(frac * 30);
            for (int i = 0; i < 30; i++) bar[i] = i < fill ? '#' : '.';
            bar[30] = 0;
            human_bytes((double)p->bytes_done, done, sizeof done);
            human_bytes((double)p->bytes_total, total, sizeof total);
            human_bytes(rate, r, sizeof r);
            fprintf(stderr, "\r\033[K[%s] %3.0f%% %lld/%lld tensors %s/%s %s/s ETA %.0fs", bar,
                    frac * 100.0, (long long)p->tensors_done, (long long)p->tensors_total, done,
                    total, r, eta);
            fflush(stderr);
        }
    }
    return !convert_interrupted;
}

static void ui_note(const char *line, void *user) {
    convert_ui *ui = user;
    if (ui->quiet) return;
    if (ui->drawn) fprintf(stderr, "\r\033[K");
    fprintf(stderr, "llamac %s: note: %s\n", ui->cmd, line);
}

void convert_ui_init(convert_ui *ui, const char *cmd, bool quiet) {
    memset(ui, 0, sizeof *ui);
    ui->cmd = cmd;
    ui->quiet = quiet;
    ui->tty = isatty(STDERR_FILENO) != 0;
}

void convert_ui_attach(convert_ui *ui, llamac_convert_params *p) {
    convert_interrupted = 0;
    install_handler(SIGINT);
    install_handler(SIGTERM);
    /* past a file size limit, let write() fail with EFBIG (a clean error
     * that removes the temporary file) instead of being killed */
    signal(SIGXFSZ, SIG_IGN);
    p->progress = ui_progress;
    p->progress_user = ui;
    p->note = ui_note;
    p->note_user = ui;
}

void convert_ui_detach(convert_ui *ui) {
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGXFSZ, SIG_DFL);
    if (ui->drawn) fprintf(stderr, "\r\033[K");
    ui->drawn = false;
}

void convert_ui_summary(const convert_ui *ui, const char *dst) {
    if (ui->quiet) return;
    struct stat sb;
    char size[32] = "?", rate[48] = "";
    if (stat(dst, &sb) == 0) human_bytes((double)sb.st_size, size, sizeof size);
    if (ui->elapsed_s > 0 && ui->bytes_total > 0) {
        char r[32];
        human_bytes((double)ui->bytes_total / ui->elapsed_s, r, sizeof r);
        snprintf(rate, sizeof rate, " in %.1fs, %s/s", ui->elapsed_s, r);
    }
    fprintf(stderr, "llamac %s: wrote %s (%s, %lld tensors)%s\n", ui->cmd, dst, size,
            (long long)ui->tensors_total, rate);
}

/* ---------------------------------------------------------------- options */

typedef struct convert_args {
    const char *src, *dst;
    llamac_convert_params params;
    bool quiet;
} convert_args;

static int parse_type(const char *cmd, const char *s, int *type) {
    *type = llamac_convert_type_from_name(s);
    if (*type < 0)
        return cli_error(cmd, CLI_USAGE, "unknown --type '%s' (" CONVERT_TYPE_NAMES ")", s);
    return CLI_OK;
}

/* Returns CLI_OK, or an exit code (-1 for --help). */
static int parse_convert_args(int argc, char **argv, convert_args *a) {
    a->params = llamac_convert_default_params();
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *v;
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) return -1;
        if (!strcmp(arg, "-o") || !strcmp(arg, "--output")) {
            if (!(a->dst = cli_value("convert", argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(arg, "-t") || !strcmp(arg, "--type")) {
            if (!(v = cli_value("convert", argc, argv, &i))) return CLI_USAGE;
            if (parse_type("convert", v, &a->params.type)) return CLI_USAGE;
        } else if (!strcmp(arg, "--tokenizer")) {
            if (!(a->params.tokenizer = cli_value("convert", argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(arg, "--vocab-from")) {
            if (!(a->params.vocab_from = cli_value("convert", argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(arg, "--no-vocab")) {
            a->params.no_vocab = true;
        } else if (!strcmp(arg, "--vocab-only")) {
            a->params.vocab_only = true;
        } else if (!strcmp(arg, "--name")) {
            if (!(a->params.name = cli_value("convert", argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(arg, "--threads")) {
            int64_t n;
            if (!(v = cli_value("convert", argc, argv, &i))) return CLI_USAGE;
            if (!cli_parse_i64("convert", arg, v, 1, 1024, &n)) return CLI_USAGE;
            a->params.n_threads = (int)n;
        } else if (!strcmp(arg, "-q") || !strcmp(arg, "--quiet")) {
            a->quiet = true;
        } else if (arg[0] == '-' && arg[1]) {
            return cli_error("convert", CLI_USAGE, "unknown option '%s' (see --help)", arg);
        } else if (!a->src) {
            a->src = arg;
        } else {
            return cli_error("convert", CLI_USAGE, "unexpected argument '%s' (one source only)", arg);
        }
    }
    if (!a->src) return cli_error("convert", CLI_USAGE, "no source given (see --help)");
    if (!a->dst) return cli_error("convert", CLI_USAGE, "no output file: pass -o OUT.gguf");
    if (a->params.no_vocab && a->params.vocab_from)
        return cli_error("convert", CLI_USAGE, "--no-vocab and --vocab-from exclude each other");
    if (a->params.no_vocab && a->params.vocab_only)
        return cli_error("convert", CLI_USAGE, "--no-vocab and --vocab-only leave nothing to write");
    return CLI_OK;
}

int cmd_convert(int argc, char **argv) {
    convert_args a = {0};
    int rc = parse_convert_args(argc, argv, &a);
    if (rc == -1) {
        fputs(convert_usage, stdout);
        return CLI_OK;
    }
    if (rc != CLI_OK) return rc;
    convert_ui ui;
    convert_ui_init(&ui, "convert", a.quiet);
    convert_ui_attach(&ui, &a.params);
    llamac_error err = {{0}};
    rc = llamac_convert(a.src, a.dst, &a.params, &err);
    convert_ui_detach(&ui);
    if (rc != 0) return cli_error("convert", CLI_FAIL, "%s", err.msg);
    convert_ui_summary(&ui, a.dst);
    return CLI_OK;
}
