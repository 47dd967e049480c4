/* cghelper: a tiny static program the cgroup v2 suite runs inside containers to make a limit
 * bite, so each test observes the effect and not just the file the runtime wrote.
 * Build: gcc -static -O2 -o cghelper cghelper.c
 *
 *   mem MIB          allocate MIB MiB page by page, touching every page; exit 0 if it survives
 *   huge N           mmap N 2 MiB pages with MAP_HUGETLB and touch each; prints "touched I"
 *                    after each page (a hugetlb cgroup limit ends it with SIGBUS)
 *   spin SECS        busy-loop for SECS seconds of wall time, then print the iteration count
 *   open PATH r|w    open PATH (O_RDONLY or O_WRONLY, O_NONBLOCK) and print "ok" or the errno
 *                    name, e.g. "EPERM"; exit 0 either way
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *errname(int e)
{
    switch (e) {
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ENOENT: return "ENOENT";
    case ENXIO: return "ENXIO";
    case ENODEV: return "ENODEV";
    case EINVAL: return "EINVAL";
    case EROFS: return "EROFS";
    default: return "EOTHER";
    }
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc >= 3 && !strcmp(argv[1], "mem")) {
        long mib = atol(argv[2]);
        long page = sysconf(_SC_PAGESIZE);
        for (long i = 0; i < mib; i++) {
            char *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                           -1, 0);
            if (p == MAP_FAILED) {
                printf("mmap failed at %ld MiB: %s\n", i, strerror(errno));
                return 1;
            }
            for (long off = 0; off < (1 << 20); off += page)
                p[off] = 1;
        }
        printf("allocated %ld MiB\n", mib);
        return 0;
    }
    if (argc >= 3 && !strcmp(argv[1], "huge")) {
        long n = atol(argv[2]);
        size_t sz = 2UL << 20;
        char *p = mmap(NULL, n * sz, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
        if (p == MAP_FAILED) {
            printf("mmap failed: %s\n", strerror(errno));
            return 1;
        }
        for (long i = 0; i < n; i++) {
            p[i * sz] = 1;
            printf("touched %ld\n", i + 1);
        }
        return 0;
    }
    if (argc >= 3 && !strcmp(argv[1], "spin")) {
        double end = now() + atof(argv[2]);
        unsigned long iters = 0;
        while (now() < end)
            iters++;
        printf("spun %lu\n", iters);
        return 0;
    }
    if (argc >= 4 && !strcmp(argv[1], "open")) {
        int fd = open(argv[2], (argv[3][0] == 'w' ? O_WRONLY : O_RDONLY) | O_NONBLOCK);
        if (fd < 0)
            printf("%s\n", errname(errno));
        else
            printf("ok\n");
        return 0;
    }
    fprintf(stderr, "usage: cghelper mem MIB | huge N | spin SECS | open PATH r|w\n");
    return 2;
}
