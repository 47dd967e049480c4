/* sysprobe: a static helper run inside containers by test_seccomp.py and test_confinement.py.
 *
 * Each argument names one action; most make one raw syscall (through syscall(2), so libc
 * wrappers cannot substitute another syscall) and print one line "NAME RET ERRNO" on stdout,
 * unbuffered, so that lines before a fatal syscall survive a SIGSYS kill.
 *
 *   mkdir PATH             mkdir(PATH, 0755)
 *   getppid [ARG]          getppid with ARG in the first argument register (filters see it)
 *   personality VAL        personality(VAL)
 *   socket FAMILY TYPE     socket(FAMILY, TYPE, 0), numbers (TYPE may include SOCK_CLOEXEC)
 *   sigsys-handler         install a SIGSYS handler that prints "SIGSYS CODE SYSCALL ARCH"
 *   thread-mkdir PATH      mkdir in a second thread, then print "joined 0 0" from the main one
 *   mount | unshare | kexec_load | bpf | ptrace | keyctl
 *                          the call with arguments that have no side effect when allowed
 *   usual                  a battery of ordinary syscalls; "usual 0 0" or "usual -1 ERRNO WHICH"
 *   mark TEXT              print "mark TEXT" (progress marker)
 *   thread                 pthread_create of a thread that returns at once (glibc tries clone3
 *                          first, clone after ENOSYS): "thread 0 0" or "thread -1 ERRNO"
 *   faccessat-eaccess PATH glibc's faccessat(X_OK, AT_EACCESS) (faccessat2 first, emulated
 *                          with fstatat after ENOSYS)
 *   syscall NR             the raw syscall NR with zero arguments
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void report(const char *name, long ret, int err) {
    dprintf(1, "%s %ld %d\n", name, ret, ret < 0 ? err : 0);
}

#define CALL(name, ...)                                                                       \
    do {                                                                                      \
        errno = 0;                                                                            \
        long r_ = syscall(__VA_ARGS__);                                                       \
        report(name, r_, errno);                                                              \
    } while (0)

static void on_sigsys(int sig, siginfo_t *si, void *uc) {
    (void)sig;
    (void)uc;
    char buf[96];
    int n = snprintf(buf, sizeof buf, "SIGSYS %d %d %u\n", si->si_code, si->si_syscall,
                     si->si_arch);
    write(1, buf, n);
}

static void *thread_mkdir(void *p) {
    CALL("thread-mkdir", SYS_mkdir, (const char *)p, 0755);
    return NULL;
}

static void on_usr1(int sig) { (void)sig; }

static void *noop_thread(void *p) { return p; }

/* Ordinary syscalls of an ordinary program; returns the name of the first that failed. */
static const char *usual(void) {
    char buf[256];
    struct stat st;
    if (stat("/", &st) != 0) return "stat";
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return "open";
    if (read(fd, buf, sizeof buf) <= 0) return "read";
    if (lseek(fd, 0, SEEK_SET) != 0) return "lseek";
    if (pread(fd, buf, 16, 4) != 16) return "pread";
    if (fstat(fd, &st) != 0) return "fstat";
    int fd2 = dup(fd);
    if (fd2 < 0) return "dup";
    if (dup3(fd2, 40, O_CLOEXEC) != 40) return "dup3";
    if (fcntl(40, F_GETFD) != FD_CLOEXEC) return "fcntl";
    close(40);
    close(fd2);
    close(fd);
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return "pipe2";
    struct iovec iov = {.iov_base = "hello", .iov_len = 5};
    if (writev(p[1], &iov, 1) != 5) return "writev";
    struct pollfd pfd = {.fd = p[0], .events = POLLIN};
    if (poll(&pfd, 1, 1000) != 1) return "poll";
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) return "epoll_create1";
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = p[0]};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) != 0) return "epoll_ctl";
    if (epoll_wait(ep, &ev, 1, 1000) != 1) return "epoll_wait";
    if (read(p[0], buf, 5) != 5) return "read(pipe)";
    close(ep);
    close(p[0]);
    close(p[1]);
    void *m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return "mmap";
    memset(m, 1, 1 << 20);
    if (mprotect(m, 4096, PROT_READ) != 0) return "mprotect";
    if (madvise(m, 1 << 20, MADV_DONTNEED) != 0) return "madvise";
    if (munmap(m, 1 << 20) != 0) return "munmap";
    void *b = malloc(8 << 20); /* brk or mmap */
    if (!b) return "malloc";
    free(b);
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) return "clock_gettime";
    struct timespec nap = {0, 1000000};
    if (nanosleep(&nap, NULL) != 0) return "nanosleep";
    if (getrandom(buf, 16, 0) != 16) return "getrandom";
    struct utsname u;
    if (uname(&u) != 0) return "uname";
    if (!getcwd(buf, sizeof buf)) return "getcwd";
    if (chdir("/proc") != 0 || chdir("/") != 0) return "chdir";
    if (getpid() <= 0 || getuid() == (uid_t)-1 || getgid() == (gid_t)-1) return "getpid";
    struct rlimit rl;
    if (prlimit(0, RLIMIT_NOFILE, NULL, &rl) != 0) return "prlimit64";
    cpu_set_t cs;
    if (sched_getaffinity(0, sizeof cs, &cs) != 0) return "sched_getaffinity";
    if (sched_yield() != 0) return "sched_yield";
    int efd = eventfd(0, EFD_CLOEXEC);
    if (efd < 0) return "eventfd2";
    close(efd);
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    if (tfd < 0) return "timerfd_create";
    close(tfd);
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return "socketpair";
    if (send(sv[0], "x", 1, 0) != 1 || recv(sv[1], buf, 1, 0) != 1) return "sendto/recvfrom";
    close(sv[0]);
    close(sv[1]);
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) return "socket(AF_INET)";
    close(s);
    struct sigaction sa = {.sa_handler = on_usr1};
    if (sigaction(SIGUSR1, &sa, NULL) != 0) return "rt_sigaction";
    if (kill(getpid(), SIGUSR1) != 0) return "kill";
    sigset_t set;
    sigemptyset(&set);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0) return "rt_sigprocmask";
    if (mkdir("/tmp/sysprobe.d", 0755) != 0 && errno != EROFS) return "mkdir";
    pthread_t t;
    if (pthread_create(&t, NULL, noop_thread, NULL) != 0) return "pthread_create(clone)";
    if (pthread_join(t, NULL) != 0) return "pthread_join";
    pid_t c = fork();
    if (c < 0) return "fork(clone)";
    if (c == 0) {
        execl("/bin/true", "true", (char *)NULL);
        _exit(127);
    }
    int ws;
    if (waitpid(c, &ws, 0) != c) return "wait4";
    if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) return "execve(/bin/true)";
    return NULL;
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *x = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(a, "mkdir")) {
            CALL("mkdir", SYS_mkdir, x, 0755);
            i++;
        } else if (!strcmp(a, "getppid")) {
            long v = 0;
            if (i + 1 < argc && argv[i + 1][0] >= '0' && argv[i + 1][0] <= '9')
                v = strtol(argv[++i], NULL, 0);
            CALL("getppid", SYS_getppid, v);
        } else if (!strcmp(a, "personality")) {
            CALL("personality", SYS_personality, strtoul(x, NULL, 0));
            i++;
        } else if (!strcmp(a, "socket")) {
            long fam = strtol(x, NULL, 0);
            long type = strtol(i + 2 < argc ? argv[i + 2] : "1", NULL, 0);
            CALL("socket", SYS_socket, fam, type, 0);
            i += 2;
        } else if (!strcmp(a, "sigsys-handler")) {
            struct sigaction sa = {.sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO};
            sigaction(SIGSYS, &sa, NULL);
            report("sigsys-handler", 0, 0);
        } else if (!strcmp(a, "thread-mkdir")) {
            pthread_t t;
            pthread_create(&t, NULL, thread_mkdir, (void *)x);
            pthread_join(t, NULL);
            report("joined", 0, 0);
            i++;
        } else if (!strcmp(a, "mount")) {
            /* allowed (with CAP_SYS_ADMIN): ENOENT, the target does not exist */
            CALL("mount", SYS_mount, "none", "/nonexistent/target", "tmpfs", 0, NULL);
        } else if (!strcmp(a, "unshare")) {
            CALL("unshare", SYS_unshare, 0); /* allowed: 0, a no-op */
        } else if (!strcmp(a, "kexec_load")) {
            /* allowed (with CAP_SYS_BOOT): EINVAL for the unknown flags, nothing loaded */
            CALL("kexec_load", SYS_kexec_load, 0, 0, NULL, 0xdead0000UL);
        } else if (!strcmp(a, "bpf")) {
            CALL("bpf", SYS_bpf, 9999, NULL, 0); /* allowed: EINVAL, unknown command */
        } else if (!strcmp(a, "ptrace")) {
            /* allowed: ESRCH, no such process */
            CALL("ptrace", SYS_ptrace, 16 /* PTRACE_ATTACH */, 999999, NULL, NULL);
        } else if (!strcmp(a, "keyctl")) {
            CALL("keyctl", SYS_keyctl, 9999, 0, 0, 0, 0); /* allowed: EOPNOTSUPP */
        } else if (!strcmp(a, "usual")) {
            errno = 0;
            const char *f = usual();
            if (f)
                dprintf(1, "usual -1 %d %s\n", errno ? errno : -1, f);
            else
                report("usual", 0, 0);
        } else if (!strcmp(a, "thread")) {
            pthread_t t;
            int e = pthread_create(&t, NULL, noop_thread, NULL);
            if (e == 0)
                pthread_join(t, NULL);
            report("thread", e ? -1 : 0, e);
        } else if (!strcmp(a, "faccessat-eaccess")) {
            errno = 0;
            int r = faccessat(AT_FDCWD, x, X_OK, AT_EACCESS);
            report("faccessat-eaccess", r, errno);
            i++;
        } else if (!strcmp(a, "syscall")) {
            long nr = strtol(x, NULL, 0);
            CALL("syscall", nr, 0, 0, 0, 0, 0, 0);
            i++;
        } else if (!strcmp(a, "mark")) {
            dprintf(1, "mark %s\n", x);
            i++;
        } else {
            dprintf(2, "sysprobe: unknown action %s\n", a);
            return 2;
        }
    }
    return 0;
}
