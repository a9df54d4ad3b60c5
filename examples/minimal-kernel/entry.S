/* The smallest multiboot entry for a buddy86 kernel: the header (asking for the memory map,
 * which MEMMAP needs), a 16 KiB stack, and a call to kernel_main(info). v86 starts us in flat
 * 32-bit protected mode with interrupts off; a real kernel would load its own GDT and IDT next
 * (see guest/entry.S), this one never reloads a segment register and never faults. */

#include "buddy86.h"

#define FLAGS 0x3 /* bit 0: page-align modules; bit 1: provide the memory map */

    .section .multiboot, "a"
    .align 4
    .long MULTIBOOT_HEADER_MAGIC
    .long FLAGS
    .long -(MULTIBOOT_HEADER_MAGIC + FLAGS)

    .text
    .globl _start
    .type _start, @function     /* a function symbol: backtraces then name it (_start+0xd) */
_start:
    movl $stack_top, %esp
    xorl %ebp, %ebp
    pushl %ebx                  /* the multiboot info address */
    call kernel_main            /* ends in an EXIT hypercall */
1:  cli
    hlt
    jmp 1b

    .section .bss
    .align 16
stack_bottom:
    .skip 16384
stack_top:

    .section .note.GNU-stack, "", @progbits
