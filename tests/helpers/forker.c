/* Test helper: a small process tree that outlives nothing it should not.
 *
 * usage: forker PATH N
 *
 * Forks N children; each child forks one grandchild.  Every process of the tree (this one included) appends its
 * pid, one per line, to PATH, then sleeps forever.  The caller waits for 2N + 1 lines.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static void report(const char *path) {
    char line[32];
    int len = snprintf(line, sizeof line, "%ld\n", (long)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd < 0 || write(fd, line, (size_t)len) != len) {
        perror(path);
        _exit(1);
    }
    close(fd);
}

static void sleep_forever(void) {
    for (;;) pause();
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s PATH N\n", argv[0]);
        return 2;
    }
    long n = strtol(argv[2], NULL, 10);
    for (long i = 0; i < n; i++) {
        pid_t child = fork();
        if (child < 0) {
            perror("fork");
            return 1;
        }
        if (child == 0) {
            pid_t grandchild = fork();
            if (grandchild < 0) _exit(1);
            report(argv[1]);
            sleep_forever();
        }
    }
    report(argv[1]);
    sleep_forever();
}
