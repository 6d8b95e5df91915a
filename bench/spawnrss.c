/* spawnrss OUT CMD [ARGS...]
 *
 * Runs CMD as a child, waits for it with wait4() and writes
 * "<wait-status> <ru_maxrss KiB>" to the file OUT.  Exits like CMD.
 *
 * Why this exists: ru_maxrss of a waited-for child is the largest peak RSS
 * of any single process in that child's tree that was itself waited for by
 * its parent (the kernel folds each reaped child's peak into its parent's
 * "children max").  A child forked or vforked from the Python driver would
 * start life with Python's page tables and report Python's RSS (~10 MiB) as
 * its peak.  This helper is a tiny static binary, so the floor it adds is
 * small and is measured separately (spawnrss on /bin/true).
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/wait.h>

int main(int argc, char **argv)
{
	if (argc < 3) {
		fputs("usage: spawnrss OUT CMD [ARGS...]\n", stderr);
		return 2;
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return 2;
	}
	if (pid == 0) {
		execvp(argv[2], argv + 2);
		perror("exec");
		_exit(127);
	}
	int st;
	struct rusage ru;
	if (wait4(pid, &st, 0, &ru) < 0) {
		perror("wait4");
		return 2;
	}
	FILE *f = fopen(argv[1], "w");
	if (!f) {
		perror("fopen");
		return 2;
	}
	fprintf(f, "%d %ld\n", st, ru.ru_maxrss);
	fclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
