/* A setuid-root test binary: reports its ids, tries setuid(0) (which also sets the
 * real uid only with CAP_SETUID), stays alive a moment (so /proc can be read), and
 * exits 0 when it runs with euid 0, 1 if not. */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

int main(void) {
	printf("uid=%d euid=%d\n", (int)getuid(), (int)geteuid());
	int ok = setuid(0) == 0 && getuid() == 0;
	printf("setuid(0): %s\n", ok ? "ok" : "refused");
	ok = geteuid() == 0;
	fflush(stdout);
	struct timespec ts = {0, 500 * 1000000L};
	nanosleep(&ts, NULL);
	return ok ? 0 : 1;
}
