/* The OpenSSL stubs (see ossl-lazy.h), x86-64 System V. Each
 * nt__ossl_<name> jumps through nt__ossl_p_<name>; that pointer starts at
 * the stub's own slow path, which keeps the argument registers (the six
 * integer ones, %rax for variadic calls, %xmm0-7), calls nt__ossl_resolve
 * (C: loads OpenSSL, sets every pointer), puts them back and jumps to the
 * function as if it had been called directly: the caller's return address
 * is still on top of the stack. */
#include "ossl-lazy.h"

        .text
        .p2align 4
        .type nt__ossl_slow,@function
/* %r11: the address of the pointer to jump through */
nt__ossl_slow:
        .cfi_startproc
        pushq %r11
        .cfi_adjust_cfa_offset 8
        pushq %rdi
        .cfi_adjust_cfa_offset 8
        pushq %rsi
        .cfi_adjust_cfa_offset 8
        pushq %rdx
        .cfi_adjust_cfa_offset 8
        pushq %rcx
        .cfi_adjust_cfa_offset 8
        pushq %r8
        .cfi_adjust_cfa_offset 8
        pushq %r9
        .cfi_adjust_cfa_offset 8
        pushq %rax
        .cfi_adjust_cfa_offset 8
        /* entry: rsp = 8 mod 16; 8 pushes keep that; 136 more aligns it */
        subq $136, %rsp
        .cfi_adjust_cfa_offset 136
        movdqu %xmm0, 0(%rsp)
        movdqu %xmm1, 16(%rsp)
        movdqu %xmm2, 32(%rsp)
        movdqu %xmm3, 48(%rsp)
        movdqu %xmm4, 64(%rsp)
        movdqu %xmm5, 80(%rsp)
        movdqu %xmm6, 96(%rsp)
        movdqu %xmm7, 112(%rsp)
        call nt__ossl_resolve
        movdqu 0(%rsp), %xmm0
        movdqu 16(%rsp), %xmm1
        movdqu 32(%rsp), %xmm2
        movdqu 48(%rsp), %xmm3
        movdqu 64(%rsp), %xmm4
        movdqu 80(%rsp), %xmm5
        movdqu 96(%rsp), %xmm6
        movdqu 112(%rsp), %xmm7
        addq $136, %rsp
        .cfi_adjust_cfa_offset -136
        popq %rax
        .cfi_adjust_cfa_offset -8
        popq %r9
        .cfi_adjust_cfa_offset -8
        popq %r8
        .cfi_adjust_cfa_offset -8
        popq %rcx
        .cfi_adjust_cfa_offset -8
        popq %rdx
        .cfi_adjust_cfa_offset -8
        popq %rsi
        .cfi_adjust_cfa_offset -8
        popq %rdi
        .cfi_adjust_cfa_offset -8
        popq %r11
        .cfi_adjust_cfa_offset -8
        jmp *(%r11)
        .cfi_endproc
        .size nt__ossl_slow, .-nt__ossl_slow

#define NT__OSSL_STUB(n)                                  \
        .globl nt__ossl_##n;                              \
        .hidden nt__ossl_##n;                             \
        .type nt__ossl_##n,@function;                     \
nt__ossl_##n:                                             \
        jmp *nt__ossl_p_##n(%rip);                        \
        .size nt__ossl_##n, .-nt__ossl_##n;               \
nt__ossl_s_##n:                                           \
        leaq nt__ossl_p_##n(%rip), %r11;                  \
        jmp nt__ossl_slow;
NT__OSSL_SYMS(NT__OSSL_STUB)

        .data
        .p2align 3
#define NT__OSSL_PTR(n)                                   \
        .globl nt__ossl_p_##n;                            \
        .hidden nt__ossl_p_##n;                           \
nt__ossl_p_##n:                                           \
        .quad nt__ossl_s_##n;
NT__OSSL_SYMS(NT__OSSL_PTR)

        .section .note.GNU-stack,"",@progbits
