/* rusage: runs `RUNTIME --root ROOT run --bundle BUNDLE PREFIX-i` COUNT times and prints one
 * JSON line per run: user+sys CPU of the whole process tree and its peak RSS, from wait4().
 * wait4() covers the runtime and every descendant it reaped (the container process too).
 * A small static C parent matters: ru_maxrss survives execve, so a child forked from a big
 * parent (python) would report the parent's RSS. Used by bench.sh.
 * usage: rusage RUNTIME ROOT BUNDLE PREFIX COUNT */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: rusage RUNTIME ROOT BUNDLE PREFIX COUNT\n");
        return 2;
    }
    int count = atoi(argv[5]);
    for (int i = 0; i < count; i++) {
        char id[256];
        snprintf(id, sizeof id, "%s-%d", argv[4], i);
        pid_t pid = fork();
        if (pid < 0)
            return 1;
        if (pid == 0) {
            int fd = open("/dev/null", O_RDWR);
            dup2(fd, 0);
            dup2(fd, 1);
            execl(argv[1], argv[1], "--root", argv[2], "run", "--bundle", argv[3], id,
                  (char *)NULL);
            _exit(127);
        }
        int st;
        struct rusage ru;
        if (wait4(pid, &st, 0, &ru) < 0)
            return 1;
        double cpu_ms = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
                        (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
        int rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        printf("{\"cpu_ms\": %.3f, \"rss_kb\": %ld, \"rc\": %d}\n", cpu_ms, ru.ru_maxrss, rc);
        fflush(stdout);
    }
    return 0;
}
