/* Channel and port scenarios: threads.cc SuspendChannelCall / SuspendPortCall (scenarios 11-12 of the suite's
 * numbering; zircon/kernel/kernel/thread.cc Thread::Suspend: a blocked call interrupted by a suspension is retried
 * after the resume and takes nothing while suspended), and rule scenarios for the channel and port calls those two
 * rely on (channel_dispatcher.cc, port_dispatcher.cc, syscalls/channel.cc, syscalls/port.cc), plus a suspend token
 * carried in a channel (suspend_token_dispatcher.cc: the task resumes when the token's last handle goes). */
#include <string.h>

#include <zircon/syscalls/port.h>

#include "harness.h"
#include "scenarios.h"

#define MS(n) ((zx_duration_t)(n) * 1000 * 1000)

static void channel(zx_handle_t *a, zx_handle_t *b) {
    *a = *b = ZX_HANDLE_INVALID;
    T_OK(zx_channel_create(0, a, b));
    T_NE(ZX_HANDLE_INVALID, *a);
    T_NE(ZX_HANDLE_INVALID, *b);
}

/* A thread of this process that calls zx_channel_call on caller_end with no deadline; its status lands in ctl. */
static zx_handle_t start_call(zx_handle_t caller_end, tf_ctl_t *ctl) {
    ctl->handle = caller_end;
    ctl->deadline = ZX_TIME_INFINITE;
    ctl->status = ZX_ERR_INTERNAL;
    return t_thread_run("caller", tf_channel_call, ctl);
}

static zx_handle_t port(void) {
    zx_handle_t p = ZX_HANDLE_INVALID;
    T_OK(zx_port_create(0, &p));
    return t_own(p);
}

static zx_handle_t suspend(zx_handle_t task) {
    zx_handle_t token = ZX_HANDLE_INVALID;
    T_OK(zx_task_suspend(task, &token));
    return t_own(token);
}

static zx_port_packet_t user_packet(uint64_t key) {
    zx_port_packet_t packet;
    memset(&packet, 0, sizeof packet);
    packet.key = key;
    packet.type = ZX_PKT_TYPE_USER;
    return packet;
}

/* Deferred: a thread still blocked in zx_port_wait on this port gets a packet and can end. */
static void queue_cleanup(uintptr_t port_handle) {
    zx_port_packet_t packet = user_packet(0);
    zx_port_queue((zx_handle_t)port_handle, &packet);
}

static zx_handle_t valid_or_bad(zx_handle_t h) {
    return zx_object_get_info(h, ZX_INFO_HANDLE_VALID, NULL, 0, NULL, NULL);
}

/* 11. SuspendChannelCall: the reply to a suspended caller is held for it -- its end is not READABLE and a read
 * there gives SHOULD_WAIT -- and the call completes with that reply after the resume. */
void s11_suspend_channel_call(void) {
    zx_handle_t caller_end, server;
    channel(&caller_end, &server);
    t_own(caller_end);
    tf_ctl_t *ctl = t_ctl();
    zx_handle_t th = start_call(caller_end, ctl);
    t_own(server); /* closed first at the end: a call still waiting then ends with PEER_CLOSED */

    t_wait(server, ZX_CHANNEL_READABLE); /* the request is out: the caller waits for its reply */
    zx_handle_t token = suspend(th);
    t_wait(th, ZX_THREAD_SUSPENDED);

    uint8_t buf[9];
    uint32_t actual_bytes = 0, actual_handles = 0;
    T_OK(zx_channel_read(server, 0, buf, NULL, sizeof buf, 0, &actual_bytes, &actual_handles));
    T_EQ(sizeof buf, actual_bytes);
    T_EQ(0, actual_handles);
    T_TRUE(memcmp(buf + sizeof(zx_txid_t), "efghi", 5) == 0);
    zx_txid_t txid;
    memcpy(&txid, buf, sizeof txid);
    T_TRUE(txid & 0x80000000u); /* chosen by the kernel: the caller wrote "abcd" there */

    buf[8] = 'j';
    T_OK(zx_channel_write(server, 0, buf, sizeof buf, NULL, 0));
    T_STATUS(ZX_ERR_TIMED_OUT, zx_object_wait_one(caller_end, ZX_CHANNEL_READABLE, 0, NULL));
    T_STATUS(ZX_ERR_SHOULD_WAIT, zx_channel_read(caller_end, 0, buf, NULL, sizeof buf, 0, &actual_bytes, NULL));
    t_wait_quiet(th, ZX_THREAD_TERMINATED);
    T_EQ(0, t_load32(&ctl->done));

    t_close(token);
    t_wait(th, ZX_THREAD_TERMINATED);
    T_OK(t_load_s32(&ctl->status));
    T_EQ(0, t_signals(caller_end) & ZX_CHANNEL_READABLE);
}

/* 12. SuspendPortCall: packets queued while the waiter is suspended stay in the port; after the resume the
 * waiter takes exactly one (the first) and the other is still there. */
void s12_suspend_port_call(void) {
    zx_handle_t in = port(), out = port();
    tf_ctl_t *ctl = t_ctl();
    ctl->handle = in;
    ctl->handle2 = out;
    ctl->deadline = ZX_TIME_INFINITE;
    ctl->status = ZX_ERR_INTERNAL;
    zx_handle_t th = t_thread_run("porter", tf_port_relay, ctl);
    t_defer(queue_cleanup, in);
    t_wait_thread_state(th, ZX_THREAD_STATE_BLOCKED_PORT);

    zx_handle_t token = suspend(th);
    zx_port_packet_t first = user_packet(100), second = user_packet(300);
    T_OK(zx_port_queue(in, &first));
    T_OK(zx_port_queue(in, &second));
    zx_port_packet_t packet;
    T_STATUS(ZX_ERR_TIMED_OUT, zx_port_wait(out, zx_deadline_after(T_QUIET_NS), &packet));
    t_wait(th, ZX_THREAD_SUSPENDED);
    T_EQ(0, t_load32(&ctl->done));

    t_close(token);
    T_OK(zx_port_wait(out, zx_deadline_after(T_LONG_NS), &packet));
    T_EQ(105, packet.key);
    T_EQ(ZX_PKT_TYPE_USER, packet.type);
    T_OK(zx_port_wait(in, zx_deadline_after(T_LONG_NS), &packet));
    T_EQ(300, packet.key);
    t_wait(th, ZX_THREAD_TERMINATED);
    T_OK(t_load_s32(&ctl->status));
    T_STATUS(ZX_ERR_TIMED_OUT, zx_port_wait(in, 0, &packet));
    T_STATUS(ZX_ERR_TIMED_OUT, zx_port_wait(out, 0, &packet));
}

/* Channels: rights, koids, signals, and the read/write rules (empty, too small, discard, limits, peer closed). */
void r_channel_rules(void) {
    zx_handle_t a, b;
    channel(&a, &b);
    t_own(a);
    t_own(b);
    zx_info_handle_basic_t ia = t_basic(a), ib = t_basic(b);
    T_EQ(ZX_OBJ_TYPE_CHANNEL, ia.type);
    T_EQ(ZX_DEFAULT_CHANNEL_RIGHTS, ia.rights);
    T_EQ(ZX_DEFAULT_CHANNEL_RIGHTS, ib.rights);
    T_EQ(ib.koid, ia.related_koid);
    T_EQ(ia.koid, ib.related_koid);
    T_EQ(ZX_CHANNEL_WRITABLE, t_signals(a));
    zx_handle_t dup = ZX_HANDLE_INVALID;
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_handle_duplicate(a, ZX_RIGHT_SAME_RIGHTS, &dup)); /* no DUPLICATE */
    T_STATUS(ZX_ERR_INVALID_ARGS, zx_channel_create(1, &dup, &dup));

    uint8_t buf[8];
    uint32_t nb = 77, nh = 77;
    T_STATUS(ZX_ERR_SHOULD_WAIT, zx_channel_read(b, 0, buf, NULL, sizeof buf, 0, &nb, &nh));
    T_EQ(77, nb); /* nothing reported for an empty channel */
    T_OK(zx_channel_write(a, 0, "one", 3, NULL, 0));
    T_OK(zx_channel_write(a, 0, "second", 6, NULL, 0));
    T_OK(zx_channel_write(a, 0, NULL, 0, NULL, 0));
    T_EQ(ZX_CHANNEL_WRITABLE | ZX_CHANNEL_READABLE, t_signals(b));
    T_EQ(ZX_CHANNEL_WRITABLE, t_signals(a));

    /* Too small: the sizes are reported and the message stays. */
    T_STATUS(ZX_ERR_BUFFER_TOO_SMALL, zx_channel_read(b, 0, buf, NULL, 2, 0, &nb, &nh));
    T_EQ(3, nb);
    T_EQ(0, nh);
    T_STATUS(ZX_ERR_NOT_SUPPORTED, zx_channel_read(b, 2, buf, NULL, sizeof buf, 0, &nb, &nh));
    memset(buf, 0, sizeof buf);
    T_OK(zx_channel_read(b, 0, buf, NULL, sizeof buf, 0, &nb, &nh));
    T_EQ(3, nb);
    T_TRUE(memcmp(buf, "one", 3) == 0);
    /* MAY_DISCARD drops a message too large for the buffers (still BUFFER_TOO_SMALL, sizes reported). */
    T_STATUS(ZX_ERR_BUFFER_TOO_SMALL, zx_channel_read(b, ZX_CHANNEL_READ_MAY_DISCARD, buf, NULL, 2, 0, &nb, &nh));
    T_EQ(6, nb);
    T_OK(zx_channel_read(b, 0, NULL, NULL, 0, 0, &nb, &nh)); /* the empty message: FIFO order */
    T_EQ(0, nb);
    T_EQ(ZX_CHANNEL_WRITABLE, t_signals(b));
    T_STATUS(ZX_ERR_SHOULD_WAIT, zx_channel_read(b, 0, buf, NULL, sizeof buf, 0, NULL, NULL));

    /* Options and limits. */
    T_STATUS(ZX_ERR_INVALID_ARGS, zx_channel_write(a, 4, "x", 1, NULL, 0));
    uint8_t *big = t_alloc(ZX_CHANNEL_MAX_MSG_BYTES + 1);
    T_STATUS(ZX_ERR_OUT_OF_RANGE, zx_channel_write(a, 0, big, ZX_CHANNEL_MAX_MSG_BYTES + 1, NULL, 0));
    zx_handle_t none[ZX_CHANNEL_MAX_MSG_HANDLES + 1];
    memset(none, 0, sizeof none);
    T_STATUS(ZX_ERR_OUT_OF_RANGE, zx_channel_write(a, 0, "x", 1, none, ZX_CHANNEL_MAX_MSG_HANDLES + 1));
    T_OK(zx_channel_write(a, 0, big, ZX_CHANNEL_MAX_MSG_BYTES, NULL, 0));
    T_OK(zx_channel_read(b, 0, big, NULL, ZX_CHANNEL_MAX_MSG_BYTES, 0, &nb, &nh));
    T_EQ(ZX_CHANNEL_MAX_MSG_BYTES, nb);
    T_OK(zx_channel_write(b, 0, "left", 4, NULL, 0)); /* for a, from the end about to go */
    zx_handle_t weak = ZX_HANDLE_INVALID;
    t_disown(b);
    T_OK(zx_handle_replace(b, ZX_RIGHT_WAIT | ZX_RIGHT_TRANSFER, &weak));
    b = t_own(weak);
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_channel_read(b, 0, buf, NULL, sizeof buf, 0, NULL, NULL));
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_channel_write(b, 0, "x", 1, NULL, 0));
    zx_handle_t ev = t_event();
    T_STATUS(ZX_ERR_WRONG_TYPE, zx_channel_read(ev, 0, buf, NULL, sizeof buf, 0, NULL, NULL));

    /* Peer closed: what it wrote stays readable, then PEER_CLOSED; writes fail; the related koid stays. */
    t_close(b);
    T_EQ(ZX_CHANNEL_PEER_CLOSED | ZX_CHANNEL_READABLE, t_signals(a));
    T_STATUS(ZX_ERR_PEER_CLOSED, zx_channel_write(a, 0, "x", 1, NULL, 0));
    T_OK(zx_channel_read(a, 0, buf, NULL, sizeof buf, 0, &nb, &nh));
    T_TRUE(nb == 4 && memcmp(buf, "left", 4) == 0);
    T_EQ(ZX_CHANNEL_PEER_CLOSED, t_signals(a));
    T_STATUS(ZX_ERR_PEER_CLOSED, zx_channel_read(a, 0, buf, NULL, sizeof buf, 0, NULL, NULL));
    T_EQ(ib.koid, t_basic(a).related_koid);
}

/* Channels carry handles: they leave the writer's table (TRANSFER needed; the channel itself cannot travel) and
 * arrive under new values with the same object and rights; a failed write consumes them all.
 * suspend_token_dispatcher.cc: a suspend token in flight keeps its thread suspended, and one destroyed with its
 * channel resumes it. */
void r_channel_handles(void) {
    zx_handle_t a, b;
    channel(&a, &b);
    t_own(a);
    t_own(b);
    zx_handle_t ev = ZX_HANDLE_INVALID;
    T_OK(zx_event_create(0, &ev));
    zx_info_handle_basic_t before = t_basic(ev);
    T_OK(zx_channel_write(a, 0, "h", 1, &ev, 1));
    T_STATUS(ZX_ERR_BAD_HANDLE, valid_or_bad(ev));
    zx_handle_t got[2] = {ZX_HANDLE_INVALID, ZX_HANDLE_INVALID};
    uint8_t byte = 0;
    uint32_t nb = 0, nh = 0;
    T_STATUS(ZX_ERR_BUFFER_TOO_SMALL, zx_channel_read(b, 0, &byte, got, 1, 0, &nb, &nh));
    T_EQ(1, nh);
    T_OK(zx_channel_read(b, 0, &byte, got, 1, 2, &nb, &nh));
    T_EQ(1, nh);
    t_own(got[0]);
    zx_info_handle_basic_t after = t_basic(got[0]);
    T_EQ(before.koid, after.koid);
    T_EQ(before.rights, after.rights);

    /* Without TRANSFER: ACCESS_DENIED, and the handle is gone anyway. */
    zx_handle_t weak = ZX_HANDLE_INVALID;
    T_OK(zx_handle_duplicate(got[0], ZX_RIGHT_WAIT | ZX_RIGHT_SIGNAL, &weak));
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_channel_write(a, 0, "w", 1, &weak, 1));
    T_STATUS(ZX_ERR_BAD_HANDLE, valid_or_bad(weak));
    T_EQ(0, t_signals(b) & ZX_CHANNEL_READABLE);
    /* A bad value among good ones: BAD_HANDLE, nothing written, the good one consumed. */
    zx_handle_t pair[2] = {ZX_HANDLE_INVALID, ZX_HANDLE_INVALID};
    T_OK(zx_handle_duplicate(got[0], ZX_RIGHT_SAME_RIGHTS, &pair[0]));
    pair[1] = pair[0] ^ 0x10u; /* not a handle of this process */
    T_STATUS(ZX_ERR_BAD_HANDLE, zx_channel_write(a, 0, "p", 1, pair, 2));
    T_STATUS(ZX_ERR_BAD_HANDLE, valid_or_bad(pair[0]));
    T_EQ(0, t_signals(b) & ZX_CHANNEL_READABLE);

    /* A token travels and keeps its thread suspended; closing the channel it sits in resumes the thread. */
    tf_ctl_t *ctl = t_ctl();
    zx_handle_t th = t_thread_run("spin", tf_spin, ctl);
    t_defer_stop(ctl);
    t_wait_flag(&ctl->started, "the spinning thread to start");
    zx_handle_t token = ZX_HANDLE_INVALID;
    T_OK(zx_task_suspend(th, &token));
    t_wait(th, ZX_THREAD_SUSPENDED);
    T_OK(zx_channel_write(a, 0, "t", 1, &token, 1));
    t_wait_quiet(th, ZX_THREAD_RUNNING);
    T_EQ(ZX_THREAD_STATE_SUSPENDED, t_thread_info(th).state);
    t_close(b); /* the message (and the token in it) dies with the end it was queued at */
    t_wait(th, ZX_THREAD_RUNNING);

    /* The channel itself cannot travel: NOT_SUPPORTED, and it is consumed (closed). */
    t_disown(a);
    T_STATUS(ZX_ERR_NOT_SUPPORTED, zx_channel_write(a, 0, "c", 1, &a, 1));
    T_STATUS(ZX_ERR_BAD_HANDLE, valid_or_bad(a));
}

/* zx_channel_call: the kernel's txid; a message with another txid goes to the queue while the call keeps
 * waiting; the reply goes to the caller only; the errors before and after the request goes out. */
void r_channel_call(void) {
    zx_handle_t caller_end, server;
    channel(&caller_end, &server);
    t_own(caller_end);
    tf_ctl_t *ctl = t_ctl();
    zx_handle_t th = start_call(caller_end, ctl);
    t_own(server);
    t_wait(server, ZX_CHANNEL_READABLE);
    t_wait_thread_state(th, ZX_THREAD_STATE_BLOCKED_CHANNEL);
    uint8_t buf[9];
    uint32_t nb = 0, nh = 0;
    T_OK(zx_channel_read(server, 0, buf, NULL, sizeof buf, 0, &nb, &nh));
    zx_txid_t txid;
    memcpy(&txid, buf, sizeof txid);
    T_TRUE(txid & 0x80000000u);
    /* Another txid: an ordinary message for the caller's end; the call goes on waiting. */
    zx_txid_t other = txid ^ 0x1u;
    memcpy(buf, &other, sizeof other);
    buf[8] = 'j';
    T_OK(zx_channel_write(server, 0, buf, sizeof buf, NULL, 0));
    t_wait(caller_end, ZX_CHANNEL_READABLE);
    t_wait_quiet(th, ZX_THREAD_TERMINATED);
    T_EQ(ZX_THREAD_STATE_BLOCKED_CHANNEL, t_thread_info(th).state);
    memcpy(buf, &txid, sizeof txid);
    T_OK(zx_channel_write(server, 0, buf, sizeof buf, NULL, 0));
    t_wait(th, ZX_THREAD_TERMINATED);
    T_OK(t_load_s32(&ctl->status));
    uint8_t left[9];
    T_OK(zx_channel_read(caller_end, 0, left, NULL, sizeof left, 0, &nb, &nh)); /* only the other txid's */
    memcpy(&txid, left, sizeof txid);
    T_EQ(other, txid);
    T_STATUS(ZX_ERR_SHOULD_WAIT, zx_channel_read(caller_end, 0, left, NULL, sizeof left, 0, &nb, &nh));

    /* Errors found before anything is written. */
    uint8_t reply[4];
    zx_channel_call_args_t args = {.wr_bytes = "abc", .rd_bytes = reply, .wr_num_bytes = 3, .rd_num_bytes = 4};
    T_STATUS(ZX_ERR_INVALID_ARGS, zx_channel_call(caller_end, 0, ZX_TIME_INFINITE, &args, &nb, &nh));
    args.wr_bytes = "abcd";
    args.wr_num_bytes = 4;
    T_STATUS(ZX_ERR_INVALID_ARGS, zx_channel_call(caller_end, 8, ZX_TIME_INFINITE, &args, &nb, &nh));
    T_EQ(0, t_signals(server) & ZX_CHANNEL_READABLE);
    /* A deadline already past: the request still goes out, the call times out. */
    T_STATUS(ZX_ERR_TIMED_OUT, zx_channel_call(caller_end, 0, 0, &args, &nb, &nh));
    T_OK(zx_channel_read(server, 0, buf, NULL, sizeof buf, 0, &nb, &nh));
    T_EQ(4, nb);
    T_STATUS(ZX_ERR_TIMED_OUT, zx_channel_call(caller_end, 0, zx_deadline_after(MS(20)), &args, &nb, &nh));
    T_OK(zx_channel_read(server, 0, buf, NULL, sizeof buf, 0, &nb, &nh));

    /* A reply larger than the read buffer: BUFFER_TOO_SMALL (and it is not queued either). */
    tf_ctl_t *c2 = t_ctl();
    c2->handle = caller_end;
    c2->deadline = zx_deadline_after(T_LONG_NS); /* ends by itself should the scenario fail before replying */
    zx_handle_t th2 = t_thread_run("caller2", tf_channel_call, c2);
    t_wait(server, ZX_CHANNEL_READABLE);
    T_OK(zx_channel_read(server, 0, buf, NULL, sizeof buf, 0, &nb, &nh));
    uint8_t longer[10] = {0};
    memcpy(longer, buf, sizeof(zx_txid_t));
    T_OK(zx_channel_write(server, 0, longer, sizeof longer, NULL, 0));
    t_wait(th2, ZX_THREAD_TERMINATED);
    T_STATUS(ZX_ERR_BUFFER_TOO_SMALL, t_load_s32(&c2->status));
    T_EQ(0, t_signals(caller_end) & ZX_CHANNEL_READABLE);
}

/* A call ends CANCELED when the caller's end loses its last handle, PEER_CLOSED when the other end does (and at
 * once when the peer is already gone). */
void r_channel_call_cancel(void) {
    zx_handle_t caller_end, server;
    channel(&caller_end, &server);
    t_own(server);
    tf_ctl_t *ctl = t_ctl();
    ctl->handle = caller_end;
    ctl->deadline = zx_deadline_after(T_LONG_NS);
    ctl->status = ZX_ERR_INTERNAL;
    zx_handle_t th = t_thread_run("caller", tf_channel_call, ctl);
    t_own(caller_end); /* closed first at the end if the scenario fails early */
    t_wait_thread_state(th, ZX_THREAD_STATE_BLOCKED_CHANNEL);
    t_close(caller_end);
    t_wait(th, ZX_THREAD_TERMINATED);
    T_STATUS(ZX_ERR_CANCELED, t_load_s32(&ctl->status));
    T_TRUE(t_signals(server) & ZX_CHANNEL_PEER_CLOSED);

    channel(&caller_end, &server);
    t_own(caller_end);
    tf_ctl_t *c2 = t_ctl();
    c2->handle = caller_end;
    c2->deadline = zx_deadline_after(T_LONG_NS);
    c2->status = ZX_ERR_INTERNAL;
    zx_handle_t th2 = t_thread_run("caller2", tf_channel_call, c2);
    t_own(server);
    t_wait_thread_state(th2, ZX_THREAD_STATE_BLOCKED_CHANNEL);
    t_close(server);
    t_wait(th2, ZX_THREAD_TERMINATED);
    T_STATUS(ZX_ERR_PEER_CLOSED, t_load_s32(&c2->status));
    uint32_t nb, nh;
    zx_channel_call_args_t args = {.wr_bytes = "abcd", .wr_num_bytes = 4};
    T_STATUS(ZX_ERR_PEER_CLOSED, zx_channel_call(caller_end, 0, ZX_TIME_INFINITE, &args, &nb, &nh));
}

/* Ports: rights (not waitable), user packets in FIFO order with their key, status and payload (the type forced
 * to USER), TIMED_OUT at the deadline, a queued packet returned even past the deadline, the errors. */
void r_port_rules(void) {
    zx_handle_t p = port();
    zx_info_handle_basic_t info = t_basic(p);
    T_EQ(ZX_OBJ_TYPE_PORT, info.type);
    T_EQ(ZX_DEFAULT_PORT_RIGHTS, info.rights);
    T_EQ(0, info.rights & ZX_RIGHT_WAIT);
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_object_wait_one(p, ZX_USER_SIGNAL_0, 0, NULL));
    zx_handle_t bad = ZX_HANDLE_INVALID;
    T_STATUS(ZX_ERR_INVALID_ARGS, zx_port_create(2, &bad));

    zx_port_packet_t packet;
    T_STATUS(ZX_ERR_TIMED_OUT, zx_port_wait(p, 0, &packet));
    zx_time_t deadline = zx_deadline_after(MS(30));
    T_STATUS(ZX_ERR_TIMED_OUT, zx_port_wait(p, deadline, &packet));
    T_TRUE(zx_clock_get_monotonic() >= deadline);

    for (uint64_t key = 1; key <= 3; key++) {
        zx_port_packet_t q = user_packet(key);
        q.type = ZX_PKT_TYPE_SIGNAL_ONE; /* overwritten: zx_port_queue makes user packets only */
        q.status = -(int32_t)key;
        q.user.u64[3] = key * 1000;
        T_OK(zx_port_queue(p, &q));
    }
    for (uint64_t key = 1; key <= 3; key++) {
        memset(&packet, 0xff, sizeof packet);
        T_OK(zx_port_wait(p, 0, &packet)); /* queued: returned although the deadline is past */
        T_EQ(key, packet.key);
        T_EQ(ZX_PKT_TYPE_USER, packet.type);
        T_EQ(-(int32_t)key, packet.status);
        T_EQ(key * 1000, packet.user.u64[3]);
        T_EQ(0, packet.user.u64[0]);
    }
    T_STATUS(ZX_ERR_TIMED_OUT, zx_port_wait(p, 0, &packet));

    T_STATUS(ZX_ERR_INVALID_ARGS, zx_port_queue(p, NULL));
    zx_handle_t ev = t_event();
    zx_port_packet_t q = user_packet(9);
    T_STATUS(ZX_ERR_WRONG_TYPE, zx_port_queue(ev, &q));
    T_STATUS(ZX_ERR_WRONG_TYPE, zx_port_wait(ev, 0, &packet));
    zx_handle_t reader = t_dup(p, ZX_RIGHT_READ);
    zx_handle_t writer = t_dup(p, ZX_RIGHT_WRITE);
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_port_queue(reader, &q));
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_port_wait(writer, 0, &packet));
    T_OK(zx_port_queue(writer, &q));
    T_OK(zx_port_wait(reader, 0, &packet));
    T_EQ(9, packet.key);
}

/* Closing a port's only handle does not end a zx_port_wait in progress (the waiter holds the port and nothing
 * is posted to it): the wait runs to its deadline and ends TIMED_OUT, not CANCELED. */
void r_port_close_during_wait(void) {
    zx_handle_t p = port();
    tf_ctl_t *ctl = t_ctl();
    ctl->handle = p;
    ctl->deadline = zx_deadline_after(MS(300));
    ctl->status = ZX_ERR_INTERNAL;
    zx_handle_t th = t_thread_run("waiter", tf_port_relay, ctl);
    t_wait_thread_state(th, ZX_THREAD_STATE_BLOCKED_PORT);
    t_close(p);
    t_wait(th, ZX_THREAD_TERMINATED);
    T_STATUS(ZX_ERR_TIMED_OUT, t_load_s32(&ctl->status));
    T_TRUE(ctl->woke_at >= ctl->deadline);
}

/* zx_object_wait_async (syscalls/object_wait.cc sys_object_wait_async, port_dispatcher.cc PortObserver): the check
 * order -- options, then the port (BAD_HANDLE, WRONG_TYPE, WRITE), then the handle (BAD_HANDLE, WAIT) -- and one
 * signal packet per wait: at once when a wanted signal is already active, else when one becomes active; trigger is
 * what was asked, observed every signal active then, count 1, timestamp 0 unless ZX_WAIT_ASYNC_TIMESTAMP. */
void r_wait_async_rules(void) {
    zx_handle_t p = port(), ev = t_event(), ev2 = t_event();
    T_STATUS(ZX_ERR_INVALID_ARGS, zx_object_wait_async(ev, p, 1, ZX_USER_SIGNAL_0, 0x80u));
    T_STATUS(ZX_ERR_INVALID_ARGS, zx_object_wait_async(ZX_HANDLE_INVALID, ZX_HANDLE_INVALID, 1, 0, 0x80u));
    T_STATUS(ZX_ERR_BAD_HANDLE, zx_object_wait_async(ZX_HANDLE_INVALID, ZX_HANDLE_INVALID, 1, ZX_USER_SIGNAL_0, 0));
    T_STATUS(ZX_ERR_BAD_HANDLE, zx_object_wait_async(ev, ZX_HANDLE_INVALID, 1, ZX_USER_SIGNAL_0, 0));
    T_STATUS(ZX_ERR_WRONG_TYPE, zx_object_wait_async(ZX_HANDLE_INVALID, ev2, 1, ZX_USER_SIGNAL_0, 0));
    zx_handle_t reader = t_dup(p, ZX_RIGHT_READ);
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_object_wait_async(ZX_HANDLE_INVALID, reader, 1, ZX_USER_SIGNAL_0, 0));
    T_STATUS(ZX_ERR_BAD_HANDLE, zx_object_wait_async(ZX_HANDLE_INVALID, p, 1, ZX_USER_SIGNAL_0, 0));
    zx_handle_t no_wait = t_dup(ev, ZX_RIGHT_DUPLICATE | ZX_RIGHT_SIGNAL);
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_object_wait_async(no_wait, p, 1, ZX_USER_SIGNAL_0, 0));
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_object_wait_async(p, p, 1, ZX_USER_SIGNAL_0, 0)); /* no WAIT on a port */

    zx_port_packet_t packet;
    /* Not yet active: nothing queued until the signal is raised; then exactly one packet. */
    T_OK(zx_object_wait_async(ev, p, 7, ZX_USER_SIGNAL_0 | ZX_USER_SIGNAL_1, 0));
    T_STATUS(ZX_ERR_TIMED_OUT, zx_port_wait(p, 0, &packet));
    T_OK(zx_object_signal(ev, 0, ZX_USER_SIGNAL_2));
    T_STATUS(ZX_ERR_TIMED_OUT, zx_port_wait(p, 0, &packet));
    T_OK(zx_object_signal(ev, 0, ZX_USER_SIGNAL_1));
    memset(&packet, 0xff, sizeof packet);
    T_OK(zx_port_wait(p, 0, &packet));
    T_EQ(7, packet.key);
    T_EQ(ZX_PKT_TYPE_SIGNAL_ONE, packet.type);
    T_EQ(ZX_OK, packet.status);
    T_EQ(ZX_USER_SIGNAL_0 | ZX_USER_SIGNAL_1, packet.signal.trigger);
    T_EQ(ZX_USER_SIGNAL_1 | ZX_USER_SIGNAL_2, packet.signal.observed);
    T_EQ(1, packet.signal.count);
    T_EQ(0, packet.signal.timestamp);
    T_OK(zx_object_signal(ev, ZX_USER_SIGNAL_1, 0)); /* one shot: no second packet */
    T_OK(zx_object_signal(ev, 0, ZX_USER_SIGNAL_1));
    T_STATUS(ZX_ERR_TIMED_OUT, zx_port_wait(p, 0, &packet));

    /* Already active: queued at once; with ZX_WAIT_ASYNC_TIMESTAMP the time it fired. */
    zx_time_t before = zx_clock_get_monotonic();
    T_OK(zx_object_wait_async(ev, p, 8, ZX_USER_SIGNAL_2, ZX_WAIT_ASYNC_TIMESTAMP));
    zx_time_t after = zx_clock_get_monotonic();
    T_OK(zx_port_wait(p, 0, &packet));
    T_EQ(8, packet.key);
    T_EQ(ZX_USER_SIGNAL_1 | ZX_USER_SIGNAL_2, packet.signal.observed);
    T_TRUE((zx_time_t)packet.signal.timestamp >= before && (zx_time_t)packet.signal.timestamp <= after);
    T_STATUS(ZX_ERR_TIMED_OUT, zx_port_wait(p, 0, &packet));

    /* A thread blocked in zx_port_wait gets the packet of an object signalled later. */
    T_OK(zx_object_wait_async(ev2, p, 9, ZX_EVENT_SIGNALED, 0));
    T_OK(zx_object_signal(ev2, 0, ZX_EVENT_SIGNALED));
    T_OK(zx_port_wait(p, zx_deadline_after(T_LONG_NS), &packet));
    T_EQ(9, packet.key);
    T_EQ(ZX_EVENT_SIGNALED, packet.signal.observed);

#ifdef ZX_WAIT_ASYNC_EDGE
    /* EDGE: an active signal does not fire it; its next rise does. */
    T_OK(zx_object_wait_async(ev, p, 10, ZX_USER_SIGNAL_1, ZX_WAIT_ASYNC_EDGE));
    T_STATUS(ZX_ERR_TIMED_OUT, zx_port_wait(p, 0, &packet));
    T_OK(zx_object_signal(ev, ZX_USER_SIGNAL_1, 0));
    T_STATUS(ZX_ERR_TIMED_OUT, zx_port_wait(p, 0, &packet));
    T_OK(zx_object_signal(ev, 0, ZX_USER_SIGNAL_1));
    T_OK(zx_port_wait(p, 0, &packet));
    T_EQ(10, packet.key);
    T_EQ(1, packet.signal.count);

    /* count is 1 even for a channel armed while it holds three messages.  The kernels that know
     * ZX_WAIT_ASYNC_EDGE have PortObserver::OnMatch (RFC-0009 dates it before EDGE), which passes no count, and
     * PortDispatcher::Queue sets 1 ("deprecated ... set to 1 for backwards compatibility"); the older
     * OnInitialize observers reported the queued message count here (ChannelDispatcher::AddObserver's CountInfo). */
    zx_handle_t ca, cb;
    channel(&ca, &cb);
    t_own(ca);
    t_own(cb);
    for (int i = 0; i < 3; i++) T_OK(zx_channel_write(ca, 0, "m", 1, NULL, 0));
    T_OK(zx_object_wait_async(cb, p, 11, ZX_CHANNEL_READABLE, 0));
    T_OK(zx_port_wait(p, 0, &packet));
    T_EQ(11, packet.key);
    T_TRUE(packet.signal.observed & ZX_CHANNEL_READABLE);
    T_EQ(1, packet.signal.count);
#endif
}

/* zx_port_cancel (syscalls/port.cc sys_port_cancel): the port (WRITE), then the source (BAD_HANDLE, WAIT); it
 * removes the armed observer and any queued packet of that handle and key, NOT_FOUND when neither exists.  Closing
 * the waited handle ends its waits (no packet later) but leaves a queued packet; the port losing its last handle
 * drops its observers (the object is still signalled afterwards, harmlessly). */
void r_port_cancel_rules(void) {
    zx_handle_t p = port(), ev = t_event();
    zx_port_packet_t packet;
    T_STATUS(ZX_ERR_BAD_HANDLE, zx_port_cancel(ZX_HANDLE_INVALID, ev, 1));
    T_STATUS(ZX_ERR_WRONG_TYPE, zx_port_cancel(ev, ev, 1));
    zx_handle_t reader = t_dup(p, ZX_RIGHT_READ);
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_port_cancel(reader, ev, 1));
    T_STATUS(ZX_ERR_BAD_HANDLE, zx_port_cancel(p, ZX_HANDLE_INVALID, 1));
    zx_handle_t no_wait = t_dup(ev, ZX_RIGHT_DUPLICATE | ZX_RIGHT_SIGNAL);
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_port_cancel(p, no_wait, 1));
    T_STATUS(ZX_ERR_NOT_FOUND, zx_port_cancel(p, ev, 1));

    /* Armed observer: cancelled, so the signal queues nothing; a second cancel finds nothing. */
    T_OK(zx_object_wait_async(ev, p, 1, ZX_USER_SIGNAL_0, 0));
    T_STATUS(ZX_ERR_NOT_FOUND, zx_port_cancel(p, ev, 2)); /* another key */
    T_OK(zx_port_cancel(p, ev, 1));
    T_OK(zx_object_signal(ev, 0, ZX_USER_SIGNAL_0));
    T_STATUS(ZX_ERR_TIMED_OUT, zx_port_wait(p, 0, &packet));
    T_STATUS(ZX_ERR_NOT_FOUND, zx_port_cancel(p, ev, 1));

    /* Queued packet: removed by the cancel, user packets with the same key untouched. */
    zx_port_packet_t q = user_packet(3);
    T_OK(zx_port_queue(p, &q));
    T_OK(zx_object_wait_async(ev, p, 3, ZX_USER_SIGNAL_0, 0)); /* fires at once */
    T_OK(zx_port_cancel(p, ev, 3));
    T_OK(zx_port_wait(p, 0, &packet));
    T_EQ(ZX_PKT_TYPE_USER, packet.type);
    T_STATUS(ZX_ERR_TIMED_OUT, zx_port_wait(p, 0, &packet));

    /* Through another handle to the same object: a different source, not found. */
    zx_handle_t ev_dup = t_dup(ev, ZX_RIGHT_SAME_RIGHTS);
    T_OK(zx_object_signal(ev, ZX_USER_SIGNAL_0, 0));
    T_OK(zx_object_wait_async(ev_dup, p, 4, ZX_USER_SIGNAL_0, 0));
    T_STATUS(ZX_ERR_NOT_FOUND, zx_port_cancel(p, ev, 4));
    /* Closing that handle ends the wait: no packet when the signal comes. */
    t_close(ev_dup);
    T_OK(zx_object_signal(ev, 0, ZX_USER_SIGNAL_0));
    T_STATUS(ZX_ERR_TIMED_OUT, zx_port_wait(p, 0, &packet));

    /* A packet queued before its handle is closed stays. */
    zx_handle_t ev_dup2 = t_dup(ev, ZX_RIGHT_SAME_RIGHTS);
    T_OK(zx_object_wait_async(ev_dup2, p, 5, ZX_USER_SIGNAL_0, 0));
    t_close(ev_dup2);
    T_OK(zx_port_wait(p, 0, &packet));
    T_EQ(5, packet.key);
    T_EQ(ZX_PKT_TYPE_SIGNAL_ONE, packet.type);

    /* The port's last handle goes with an observer armed and a signal packet queued. */
    zx_handle_t p2 = ZX_HANDLE_INVALID, ev2 = t_event();
    T_OK(zx_port_create(0, &p2));
    T_OK(zx_object_wait_async(ev2, p2, 6, ZX_USER_SIGNAL_1, 0));
    T_OK(zx_object_wait_async(ev2, p2, 7, ZX_USER_SIGNAL_0, 0));
    T_OK(zx_object_signal(ev2, 0, ZX_USER_SIGNAL_0));
    T_OK(zx_handle_close(p2));
    T_OK(zx_object_signal(ev2, 0, ZX_USER_SIGNAL_1));
    T_STATUS(ZX_ERR_BAD_HANDLE, zx_port_cancel(p2, ev2, 6));
}
