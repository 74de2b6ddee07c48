/* Runs build and test commands with a time limit. Each command gets its own
 * process group so that a hung compiler or test (and anything it started)
 * is killed as a whole when the limit passes. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testgen/testgen.h"

static void child_exec(const char *cmd, const char *cwd, int out_fd) {
    setpgid(0, 0);
    dup2(out_fd, 1);
    dup2(out_fd, 2);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    if (cwd && chdir(cwd) != 0) {
        dprintf(2, "cannot enter %s: %s\n", cwd, strerror(errno));
        _exit(127);
    }
    execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
    _exit(127);
}

/* Reads what is available into b (up to the cap; the rest is drained). */
static bool drain(int fd, tg_buf *b) {
    char chunk[4096];
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n <= 0) return n < 0 && errno == EINTR;
    if (b->len < TG_OUTPUT_MAX) {
        size_t room = TG_OUTPUT_MAX - b->len;
        tg_buf_add(b, chunk, (size_t)n < room ? (size_t)n : room);
    }
    return true;
}

int tg_run(const char *cmd, const char *cwd, double timeout_s, tg_proc *out) {
    memset(out, 0, sizeof *out);
    int fds[2];
    if (pipe(fds) != 0) return -1;
    int64_t start = llamac_time_us();
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        child_exec(cmd, cwd, fds[1]);
    }
    setpgid(pid, pid); /* also here: no race with the child's own call */
    close(fds[1]);
    tg_buf b = {0};
    bool open_pipe = true;
    int64_t limit_us = (int64_t)(timeout_s * 1e6);
    while (open_pipe) {
        int64_t left = limit_us - (llamac_time_us() - start);
        if (left <= 0) {
            out->timed_out = true;
            break;
        }
        struct pollfd p = {.fd = fds[0], .events = POLLIN};
        int r = poll(&p, 1, (int)(left / 1000 + 1));
        if (r < 0 && errno != EINTR) break;
        if (r > 0) open_pipe = drain(fds[0], &b);
    }
    if (out->timed_out) kill(-pid, SIGKILL);
    close(fds[0]);
    int status = 0;
    /* The shell may have exited while a child it left holds the pipe: wait
     * with the same limit, then kill the group. */
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid || (w < 0 && errno != EINTR)) break;
        if (llamac_time_us() - start > limit_us) {
            out->timed_out = true;
            kill(-pid, SIGKILL);
        }
        usleep(2000);
    }
    kill(-pid, SIGKILL); /* stray background children of the command */
    out->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (out->timed_out) tg_buf_printf(&b, "\n[timed out after %.0f s]\n", timeout_s);
    out->output = tg_buf_take(&b);
    out->seconds = (double)(llamac_time_us() - start) / 1e6;
    return 0;
}

void tg_proc_free(tg_proc *p) {
    free(p->output);
    p->output = NULL;
}
