/* Test helper for the debugger calls: a loop that spins on a register, a value in memory and a read-only string.
 *
 * usage: regloop
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

int main(void) {
    printf("%p %p %p\n", (void *)spin_loop, (void *)&value, (void *)message);
    fflush(stdout);
    uint64_t reg = spin();
    printf("reg=%llu value=%llu message=%s\n", (unsigned long long)reg, (unsigned long long)value,
           *(const char *volatile *)&(const char *){message});
    return 0;
}
