/* probe: a tiny static program run as a container's process by the ward test suites.
 *
 * It prints one JSON object on stdout describing what the process observes (identity,
 * capabilities, limits, namespaces, mounts, /dev, fds, cgroup, ...). The harness normalizes
 * and compares these objects between runtimes. Build: gcc -static -O2 -o probe probe.c
 *
 * Usage: probe [-q] [ACTION ARGS...]...
 *   read PATH          record the content of PATH (first 4 KiB) or the errno
 *   write PATH [DATA]  create/truncate PATH (mode 0755 & ~umask), write DATA (default "x");
 *                      record errno
 *   stat PATH          record type, mode, uid, gid, rdev of PATH (lstat) or the errno
 *   exec PATH [ARG]    fork+execve PATH, record its exit status or the execve errno
 *   sleep N            after printing, sleep N seconds
 *   exit N             after printing, exit with status N
 *   kill-self SIG      after printing, kill(getpid(), SIG) (SIG_DFL restored first)
 *   -q                 do not print the JSON object (actions still run)
 * Without -q the JSON object is printed once the informational actions have run.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

static int first;

static void jstr(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", stdout);
        else if (*p == '\t')
            fputs("\\t", stdout);
        else if (*p < 0x20 || *p >= 0x7f)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

static void key(const char *k)
{
    if (!first)
        putchar(',');
    first = 0;
    jstr(k);
    putchar(':');
}

static void kstr(const char *k, const char *v)
{
    key(k);
    if (v)
        jstr(v);
    else
        fputs("null", stdout);
}

static void kint(const char *k, long long v)
{
    key(k);
    printf("%lld", v);
}

static void open_obj(void) { putchar('{'); first = 1; }
static void close_obj(void) { putchar('}'); first = 0; }
static void open_arr(void) { putchar('['); first = 1; }
static void close_arr(void) { putchar(']'); first = 0; }
static void sep(void) { if (!first) putchar(','); first = 0; }

static char *slurp(const char *path, size_t max)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    char *buf = malloc(max + 1);
    size_t n = 0;
    ssize_t r;
    while (n < max && (r = read(fd, buf + n, max - n)) > 0)
        n += (size_t)r;
    close(fd);
    buf[n] = 0;
    return buf;
}

static int cmpstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static const char *ftype(mode_t m)
{
    switch (m & S_IFMT) {
    case S_IFREG: return "f";
    case S_IFDIR: return "d";
    case S_IFLNK: return "l";
    case S_IFCHR: return "c";
    case S_IFBLK: return "b";
    case S_IFIFO: return "p";
    case S_IFSOCK: return "s";
    }
    return "?";
}

static void stat_obj(const char *path)
{
    struct stat st;
    open_obj();
    if (lstat(path, &st) < 0) {
        kint("errno", errno);
        close_obj();
        return;
    }
    kstr("type", ftype(st.st_mode));
    kint("mode", st.st_mode & 07777);
    kint("uid", st.st_uid);
    kint("gid", st.st_gid);
    if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
        char dev[32];
        snprintf(dev, sizeof dev, "%u:%u", major(st.st_rdev), minor(st.st_rdev));
        kstr("rdev", dev);
    }
    if (S_ISLNK(st.st_mode)) {
        char t[4096];
        ssize_t n = readlink(path, t, sizeof t - 1);
        t[n < 0 ? 0 : n] = 0;
        kstr("target", t);
    }
    close_obj();
}

/* Lists a directory as {name: stat}, sorted by name; recurses one level for /dev subdirs. */
static void dir_listing(const char *dir, int depth)
{
    DIR *d = opendir(dir);
    open_obj();
    if (!d) {
        kint("errno", errno);
        close_obj();
        return;
    }
    char *names[1024];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 1024)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof *names, cmpstr);
    for (int i = 0; i < n; i++) {
        char p[4096];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        key(names[i]);
        if (depth > 0 && lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
            open_obj();
            key(".");
            stat_obj(p);
            key("entries");
            dir_listing(p, depth - 1);
            close_obj();
        } else {
            stat_obj(p);
        }
        free(names[i]);
    }
    close_obj();
}

static void lines_array(const char *path, int sorted)
{
    char *s = slurp(path, 1 << 20);
    open_arr();
    if (!s) {
        close_arr();
        return;
    }
    char *lines[4096];
    int n = 0;
    for (char *save = NULL, *l = strtok_r(s, "\n", &save); l && n < 4096; l = strtok_r(NULL, "\n", &save))
        lines[n++] = l;
    if (sorted)
        qsort(lines, n, sizeof *lines, cmpstr);
    for (int i = 0; i < n; i++) {
        sep();
        jstr(lines[i]);
    }
    close_arr();
    free(s);
}

static void status_fields(void)
{
    static const char *want[] = {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb",
                                 "NoNewPrivs", "Seccomp", "Umask", NULL};
    char *s = slurp("/proc/self/status", 1 << 16);
    key("status");
    open_obj();
    for (char *save = NULL, *l = s ? strtok_r(s, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save)) {
        char *c = strchr(l, ':');
        if (!c)
            continue;
        *c = 0;
        for (int i = 0; want[i]; i++)
            if (!strcmp(l, want[i])) {
                char *v = c + 1;
                while (*v == ' ' || *v == '\t')
                    v++;
                kstr(l, v);
            }
    }
    close_obj();
    free(s);
}

static void rlimits(void)
{
    static const struct { const char *name; int res; } r[] = {
        {"RLIMIT_AS", RLIMIT_AS}, {"RLIMIT_CORE", RLIMIT_CORE}, {"RLIMIT_CPU", RLIMIT_CPU},
        {"RLIMIT_DATA", RLIMIT_DATA}, {"RLIMIT_FSIZE", RLIMIT_FSIZE},
        {"RLIMIT_LOCKS", RLIMIT_LOCKS}, {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
        {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
        {"RLIMIT_NOFILE", RLIMIT_NOFILE}, {"RLIMIT_NPROC", RLIMIT_NPROC},
        {"RLIMIT_RSS", RLIMIT_RSS}, {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
        {"RLIMIT_RTTIME", RLIMIT_RTTIME}, {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
        {"RLIMIT_STACK", RLIMIT_STACK},
    };
    key("rlimits");
    open_obj();
    for (size_t i = 0; i < sizeof r / sizeof *r; i++) {
        struct rlimit rl;
        getrlimit(r[i].res, &rl);
        key(r[i].name);
        open_arr();
        sep();
        printf("%lld", rl.rlim_cur == RLIM_INFINITY ? -1LL : (long long)rl.rlim_cur);
        sep();
        printf("%lld", rl.rlim_max == RLIM_INFINITY ? -1LL : (long long)rl.rlim_max);
        close_arr();
    }
    close_obj();
}

static void links_in(const char *dir, const char *keyname, int skipfd)
{
    DIR *d = opendir(dir);
    key(keyname);
    open_obj();
    if (!d) {
        close_obj();
        return;
    }
    char *names[1024];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 1024)
        if (e->d_name[0] != '.' && !(skipfd >= 0 && atoi(e->d_name) == skipfd))
            names[n++] = strdup(e->d_name);
    qsort(names, n, sizeof *names, cmpstr);
    for (int i = 0; i < n; i++) {
        char p[4096], t[4096];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        ssize_t len = readlink(p, t, sizeof t - 1);
        t[len < 0 ? 0 : len] = 0;
        kstr(names[i], t);
        free(names[i]);
    }
    closedir(d);
    close_obj();
}

struct act { const char *name; char *a1, *a2; };

static void run_actions(struct act *acts, int n)
{
    key("actions");
    open_arr();
    for (int i = 0; i < n; i++) {
        struct act *a = &acts[i];
        if (!strcmp(a->name, "read")) {
            sep();
            open_obj();
            kstr("action", "read");
            kstr("path", a->a1);
            errno = 0;
            char *s = slurp(a->a1, 4096);
            if (s)
                kstr("data", s);
            else
                kint("errno", errno);
            free(s);
            close_obj();
        } else if (!strcmp(a->name, "write")) {
            sep();
            open_obj();
            kstr("action", "write");
            kstr("path", a->a1);
            int fd = open(a->a1, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
            const char *data = a->a2 ? a->a2 : "x";
            int err = 0;
            if (fd < 0 || write(fd, data, strlen(data)) < 0)
                err = errno;
            if (fd >= 0)
                close(fd);
            kint("errno", err);
            close_obj();
        } else if (!strcmp(a->name, "stat")) {
            sep();
            open_obj();
            kstr("action", "stat");
            kstr("path", a->a1);
            key("stat");
            stat_obj(a->a1);
            close_obj();
        } else if (!strcmp(a->name, "exec")) {
            sep();
            open_obj();
            kstr("action", "exec");
            kstr("path", a->a1);
            int pfd[2];
            if (pipe2(pfd, O_CLOEXEC) < 0)
                _exit(111);
            fflush(stdout);
            pid_t pid = fork();
            if (pid == 0) {
                char *argv[] = {a->a1, a->a2, NULL};
                int devnull = open("/dev/null", O_WRONLY);
                if (devnull >= 0) {
                    dup2(devnull, 1);
                    dup2(devnull, 2);
                }
                execv(a->a1, argv);
                int e = errno;
                (void)!write(pfd[1], &e, sizeof e);
                _exit(127);
            }
            close(pfd[1]);
            int e = 0, st = 0;
            ssize_t r = read(pfd[0], &e, sizeof e);
            close(pfd[0]);
            waitpid(pid, &st, 0);
            if (r == sizeof e)
                kint("errno", e);
            else
                kint("status", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
            close_obj();
        }
    }
    close_arr();
}

int main(int argc, char **argv)
{
    int quiet = 0;
    struct act acts[64];
    int nact = 0;
    for (int i = 1; i < argc;) {
        if (!strcmp(argv[i], "-q")) {
            quiet = 1;
            i++;
            continue;
        }
        if (nact == 64)
            break;
        struct act *a = &acts[nact++];
        a->name = argv[i++];
        a->a1 = i < argc ? argv[i++] : NULL;
        a->a2 = NULL;
        if ((!strcmp(a->name, "write") || !strcmp(a->name, "exec")) && i < argc &&
            strcmp(argv[i], "read") && strcmp(argv[i], "write") && strcmp(argv[i], "stat") &&
            strcmp(argv[i], "exec") && strcmp(argv[i], "sleep") && strcmp(argv[i], "exit") &&
            strcmp(argv[i], "kill-self"))
            a->a2 = argv[i++];
        if (!a->a1) {
            fprintf(stderr, "probe: %s needs an argument\n", a->name);
            return 2;
        }
    }

    if (!quiet) {
        /* Read the fd list first so that no fd of our own shows up in it. */
        open_obj();
        kint("pid", getpid());
        kint("ppid", getppid());
        kint("uid", getuid());
        kint("gid", getgid());
        kint("euid", geteuid());
        kint("egid", getegid());
        gid_t groups[256];
        int ng = getgroups(256, groups);
        key("groups");
        open_arr();
        for (int i = 0; i < ng; i++) {
            sep();
            printf("%u", groups[i]);
        }
        close_arr();
        status_fields();
        mode_t um = umask(0);
        umask(um);
        kint("umask", um);
        char cwd[4096];
        kstr("cwd", getcwd(cwd, sizeof cwd) ? cwd : NULL);
        struct utsname u;
        uname(&u);
        kstr("hostname", u.nodename);
        kstr("domainname", u.domainname);
        extern char **environ;
        int ne = 0;
        while (environ[ne])
            ne++;
        char **env = malloc((ne + 1) * sizeof *env);
        memcpy(env, environ, ne * sizeof *env);
        qsort(env, ne, sizeof *env, cmpstr);
        key("env");
        open_arr();
        for (int i = 0; i < ne; i++) {
            sep();
            jstr(env[i]);
        }
        close_arr();
        rlimits();
        links_in("/proc/self/ns", "ns", -1);
        int dfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        /* the directory stream's own fd is the lowest free one: skip it */
        int skip = dfd;
        if (dfd >= 0)
            close(dfd);
        links_in("/proc/self/fd", "fds", skip);
        key("mountinfo");
        lines_array("/proc/self/mountinfo", 0);
        key("cgroup");
        lines_array("/proc/self/cgroup", 0);
        key("dev");
        dir_listing("/dev", 1);
        char *oom = slurp("/proc/self/oom_score_adj", 64);
        kint("oom_score_adj", oom ? atoi(oom) : -9999);
        free(oom);
        kint("personality", personality(0xffffffff));
        kint("sched_policy", sched_getscheduler(0));
        errno = 0;
        kint("nice", getpriority(PRIO_PROCESS, 0));
        kint("ioprio", syscall(SYS_ioprio_get, 1 /* IOPRIO_WHO_PROCESS */, 0));
        key("tty");
        open_arr();
        for (int i = 0; i < 3; i++) {
            sep();
            fputs(isatty(i) ? "true" : "false", stdout);
        }
        close_arr();
        run_actions(acts, nact);
        close_obj();
        putchar('\n');
        fflush(stdout);
    } else {
        int saved = dup(1), devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0)
            dup2(devnull, 1);
        run_actions(acts, nact);
        fflush(stdout);
        if (saved >= 0)
            dup2(saved, 1);
    }

    for (int i = 0; i < nact; i++) {
        if (!strcmp(acts[i].name, "sleep")) {
            sleep((unsigned)atoi(acts[i].a1));
        } else if (!strcmp(acts[i].name, "exit")) {
            return atoi(acts[i].a1);
        } else if (!strcmp(acts[i].name, "kill-self")) {
            int sig = atoi(acts[i].a1);
            signal(sig, SIG_DFL);
            sigset_t set;
            sigemptyset(&set);
            sigaddset(&set, sig);
            sigprocmask(SIG_UNBLOCK, &set, NULL);
            kill(getpid(), sig);
            /* pid 1 of a pid namespace ignores signals it has no handler for: exit like it */
            return 128 + sig;
        }
    }
    return 0;
}
