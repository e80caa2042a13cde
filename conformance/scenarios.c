/* The scenario table: every scenario of zircon-semantics.md §4 (by its number) and the rule scenarios ("r_")
 * that check the kill/suspend rules of §0-§3 and the Decisions block directly.
 *
 * A row without a function is a scenario this suite cannot run anywhere, with the reason.  Those reasons are
 * fixed facts of the suite (objects and calls outside the binding's contract, README.md "What zxpy binds", or
 * behaviour of kernels before RFC-0007), not run-time conditions: on the host and on Fuchsia the same rows run
 * and the same rows are skipped. */
#include "harness.h"
#include "scenarios.h"

#define RUN(id, name, fn) {id, name, fn, NULL}
#define SKIP(id, name, why) {id, name, NULL, why}

#define NEEDS_PROCESS_START \
    "needs code in a zx_process_create'd process (zx_process_start + VMO/VMAR mapping), outside the binding's contract"

const t_scenario t_scenarios[] = {
    /* threads/threads.cc */
    RUN("s01", "Threads.Basics", s01_basics),
    RUN("s02", "Threads.InvalidRights", s02_invalid_rights),
    RUN("s03", "Threads.NonstartedThread", s03_nonstarted_thread),
    SKIP("s04", "test_bad_state_nonstarted_thread",
         "2018 kernel only (BAD_STATE for a NEW thread, zx_task_resume); today's rule runs as r_suspend_new_thread"),
    SKIP("s05", "Threads.ThreadStartOnInitialThread", NEEDS_PROCESS_START),
    SKIP("s06", "Threads.ProcessStartOnSecondThread", NEEDS_PROCESS_START),
    RUN("s07", "Threads.InfoTaskStatsFails/InfoThreadStatsFails (+ GetLastScheduledCpu, task stats of a process)",
        s07_info_task_and_thread_stats),
    RUN("s08", "Threads.GetInfoRuntime/GetInfoRuntimeV1", s08_get_info_runtime),
    RUN("s09", "Threads.ResumeSuspended", s09_resume_suspended),
    RUN("s10", "Threads.SuspendSleeping", s10_suspend_sleeping),
    RUN("s11", "Threads.SuspendChannelCall", s11_suspend_channel_call),
    RUN("s12", "Threads.SuspendPortCall", s12_suspend_port_call),
    RUN("s13", "Threads.SuspendStopsThread", s13_suspend_stops_thread),
    RUN("s14", "Threads.SuspendMultiple (two tokens; no debugger exception)", s14_suspend_multiple_tokens),
    RUN("s15", "Threads.SuspendSelf", s15_suspend_self_thread),
    RUN("s16", "Threads.SuspendAfterDeath", s16_suspend_after_death),
    RUN("s17", "Threads.StartSuspendedThread", s17_start_suspended_thread),
    RUN("s18", "Threads.StartSuspendedAndResumedThread", s18_start_suspended_and_resumed),
    RUN("s19", "Threads.SuspendSingle/RepeatingWaitAsyncSignalDelivery (wait_one for the port)",
        s19_suspend_signal_delivery),
    RUN("s20", "KillSuspendedThread, today: kill a suspended process", s20_kill_suspended_process),
    RUN("s21", "test_kill_busy_thread, today: kill a busy process", s21_kill_busy_process),
    RUN("s22", "test_thread_kills_itself, today: a process kills itself", s22_process_kills_itself),
    SKIP("s23", "Threads.SyscallSuspendedRegisterState/SyscallDebuggerModifyResult",
         "needs zx_thread_read_state/write_state (debugger registers), outside the binding's contract"),
    RUN("s24", "Threads.X86AcFlagUserCopy (a fault: EXCEPTION_KILL)", s24_crash_exception_kill),
    /* process/process.cc */
    RUN("s25", "Process.ProcessStartNoHandle (exit codes)", s25_process_exit_code),
    SKIP("s26", "Process.ProcessStartFail", "needs zx_process_start, outside the binding's contract"),
    RUN("s27", "Process.ProcessNotKilledViaThreadClose/ProcessClose + InfoProcessNoProcessHandles (42)",
        s27_process_not_killed_by_close),
    SKIP("s28", "Process.KillProcessViaThreadKill",
         "pre-RFC-0007 kernels only; today a thread kill is WRONG_TYPE (r_kill_thread_wrong_type)"),
    RUN("s29", "Process.KillChannelHandleCycle (without the channel cycle)",
        s29_kill_job_ends_unreferenced_processes),
    RUN("s30", "Process.InfoReflectsProcessState", s30_info_reflects_process_state),
    RUN("s31", "Process.Suspend", s31_process_suspend),
    RUN("s32", "Process.SuspendSelf", s32_suspend_self_process),
    RUN("s33", "Process.SuspendMultipleThreads", s33_suspend_multiple_threads),
    RUN("s34", "Process.SuspendBeforeCreating/StartingThreads (the unstarted part)", s34_suspend_unstarted_process),
    SKIP("s35", "Process.SuspendBeforeStartingThreads (starting the threads)", NEEDS_PROCESS_START),
    RUN("s36a", "Process.SuspendProcessThenThread", s36_suspend_process_then_thread),
    RUN("s36b", "Process.SuspendThreadThenProcess", s36_suspend_thread_then_process),
    SKIP("s37", "Process.SuspendThreadAndProcessBeforeStartingProcess", NEEDS_PROCESS_START),
    RUN("s38", "Process.SuspendTwice", s38_suspend_process_twice),
    RUN("s39", "Process.SuspendWithDyingThread", s39_suspend_with_dying_threads),
    RUN("s40", "Process.CreateAndKillJobRaceStress", s40_create_and_kill_job_race),
    SKIP("s41", "Process.ProcessStartWriteThreadState",
         "needs zx_process_start and thread register state, outside the binding's contract"),
    RUN("s43", "Process.GetRuntimeNoPermission/GetInfoRuntime (+ job runtime)", s43_get_runtime),
    /* job/jobs.cc */
    RUN("s44", "Job.BasicTest", s44_job_basic),
    RUN("s45", "Job.JobSignals", s45_job_signals),
    RUN("s46", "Job.CreateMissingRightsTest", s46_job_create_missing_rights),
    RUN("s47", "Job.KillTest", s47_job_kill),
    RUN("s48", "Job.KillJobNoChildTest", s48_kill_empty_job),
    RUN("s49", "Job.KillJobRemovesFromTree", s49_kill_job_removes_from_tree),
    RUN("s50", "Job.CloseJobRemovesFromTree", s50_close_job_removes_from_tree),
    RUN("s51", "Job.KillJobChain", s51_kill_job_chain),
    RUN("s52", "Job.*CriticalProcess* (+ the call's option, handle and rights checks)", s52_critical_process),
    RUN("s53", "Job.WaitTest", s53_job_wait_no_processes),
    RUN("s54", "Job.MaxHeightSmoke", s54_job_max_height),
    /* handle and info tests */
    RUN("s55a", "HandleInfo.DupAndInfoRights", s55_dup_and_info_rights),
    RUN("s55b", "HandleInfo.RelatedKoid", s55_related_koid),
    RUN("s55c", "HandleInfo.DuplicateRights", s55_duplicate_rights),
    RUN("s56", "HandleDup.ReplaceFailureBothInvalid + HandleInfo.ReplaceRights", s56_replace_failure_both_invalid),
    RUN("s57", "HandleClose.*", s57_handle_close),
    RUN("s58", "handle-wait: close cancels a wait", s58_close_cancels_wait),
    RUN("s59", "ObjectChild.* (+ get_child rights)", s59_object_get_child),
    RUN("s60", "JobGetInfo/ThreadGetInfo", s60_object_info),
    /* rules of zircon-semantics.md §0-§3 and the Decisions block */
    RUN("r01", "kill: a thread is WRONG_TYPE (Decisions)", r_kill_thread_wrong_type),
    RUN("r02", "kill: BAD_HANDLE, then ACCESS_DENIED, then WRONG_TYPE", r_kill_errors),
    RUN("r03", "kill: unstarted process dies at once; dead task kill is OK", r_kill_unstarted_and_dead),
    RUN("r04", "kill: ZX_INFO_PROCESS says EXITED when kill returns", r_kill_process_info_immediate),
    RUN("r05", "kill: job kill codes, parent untouched", r_job_kill_return_codes),
    RUN("r12", "kill: a process whose threads keep starting and exiting", r_kill_process_with_churning_threads),
    RUN("r06", "suspend: BAD_HANDLE, ACCESS_DENIED, WRONG_TYPE (jobs)", r_suspend_errors),
    RUN("r07", "suspend: a NEW thread is OK and stays NEW", r_suspend_new_thread),
    RUN("r08", "suspend: a dead process is BAD_STATE", r_suspend_dead_process),
    RUN("r09", "suspend tokens: TRANSFER|INSPECT, no dup/wait, replace", r_suspend_token_rules),
    RUN("r10", "get_info: topic, type, rights order", r_get_info_errors),
    RUN("r11", "wait_one: immediate, past deadline, rights", r_wait_one_rules),
    RUN("r13", "channel: rights, koids, signals, read/write rules, peer closed", r_channel_rules),
    RUN("r14", "channel: handles move (TRANSFER, consumed on failure); a token in flight", r_channel_handles),
    RUN("r15", "channel_call: kernel txid, reply to the caller only, errors", r_channel_call),
    RUN("r16", "channel_call: CANCELED on own last close, PEER_CLOSED", r_channel_call_cancel),
    RUN("r17", "port: user packets FIFO, TIMED_OUT, rights", r_port_rules),
    RUN("r18", "port: closing it does not end a wait (TIMED_OUT at the deadline)", r_port_close_during_wait),
    RUN("r19", "get_info: ZX_INFO_PROCESS v0 (3, 16 bytes, bools) and v1 (0x10000003, 24 bytes, flags, start_time)",
        r_info_process_versions),
    RUN("r20", "get_info: ZX_INFO_TASK_STATS v0 (12, 32 bytes) and v1 (0x1000000C, 40 bytes); BAD_STATE first",
        r_info_task_stats_versions),
    RUN("r21", "get_info: ZX_INFO_TASK_RUNTIME v0 (30, 16 bytes) and v1 (0x1000001E, 32 bytes); rights first",
        r_info_task_runtime_versions),
    RUN("r22", "property: ZX_PROP_NAME get/set (NULL, handle, rights, size, unknown property, truncation)",
        r_property_name),
};

const size_t t_scenario_count = sizeof t_scenarios / sizeof t_scenarios[0];
