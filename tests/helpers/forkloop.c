/* Test helper: threads that fork and vfork without end, to be suspended and killed in the middle of it.
 *
 * usage: forkloop DIR
 *
 * One thread forks children that each append their pid to DIR/pids and sleep forever (32 of them, one about every
 * 2 ms), then goes on forking children that exit at once, and reaps them.  Another thread vforks children that
 * exec this program ("forkloop DIR --exit": it exits at once), and reaps them.  Every process of the tree has DIR
 * in its command line.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *dir;

static void pause_us(long us) {
    struct timespec ts = {0, us * 1000};
    nanosleep(&ts, NULL);
}

static void record_and_sleep(void) {
    char path[4096], line[32];
    snprintf(path, sizeof(path), "%s/pids", dir);
    int len = snprintf(line, sizeof(line), "%d\n", (int)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd < 0 || write(fd, line, (size_t)len) != len) _exit(1);
    close(fd);
    for (;;) pause();
}

static void *forker(void *arg) {
    for (int i = 0; i < 32; i++) {
        if (fork() == 0) record_and_sleep();
        pause_us(2000);
    }
    for (;;) {
        pid_t pid = fork();
        if (pid == 0) _exit(0);
        if (pid > 0) waitpid(pid, NULL, 0);
        pause_us(500);
    }
    return arg;
}

static void *vforker(void *arg) {
    char *args[] = {(char *)"forkloop", (char *)dir, (char *)"--exit", NULL};
    for (;;) {
        pid_t pid = vfork();
        if (pid == 0) {
            execv("/proc/self/exe", args);
            _exit(1);
        }
        if (pid > 0) waitpid(pid, NULL, 0);
        pause_us(500);
    }
    return arg;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[2], "--exit") == 0) return 0;
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    dir = argv[1];
    pthread_t a, b;
    if (pthread_create(&a, NULL, forker, NULL) != 0 || pthread_create(&b, NULL, vforker, NULL) != 0) {
        perror("pthread_create");
        return 1;
    }
    for (;;) pause();
}
