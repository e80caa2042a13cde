/* Test helper for the debugger calls: a loop that spins on a register, a value in memory and a read-only string.
 *
 * usage: regloop [syscall]
 *
 * With "syscall" it prints the address of sys_loop and loops there forever on a getpid system call instead (three
 * instructions: load the call number, the system call instruction, the branch back), for single-stepping over a
 * system call.
 *
 * Prints "LOOP VALUE MESSAGE" (the addresses of the spin loop's first instruction, of a uint64 variable holding 1
 * and of a string constant in read-only data), then spins in spin() until its register (x86-64: r12, arm64: x19),
 * zeroed on entry, is non-zero, and prints "reg=R value=V message=M" and exits 0.  The loop is two instructions,
 * each 4 bytes long except x86-64's je (2 bytes): "cmp $0, REG" at LOOP, the branch back at LOOP + 4.
 */
#include <stdint.h>
#include <stdio.h>

extern uint64_t spin(void);
extern char spin_loop[];

#if defined(__x86_64__)
__asm__(".text\n"
        ".globl spin\n"
        ".globl spin_loop\n"
        "spin:\n"
        "  push %r12\n"
        "  xor %r12, %r12\n"
        "spin_loop:\n"
        "  cmp $0, %r12\n"
        "  je spin_loop\n"
        "  mov %r12, %rax\n"
        "  pop %r12\n"
        "  ret\n");
#elif defined(__aarch64__)
__asm__(".text\n"
        ".globl spin\n"
        ".globl spin_loop\n"
        "spin:\n"
        "  str x19, [sp, #-16]!\n"
        "  mov x19, #0\n"
        "spin_loop:\n"
        "  cmp x19, #0\n"
        "  b.eq spin_loop\n"
        "  mov x0, x19\n"
        "  ldr x19, [sp], #16\n"
        "  ret\n");
#else
#error "regloop: x86-64 or arm64 only"
#endif

volatile uint64_t value = 1;
static const char message[] = "original";

extern void sys_loop(void);

#if defined(__x86_64__)
__asm__(".text\n"
        ".globl sys_loop\n"
        "sys_loop:\n"
        "  mov $39, %eax\n"
        "  syscall\n"
        "  jmp sys_loop\n");
#elif defined(__aarch64__)
__asm__(".text\n"
        ".globl sys_loop\n"
        "sys_loop:\n"
        "  mov x8, #172\n"
        "  svc #0\n"
        "  b sys_loop\n");
#endif

int main(int argc, char **argv) {
    if (argc > 1 && argv[1][0] == 's') {
        printf("%p\n", (void *)sys_loop);
        fflush(stdout);
        sys_loop();
        return 1;
    }
    printf("%p %p %p\n", (void *)spin_loop, (void *)&value, (void *)message);
    fflush(stdout);
    uint64_t reg = spin();
    printf("reg=%llu value=%llu message=%s\n", (unsigned long long)reg, (unsigned long long)value,
           *(const char *volatile *)&(const char *){message});
    return 0;
}
