/* Builds the same profile as crates/ocirun/tests/data/seccomp/default.json with libseccomp
 * (the way crun and runc do) and exports the BPF, to compare compile time, program size and
 * per-syscall cost with ocirun's compiler. Links the installed libseccomp.so.2 directly; the
 * few declarations below follow libseccomp's documented API (seccomp_init(3) and friends), so
 * libseccomp-dev is not needed.
 *
 * Usage: libseccomp_default ALLOW_NAMES_FILE OUT.bpf ITERATIONS
 * Prints: the median and minimum compile time in microseconds. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef void *scmp_filter_ctx;
struct scmp_arg_cmp { unsigned int arg; int op; uint64_t datum_a; uint64_t datum_b; };
enum { CMP_NE = 1, CMP_EQ = 4, CMP_MASKED_EQ = 7 };
scmp_filter_ctx seccomp_init(uint32_t def_action);
int seccomp_arch_add(scmp_filter_ctx ctx, uint32_t arch_token);
int seccomp_syscall_resolve_name(const char *name);
int seccomp_rule_add_array(scmp_filter_ctx ctx, uint32_t action, int syscall, unsigned int n,
                           const struct scmp_arg_cmp *args);
int seccomp_export_bpf(const scmp_filter_ctx ctx, int fd);
void seccomp_release(scmp_filter_ctx ctx);

#define ACT_ALLOW 0x7fff0000u
#define ACT_ERRNO(e) (0x00050000u | ((e) & 0xffff))
#define ARCH_X86 0x40000003u
#define ARCH_X32 0x4000003eu

static char names[512][64];
static int n_names;

static void rule(scmp_filter_ctx c, uint32_t act, const char *name, unsigned n, struct scmp_arg_cmp *a) {
    int nr = seccomp_syscall_resolve_name(name);
    if (nr >= 0 || nr < -1) seccomp_rule_add_array(c, act, nr, n, a);
}

static void build(int fd) {
    scmp_filter_ctx c = seccomp_init(ACT_ERRNO(1));
    seccomp_arch_add(c, ARCH_X86);
    seccomp_arch_add(c, ARCH_X32);
    for (int i = 0; i < n_names; i++) rule(c, ACT_ALLOW, names[i], 0, NULL);
    const char *pt[] = {"process_vm_readv", "process_vm_writev", "ptrace", "arch_prctl", "modify_ldt", "chroot"};
    for (unsigned i = 0; i < sizeof pt / sizeof *pt; i++) rule(c, ACT_ALLOW, pt[i], 0, NULL);
    struct scmp_arg_cmp vsock = {0, CMP_NE, 40, 0};
    rule(c, ACT_ALLOW, "socket", 1, &vsock);
    uint64_t pers[] = {0, 8, 0x20000, 0x20008, 0xffffffff};
    for (int i = 0; i < 5; i++) {
        struct scmp_arg_cmp a = {0, CMP_EQ, pers[i], 0};
        rule(c, ACT_ALLOW, "personality", 1, &a);
    }
    struct scmp_arg_cmp ns = {0, CMP_MASKED_EQ, 0x7e020000, 0};
    rule(c, ACT_ALLOW, "clone", 1, &ns);
    rule(c, ACT_ERRNO(38), "clone3", 0, NULL);
    seccomp_export_bpf(c, fd);
    seccomp_release(c);
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc != 4) return 2;
    FILE *f = fopen(argv[1], "r");
    if (!f) return 1;
    while (n_names < 512 && fscanf(f, "%63s", names[n_names]) == 1) n_names++;
    fclose(f);
    int iters = atoi(argv[3]);
    double *t = calloc(iters, sizeof *t);
    for (int i = 0; i < iters; i++) {
        int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        build(fd);
        clock_gettime(CLOCK_MONOTONIC, &b);
        close(fd);
        t[i] = (b.tv_sec - a.tv_sec) * 1e6 + (b.tv_nsec - a.tv_nsec) / 1e3;
    }
    double first = t[0];
    qsort(t, iters, sizeof *t, cmp);
    printf("%.1f %.1f %.1f\n", first, t[iters / 2], t[0]);
    return 0;
}
