/* getppid [N]
 *
 * Makes N raw getppid() system calls (default 1000000) in 5 batches and
 * prints the fastest batch's nanoseconds per call.  Run inside the
 * container with and without a seccomp profile: the difference is the
 * filter's per-syscall cost.  syscall() is used so libc cannot cache or
 * short-circuit the call.
 */
#include <stdio.h>
#include <stdlib.h>
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
	long batch = n / 5 > 0 ? n / 5 : 1;
	for (int i = 0; i < 1000; i++)
		syscall(SYS_getppid);
	double best = -1;
	for (int r = 0; r < 5; r++) {
		long long t0 = now_ns();
		for (long i = 0; i < batch; i++)
			syscall(SYS_getppid);
		double ns = (double)(now_ns() - t0) / batch;
		if (best < 0 || ns < best)
			best = ns;
	}
	printf("%.2f\n", best);
	return 0;
}
