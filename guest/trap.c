/* The IDT and the exception report. 32 interrupt gates point at the stubs in entry.S; each stub
 * lands in trap_report(), which names the fault, prints EIP, the error code and the registers
 * (and CR2 for a page fault), then EXITs with EXIT_TRAP_BASE + vector. Nothing ever returns. */

#include "trap.h"
#include "hc.h"
#include "kernel.h"
#include "printf.h"
#include "x86.h"

#define TRAP_VECTORS 32
#define KERNEL_CS 0x08
#define GATE_INTERRUPT_32 0x8E /* present, ring 0, 32-bit interrupt gate (clears IF) */
#define VECTOR_PAGE_FAULT 14

struct idt_gate {
    uint16_t offset_low;
    uint16_t selector;
    uint8_t zero;
    uint8_t type_attr;
    uint16_t offset_high;
} __attribute__((packed));

struct idt_pointer {
    uint16_t limit;
    uint32_t base;
} __attribute__((packed));

extern const uint32_t trap_stubs[TRAP_VECTORS]; /* entry.S */

static struct idt_gate idt[TRAP_VECTORS];

static const char *const trap_names[TRAP_VECTORS] = {
    "divide error", "debug", "NMI", "breakpoint", "overflow", "bound range exceeded",
    "invalid opcode", "device not available", "double fault", "coprocessor segment overrun",
    "invalid TSS", "segment not present", "stack-segment fault", "general protection fault",
    "page fault", "reserved (15)", "x87 floating-point error", "alignment check",
    "machine check", "SIMD floating-point error", "virtualization exception",
    "control protection exception", "reserved (22)", "reserved (23)", "reserved (24)",
    "reserved (25)", "reserved (26)", "reserved (27)", "hypervisor injection exception",
    "VMM communication exception", "security exception", "reserved (31)",
};

void idt_init(void)
{
    for (int v = 0; v < TRAP_VECTORS; v++) {
        uint32_t handler = trap_stubs[v];
        idt[v] = (struct idt_gate){
            .offset_low = (uint16_t)handler,
            .selector = KERNEL_CS,
            .type_attr = GATE_INTERRUPT_32,
            .offset_high = (uint16_t)(handler >> 16),
        };
    }
    struct idt_pointer pointer = { .limit = sizeof(idt) - 1, .base = (uint32_t)(uintptr_t)idt };
    __asm__ __volatile__("lidt %0" : : "m"(pointer));
}

void trap_report(const struct trap_frame *frame)
{
    uint32_t vector = frame->vector;
    kprintf("\ntrap: %s (vector %u) at eip=%p error=0x%x",
            vector < TRAP_VECTORS ? trap_names[vector] : "unknown", vector,
            (void *)frame->eip, frame->error);
    if (vector == VECTOR_PAGE_FAULT)
        kprintf(" cr2=%p", (void *)read_cr2());
    kprintf("\n  eax=%08x ebx=%08x ecx=%08x edx=%08x\n", frame->eax, frame->ebx, frame->ecx, frame->edx);
    /* pushal saved ESP below the CPU's frame (vector, error, eip, cs, eflags): add 5 words. */
    kprintf("  esi=%08x edi=%08x ebp=%08x esp=%08x eflags=%08x cr0=%08x cr3=%08x\n",
            frame->esi, frame->edi, frame->ebp, frame->esp + 20, frame->eflags, read_cr0(), read_cr3());
    /* EXIT passes nothing but registers, so it works even when the fault came with paging on. */
    hc_exit(EXIT_TRAP_BASE + vector);
}
