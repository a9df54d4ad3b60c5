/* Boot entry of the buddy86 guest: the multiboot header, a flat GDT, the boot stack, and the 32
 * exception stubs that funnel every CPU fault into trap_report() (trap.c).
 * v86 enters _start in 32-bit protected mode with EAX = 0x2BADB002 and EBX = the multiboot info,
 * but with no GDT of its own: we load one before anything can fault. Interrupts stay off forever. */

#include "buddy86.h"

#define MULTIBOOT_FLAG_PAGE_ALIGN (1 << 0)  /* load modules page-aligned (we have none) */
#define MULTIBOOT_FLAG_MEMORY_INFO (1 << 1) /* ask for the memory map: without it v86 omits it */
#define MULTIBOOT_FLAGS (MULTIBOOT_FLAG_PAGE_ALIGN | MULTIBOOT_FLAG_MEMORY_INFO)

#define BOOT_STACK_BYTES 65536
#define KERNEL_CS 0x08
#define KERNEL_DS 0x10

/* The header: magic, flags, checksum. No address fields (flag 16 clear): v86 loads our ELF
 * program headers instead. linker.ld puts this section first. */
    .section .multiboot, "a"
    .align 4
multiboot_header:
    .long MULTIBOOT_HEADER_MAGIC
    .long MULTIBOOT_FLAGS
    .long -(MULTIBOOT_HEADER_MAGIC + MULTIBOOT_FLAGS)

    .section .text.entry, "ax"
    .globl _start
    .type _start, @function
_start:
    cli
    cld
    movl %eax, %edx                 /* keep the boot magic; rep stosl below uses eax, ecx, edi */

    /* Zero .bss (the stack included). v86 hands us fresh zeroed RAM, a real loader might not. */
    movl $__bss_start, %edi
    movl $__bss_end, %ecx
    subl %edi, %ecx
    shrl $2, %ecx
    xorl %eax, %eax
    rep stosl

    lgdt gdt_descriptor
    ljmp $KERNEL_CS, $1f
1:  movw $KERNEL_DS, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %fs
    movw %ax, %gs
    movw %ax, %ss
    movl $boot_stack_top, %esp
    xorl %ebp, %ebp                 /* a zero frame pointer ends every stack walk */

    pushl %ebx                      /* arg 2: physical address of the multiboot info */
    pushl %edx                      /* arg 1: boot magic */
    call kmain                      /* never returns: it ends in hc_exit() */
2:  cli
    hlt
    jmp 2b
    .size _start, . - _start

/* Exception stubs. The CPU pushes EFLAGS, CS, EIP and, for some vectors, an error code; the
 * stubs without one push a zero so that every frame has the same shape (struct trap_frame). */
.macro TRAP_NOERR vector
    .align 8
trap_stub_\vector:
    pushl $0
    pushl $\vector
    jmp trap_common
.endm

.macro TRAP_ERR vector
    .align 8
trap_stub_\vector:
    pushl $\vector
    jmp trap_common
.endm

    .text
    TRAP_NOERR 0
    TRAP_NOERR 1
    TRAP_NOERR 2
    TRAP_NOERR 3
    TRAP_NOERR 4
    TRAP_NOERR 5
    TRAP_NOERR 6
    TRAP_NOERR 7
    TRAP_ERR   8
    TRAP_NOERR 9
    TRAP_ERR   10
    TRAP_ERR   11
    TRAP_ERR   12
    TRAP_ERR   13
    TRAP_ERR   14
    TRAP_NOERR 15
    TRAP_NOERR 16
    TRAP_ERR   17
    TRAP_NOERR 18
    TRAP_NOERR 19
    TRAP_NOERR 20
    TRAP_ERR   21
    TRAP_NOERR 22
    TRAP_NOERR 23
    TRAP_NOERR 24
    TRAP_NOERR 25
    TRAP_NOERR 26
    TRAP_NOERR 27
    TRAP_NOERR 28
    TRAP_ERR   29
    TRAP_ERR   30
    TRAP_NOERR 31

/* Saves the general registers under the CPU's frame, then builds a fake call frame (faulting EIP
 * as return address, faulting EBP as saved EBP) so that a stack walk from trap_report() continues
 * through the code that faulted. trap_report() never returns. */
    .type trap_common, @function
trap_common:
    pushal                          /* EDI ESI EBP ESP EBX EDX ECX EAX, lowest address first */
    movl %esp, %eax                 /* eax = struct trap_frame * */
    pushl 40(%eax)                  /* the faulting EIP */
    pushl 8(%eax)                   /* the faulting EBP */
    movl %esp, %ebp
    pushl %eax
    call trap_report
1:  cli
    hlt
    jmp 1b
    .size trap_common, . - trap_common

/* Stub addresses in vector order, for idt_init(). */
    .section .rodata
    .align 4
    .globl trap_stubs
trap_stubs:
    .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .long trap_stub_\v
    .endr

/* A flat GDT: null, ring-0 code and data over all 4 GiB. */
    .section .data
    .align 8
gdt:
    .quad 0
    .quad 0x00CF9A000000FFFF        /* 0x08: code, base 0, limit 4 GiB, 32-bit */
    .quad 0x00CF92000000FFFF        /* 0x10: data, base 0, limit 4 GiB, 32-bit */
gdt_end:
gdt_descriptor:
    .word gdt_end - gdt - 1
    .long gdt

/* The boot stack, in .bss so that __kernel_end covers it. */
    .section .bss
    .align 4096
    .globl boot_stack_bottom, boot_stack_top
boot_stack_bottom:
    .skip BOOT_STACK_BYTES
boot_stack_top:

/* No executable stack wanted: tells ld this object does not need one. */
    .section .note.GNU-stack, "", @progbits
