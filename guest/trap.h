/* CPU exceptions: an IDT for vectors 0-31 whose handlers report the fault on COM1 and EXIT with
 * EXIT_TRAP_BASE + vector. Without it v86 would throw out of its own loop on the first fault. */
#ifndef GUEST_TRAP_H
#define GUEST_TRAP_H

#include <stdint.h>

/* The stack at trap_common (entry.S): pushal's registers, then the stub's, then the CPU's. */
struct trap_frame {
    uint32_t edi, esi, ebp, esp, ebx, edx, ecx, eax; /* pushal; esp is the value before it */
    uint32_t vector;                                 /* pushed by the stub */
    uint32_t error;                                  /* by the CPU, or a 0 from the stub */
    uint32_t eip, cs, eflags;                        /* by the CPU */
};

/* Fills and loads the IDT. Call once at boot, before anything can fault. */
void idt_init(void);

/* Called by trap_common with the frame of any exception. Prints it and EXITs. */
void trap_report(const struct trap_frame *frame) __attribute__((noreturn));

#endif /* GUEST_TRAP_H */
