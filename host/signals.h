/* Every signal number the host kernel takes for itself, defined once.
 *
 * The host kernel lives inside the calling program, so the signals it uses are taken from that program's own:
 *   HK_PARK_SIGNAL  self_thread.c: sent to a thread of this program to park it (zx_task_suspend); its handler
 *                   sleeps until the thread is resumed
 *   HK_WAKE_SIGNAL  linux_monitor.c: sent to the spawn monitor thread to interrupt its wait when a request (spawn,
 *                   kill, stop, resume) is queued
 * Both are real-time signals, numbered from SIGRTMIN, which is a function call in glibc (it skips the signals glibc
 * keeps for itself), so the numbers exist only at run time.  Their offsets are one enum, so no two can be equal, and
 * a static assertion keeps every one of them among the _POSIX_RTSIG_MAX (8) real-time signals POSIX guarantees.
 * SIGRTMIN+0..+5 are left to the program and its libraries; README documents +6 and +7 as reserved by zxpy.
 */
#ifndef ZXPY_HOST_SIGNALS_H_
#define ZXPY_HOST_SIGNALS_H_

#include <limits.h>
#include <signal.h>

#ifndef _POSIX_RTSIG_MAX
#define _POSIX_RTSIG_MAX 8
#endif

enum hk_rt_signal_offset {
    HK_RTSIG_FIRST = 6,
    HK_RTSIG_PARK = HK_RTSIG_FIRST, /* HK_PARK_SIGNAL */
    HK_RTSIG_WAKE,                  /* HK_WAKE_SIGNAL */
    HK_RTSIG_END                    /* one past the last: add new signals above it */
};
_Static_assert(HK_RTSIG_END <= _POSIX_RTSIG_MAX,
               "the host kernel's real-time signals must lie within the _POSIX_RTSIG_MAX guaranteed ones");

#define HK_PARK_SIGNAL (SIGRTMIN + HK_RTSIG_PARK)
#define HK_WAKE_SIGNAL (SIGRTMIN + HK_RTSIG_WAKE)

#endif /* ZXPY_HOST_SIGNALS_H_ */
