/* conformance_killself: calls zx_task_kill(zx_process_self()).
 *
 * Zircon: a process that kills itself never returns from the call, and its return code is
 * ZX_TASK_RETCODE_SYSCALL_KILL.  If the call does return, this program exits with 99 (a code the scenario
 * rejects), after printing what the call returned.
 */
#include <stdio.h>

#include <zircon/process.h>
#include <zircon/syscalls.h>

int main(void) {
    zx_status_t st = zx_task_kill(zx_process_self());
    fprintf(stderr, "conformance_killself: zx_task_kill(zx_process_self()) returned %d\n", (int)st);
    return 99;
}
