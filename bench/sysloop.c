/* sysloop [N [getppid|personality]]
 *
 * Makes N raw system calls (default 1000000) in 5 batches and prints the
 * fastest batch's nanoseconds per call.  Run inside the container with and
 * without a seccomp profile: the difference is the filter's cost per call.
 *
 *   getppid      a syscall a Docker-like profile allows unconditionally.
 *                Since Linux 5.11 the kernel caches such "always allow"
 *                verdicts per syscall number and skips the BPF program, so
 *                this shows the cheap, cached path.
 *   personality  personality(0xffffffff) (query only, changes nothing), a
 *                syscall Docker-like profiles allow only for certain
 *                argument values: the verdict depends on arguments, so it
 *                cannot be cached and the whole BPF program runs each call.
 *
 * syscall() is used so libc cannot cache or short-circuit the call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

static long long now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000;
	int pers = argc > 2 && strcmp(argv[2], "personality") == 0;
	long nr = pers ? SYS_personality : SYS_getppid;
	unsigned long arg = pers ? 0xffffffffUL : 0;
	long batch = n / 5 > 0 ? n / 5 : 1;

	if (pers && syscall(nr, arg) < 0) {
		perror("personality");
		return 3; /* the profile denies the probe: not a failure */
	}
	for (int i = 0; i < 1000; i++)
		syscall(nr, arg);
	double best = -1;
	for (int r = 0; r < 5; r++) {
		long long t0 = now_ns();
		for (long i = 0; i < batch; i++)
			syscall(nr, arg);
		double ns = (double)(now_ns() - t0) / batch;
		if (best < 0 || ns < best)
			best = ns;
	}
	printf("%.2f\n", best);
	return 0;
}
