/* harness: runs runtime commands and reports, from wait4(), the user+sys CPU time and peak RSS
 * of each whole process tree (the runtime and every descendant it or this harness reaped), the
 * wall time and the page faults, one JSON object per line on stdout. Used by bench/bench.py.
 *
 * A small static C parent matters: ru_maxrss survives execve, so a child forked from a big
 * parent (python) would report the parent's RSS.
 *
 *   harness run N PREFIX -- ARGV...        ARGV N times; @ID@ in ARGV becomes PREFIX-i
 *   harness cycle N PREFIX RT ROOT BUNDLE  create --pid-file, start, reap the init, delete,
 *                                          as containerd's shim drives a container
 *   harness exec N RT ROOT ID PROCESS DIR  exec --process --detach --pid-file, reap the process
 *   harness parallel TOTAL CONC PREFIX -- ARGV...   TOTAL runs, CONC at a time; @ID@ as above,
 *                                          @I@ becomes i; one summary line at the end
 *
 * cycle and exec make this process a child subreaper (PR_SET_CHILD_SUBREAPER), as the shim is,
 * so the container's processes are reparented here and their CPU time is counted too. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXARGS 64

struct sample {
    double cpu_ms, wall_ms;
    long rss_kb, minflt, majflt;
    int rc;
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double ru_cpu_ms(const struct rusage *ru)
{
    return (ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) * 1e3 +
           (ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) / 1e3;
}

static void add(struct sample *s, const struct rusage *ru)
{
    s->cpu_ms += ru_cpu_ms(ru);
    if (ru->ru_maxrss > s->rss_kb)
        s->rss_kb = ru->ru_maxrss;
    s->minflt += ru->ru_minflt;
    s->majflt += ru->ru_majflt;
}

/* Copies ARGV with @ID@ and @I@ replaced; the strings live in `buf`. */
static void subst(char **out, char **in, int n, const char *id, int idx, char *buf, size_t cap)
{
    size_t used = 0;
    for (int a = 0; a < n; a++) {
        char tmp[4096];
        size_t t = 0;
        for (const char *p = in[a]; *p && t + 32 < sizeof tmp;) {
            if (strncmp(p, "@ID@", 4) == 0) {
                t += snprintf(tmp + t, sizeof tmp - t, "%s", id);
                p += 4;
            } else if (strncmp(p, "@I@", 3) == 0) {
                t += snprintf(tmp + t, sizeof tmp - t, "%d", idx);
                p += 3;
            } else {
                tmp[t++] = *p++;
            }
        }
        tmp[t] = 0;
        if (used + t + 1 > cap) {
            fprintf(stderr, "harness: arguments too long\n");
            exit(2);
        }
        memcpy(buf + used, tmp, t + 1);
        out[a] = buf + used;
        used += t + 1;
    }
    out[n] = NULL;
}

static pid_t spawn(char **argv)
{
    pid_t pid = fork();
    if (pid < 0) {
        perror("harness: fork");
        exit(1);
    }
    if (pid == 0) {
        int fd = open("/dev/null", O_RDWR);
        dup2(fd, 0);
        dup2(fd, 1);
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

/* Waits for `pid` (a child) and adds its rusage; returns its exit status as a shell would. */
static int reap(pid_t pid, struct sample *s)
{
    int st;
    struct rusage ru;
    while (wait4(pid, &st, 0, &ru) < 0) {
        if (errno != EINTR)
            return -1;
    }
    add(s, &ru);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Runs `argv` (absolute path) to completion and adds its tree's rusage. */
static int run_one(char **argv, struct sample *s)
{
    return reap(spawn(argv), s);
}

static pid_t read_pid(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long v = -1;
    if (fscanf(f, "%ld", &v) != 1)
        v = -1;
    fclose(f);
    return (pid_t)v;
}

/* Reaps `pid`, which becomes our child once its parent (the runtime) has exited; waits up to
 * 5 s for the reparenting. A process reaped by someone else counts nothing. */
static void reap_orphan(pid_t pid, struct sample *s)
{
    for (int i = 0; i < 5000; i++) {
        int st;
        struct rusage ru;
        pid_t r = wait4(pid, &st, 0, &ru);
        if (r == pid) {
            add(s, &ru);
            return;
        }
        if (errno == EINTR)
            continue;
        if (kill(pid, 0) != 0 && errno == ESRCH)
            return;
        usleep(1000);
    }
}

/* Reaps whatever was reparented here and has exited (a runtime's intermediate processes): their
 * CPU time belongs to the runtime's tree. */
static void sweep(struct sample *s)
{
    struct rusage ru;
    int st;
    while (wait4(-1, &st, WNOHANG, &ru) > 0)
        add(s, &ru);
}

static void print(const struct sample *s, const char *extra)
{
    printf("{\"cpu_ms\": %.3f, \"wall_ms\": %.3f, \"rss_kb\": %ld, \"minflt\": %ld, "
           "\"majflt\": %ld, \"rc\": %d%s}\n",
           s->cpu_ms, s->wall_ms, s->rss_kb, s->minflt, s->majflt, s->rc, extra ? extra : "");
    fflush(stdout);
}

static int usage(void)
{
    fprintf(stderr, "usage: harness run N PREFIX -- ARGV... | cycle N PREFIX RT ROOT BUNDLE |\n"
                    "       exec N RT ROOT ID PROCESS DIR | parallel TOTAL CONC PREFIX -- ARGV...\n");
    return 2;
}

int main(int argc, char **argv)
{
    static char buf[65536];
    char *av[MAXARGS + 1];
    if (argc < 3)
        return usage();
    const char *mode = argv[1];
    int n = atoi(argv[2]);

    if (strcmp(mode, "run") == 0 || strcmp(mode, "parallel") == 0) {
        int par = strcmp(mode, "parallel") == 0;
        int conc = par ? atoi(argv[3]) : 1;
        int base = par ? 4 : 3;
        if (argc < base + 3 || strcmp(argv[base + 1], "--") != 0 || conc < 1)
            return usage();
        const char *prefix = argv[base];
        char **tmpl = argv + base + 2;
        int na = argc - base - 2;
        if (na > MAXARGS)
            return usage();
        if (!par) {
            for (int i = 0; i < n; i++) {
                char id[256];
                snprintf(id, sizeof id, "%s-%d", prefix, i);
                subst(av, tmpl, na, id, i, buf, sizeof buf);
                struct sample s = {0};
                double t0 = now_ms();
                s.rc = run_one(av, &s);
                s.wall_ms = now_ms() - t0;
                print(&s, NULL);
            }
            return 0;
        }
        /* parallel: keep `conc` runs in flight until `n` have finished */
        pid_t *pids = calloc(n, sizeof *pids);
        int started = 0, finished = 0, failed = 0;
        struct sample total = {0};
        double t0 = now_ms();
        while (finished < n) {
            while (started < n && started - finished < conc) {
                char id[256];
                snprintf(id, sizeof id, "%s-%d", prefix, started);
                subst(av, tmpl, na, id, started, buf, sizeof buf);
                pids[started] = spawn(av);
                started++;
            }
            int st;
            struct rusage ru;
            pid_t r = wait4(-1, &st, 0, &ru);
            if (r < 0) {
                if (errno == EINTR)
                    continue;
                break;
            }
            int known = 0;
            for (int i = 0; i < started; i++)
                known |= pids[i] == r;
            if (!known)
                continue;
            add(&total, &ru);
            finished++;
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
                failed++;
        }
        total.wall_ms = now_ms() - t0;
        total.rc = failed ? 1 : 0;
        char extra[128];
        snprintf(extra, sizeof extra, ", \"total\": %d, \"failed\": %d, \"conc\": %d", n, failed,
                 conc);
        print(&total, extra);
        return 0;
    }

    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
        perror("harness: PR_SET_CHILD_SUBREAPER");
        return 1;
    }
    if (strcmp(mode, "cycle") == 0) {
        if (argc != 7)
            return usage();
        const char *prefix = argv[3], *rt = argv[4], *root = argv[5], *bundle = argv[6];
        for (int i = 0; i < n; i++) {
            char id[256], pidf[4096];
            snprintf(id, sizeof id, "%s-%d", prefix, i);
            snprintf(pidf, sizeof pidf, "%s/%s.pid", root, id);
            struct sample s = {0}, step[4] = {{0}};
            double t0 = now_ms();
            char *create[] = {(char *)rt, "--root", (char *)root, "create", "--bundle",
                              (char *)bundle, "--pid-file", pidf, id, NULL};
            s.rc = run_one(create, &step[0]);
            if (s.rc == 0) {
                pid_t init = read_pid(pidf);
                char *start[] = {(char *)rt, "--root", (char *)root, "start", id, NULL};
                s.rc = run_one(start, &step[1]);
                if (init > 0)
                    reap_orphan(init, &step[2]);
            }
            char *del[] = {(char *)rt, "--root", (char *)root, "delete", "--force", id, NULL};
            int drc = run_one(del, &step[3]);
            sweep(&step[3]);
            if (s.rc == 0)
                s.rc = drc;
            s.wall_ms = now_ms() - t0;
            unlink(pidf);
            for (int k = 0; k < 4; k++) {
                s.cpu_ms += step[k].cpu_ms;
                s.minflt += step[k].minflt;
                s.majflt += step[k].majflt;
                if (step[k].rss_kb > s.rss_kb)
                    s.rss_kb = step[k].rss_kb;
            }
            char extra[256];
            snprintf(extra, sizeof extra,
                     ", \"create_ms\": %.3f, \"start_ms\": %.3f, \"init_ms\": %.3f, "
                     "\"delete_ms\": %.3f",
                     step[0].cpu_ms, step[1].cpu_ms, step[2].cpu_ms, step[3].cpu_ms);
            print(&s, extra);
        }
        return 0;
    }
    if (strcmp(mode, "exec") == 0) {
        if (argc != 8)
            return usage();
        const char *rt = argv[3], *root = argv[4], *cid = argv[5], *proc = argv[6], *dir = argv[7];
        for (int i = 0; i < n; i++) {
            char pidf[4096];
            snprintf(pidf, sizeof pidf, "%s/exec-%d.pid", dir, i);
            struct sample s = {0};
            double t0 = now_ms();
            char *ex[] = {(char *)rt, "--root", (char *)root, "exec", "--process", (char *)proc,
                          "--detach", "--pid-file", pidf, (char *)cid, NULL};
            s.rc = run_one(ex, &s);
            if (s.rc == 0) {
                pid_t p = read_pid(pidf);
                if (p > 0)
                    reap_orphan(p, &s);
            }
            sweep(&s);
            s.wall_ms = now_ms() - t0;
            unlink(pidf);
            print(&s, NULL);
        }
        return 0;
    }
    return usage();
}
