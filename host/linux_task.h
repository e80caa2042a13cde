/* Declarations private to the spawn backend (linux_task.c) and fdio_spawn.c. */
#ifndef ZXPY_HOST_LINUX_TASK_H_
#define ZXPY_HOST_LINUX_TASK_H_

/* fdio's <lib/fdio/limits.h> values, which the spawn action rules depend on: target fds must be below
 * FDIO_MAX_FD, and a target fd flagged FDIO_FLAG_USE_FOR_STDIO also serves as stdio when fds 0-2 are not given. */
#define HK_FDIO_MAX_FD 1024
#define HK_FDIO_FLAG_USE_FOR_STDIO 0x8000

#endif /* ZXPY_HOST_LINUX_TASK_H_ */
