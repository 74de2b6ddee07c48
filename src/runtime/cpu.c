/* CPU feature detection, the physical core count and the monotonic clock,
 * reported with the kernels chosen by llamac_system_info (kernels/dispatch.c). */
#include "runtime/cpu.h"

#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "llamac.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

/* XCR0: which register states the OS saves on a context switch. An
 * instruction set the CPU has but the OS does not save is unusable. */
static uint64_t read_xcr0(void) {
    uint32_t eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((uint64_t)edx << 32) | eax;
}

static void read_brand(char brand[64]) {
    unsigned r[12] = {0};
    unsigned max_ext = __get_cpuid_max(0x80000000u, NULL);
    if (max_ext < 0x80000004u) { snprintf(brand, 64, "x86-64"); return; }
    for (unsigned i = 0; i < 3; i++)
        __get_cpuid(0x80000002u + i, &r[4 * i], &r[4 * i + 1], &r[4 * i + 2], &r[4 * i + 3]);
    char raw[49];
    memcpy(raw, r, 48);
    raw[48] = 0;
    const char *s = raw;
    while (*s == ' ') s++;  /* Intel pads the brand string on the left */
    snprintf(brand, 64, "%s", s);
}

static void detect_x86(lc_cpu_features *f) {
    unsigned a, b, c, d;
    read_brand(f->brand);
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    f->sse3 = c & (1u << 0);
    f->ssse3 = c & (1u << 9);
    f->sse41 = c & (1u << 19);
    bool osxsave = c & (1u << 27);
    bool cpu_avx = c & (1u << 28), cpu_fma = c & (1u << 12), cpu_f16c = c & (1u << 29);
    uint64_t xcr0 = osxsave ? read_xcr0() : 0;
    bool os_avx = (xcr0 & 0x6) == 0x6;        /* SSE and AVX state */
    bool os_avx512 = (xcr0 & 0xe6) == 0xe6;   /* + opmask, ZMM_Hi256, Hi16_ZMM */
    f->avx = cpu_avx && os_avx;
    f->fma = cpu_fma && os_avx;
    f->f16c = cpu_f16c && os_avx;
    if (__get_cpuid_max(0, NULL) < 7) return;
    __cpuid_count(7, 0, a, b, c, d);
    f->avx2 = (b & (1u << 5)) && os_avx;
    f->avx512f = (b & (1u << 16)) && os_avx512;
    f->avx512bw = (b & (1u << 30)) && os_avx512;
    f->avx512vl = (b & (1u << 31)) && os_avx512;
    f->avx512vnni = (c & (1u << 11)) && os_avx512;
    __cpuid_count(7, 1, a, b, c, d);
    f->avx_vnni = (a & (1u << 4)) && os_avx;
    f->avx512bf16 = (a & (1u << 5)) && os_avx512;
}
#endif

#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
/* Bit numbers from the Linux arm64 ABI (asm/hwcap.h), spelled out so that
 * older kernel headers still build. */
#define LC_HWCAP_FPHP (1ul << 9)
#define LC_HWCAP_ASIMD (1ul << 1)
#define LC_HWCAP_ASIMDDP (1ul << 20)
#define LC_HWCAP_SVE (1ul << 22)
#define LC_HWCAP2_I8MM (1ul << 13)
#define LC_HWCAP2_BF16 (1ul << 14)

static void detect_aarch64(lc_cpu_features *f) {
    unsigned long hw = getauxval(AT_HWCAP), hw2 = getauxval(AT_HWCAP2);
    snprintf(f->brand, sizeof f->brand, "aarch64");
    f->neon = hw & LC_HWCAP_ASIMD;
    f->fphp = hw & LC_HWCAP_FPHP;
    f->dotprod = hw & LC_HWCAP_ASIMDDP;
    f->sve = hw & LC_HWCAP_SVE;
    f->i8mm = hw2 & LC_HWCAP2_I8MM;
    f->bf16 = hw2 & LC_HWCAP2_BF16;
}
#endif

void lc_cpu_detect(lc_cpu_features *f) {
    memset(f, 0, sizeof *f);
#if defined(__x86_64__) || defined(__i386__)
    detect_x86(f);
#elif defined(__aarch64__) && defined(__linux__)
    detect_aarch64(f);
#elif defined(__aarch64__)
    /* ASIMD is part of the AArch64 baseline; optional extensions stay off. */
    snprintf(f->brand, sizeof f->brand, "aarch64");
    f->neon = true;
#else
    snprintf(f->brand, sizeof f->brand, "unknown");
#endif
}

size_t lc_cpu_feature_string(const lc_cpu_features *f, char *buf, size_t size) {
    const struct { bool on; const char *name; } list[] = {
        {f->sse3, "sse3"}, {f->ssse3, "ssse3"}, {f->sse41, "sse4.1"}, {f->avx, "avx"},
        {f->avx2, "avx2"}, {f->fma, "fma"}, {f->f16c, "f16c"}, {f->avx_vnni, "avx_vnni"},
        {f->avx512f, "avx512f"}, {f->avx512bw, "avx512bw"}, {f->avx512vl, "avx512vl"},
        {f->avx512vnni, "avx512_vnni"}, {f->avx512bf16, "avx512_bf16"},
        {f->neon, "neon"}, {f->dotprod, "dotprod"}, {f->fphp, "fp16"}, {f->i8mm, "i8mm"},
        {f->bf16, "bf16"}, {f->sve, "sve"},
    };
    size_t len = 0;
    if (size) buf[0] = 0;
    for (size_t i = 0; i < sizeof list / sizeof list[0]; i++) {
        if (!list[i].on) continue;
        int w = snprintf(len < size ? buf + len : NULL, len < size ? size - len : 0, "%s%s",
                         len ? " " : "", list[i].name);
        if (w > 0) len += (size_t)w;
    }
    return len;
}

/* Counts distinct (package, core) pairs among the CPUs this process may run
 * on, so SMT siblings count once. Falls back to the online CPU count. */
int llamac_physical_cores(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        return n > 0 ? (int)n : 1;
    }
    enum { MAX_CORES = 1024 };
    long seen[MAX_CORES];
    int n_seen = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (!CPU_ISSET(cpu, &set)) continue;
        char path[128];
        long pkg = 0, core = -1;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/physical_package_id", cpu);
        FILE *fp = fopen(path, "r");
        if (fp) { if (fscanf(fp, "%ld", &pkg) != 1) pkg = 0; fclose(fp); }
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/core_id", cpu);
        fp = fopen(path, "r");
        if (fp) { if (fscanf(fp, "%ld", &core) != 1) core = -1; fclose(fp); }
        if (core < 0) return CPU_COUNT(&set) > 0 ? CPU_COUNT(&set) : 1; /* no topology */
        long key = pkg * 65536 + core;
        bool dup = false;
        for (int i = 0; i < n_seen && !dup; i++) dup = seen[i] == key;
        if (!dup && n_seen < MAX_CORES) seen[n_seen++] = key;
    }
    return n_seen > 0 ? n_seen : 1;
}

int64_t llamac_time_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
