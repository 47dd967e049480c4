/* spawn MS PROG ARGS...: after MS milliseconds fork and exec PROG ARGS (so the
 * workload itself, not ward, starts it), print its exit status, then sleep
 * until killed. Used as a container's process by tests/monitor. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
	if (argc < 3) return 2;
	long ms = atol(argv[1]);
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
	pid_t c = fork();
	if (c == 0) {
		execv(argv[2], argv + 2);
		_exit(127);
	}
	int ws = 0;
	waitpid(c, &ws, 0);
	printf("spawned exit %d\n", WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws));
	fflush(stdout);
	for (;;) pause();
}
