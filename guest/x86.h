/* x86 instructions the guest needs, as tiny inline functions: port I/O, control registers, halt.
 * Everything here is ring 0, 32-bit, and assumes interrupts are off. */
#ifndef GUEST_X86_H
#define GUEST_X86_H

#include <stdint.h>

#define CR0_PG 0x80000000u /* paging enable */

static inline void outb(uint16_t port, uint8_t value)
{
    __asm__ __volatile__("outb %0, %1" : : "a"(value), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
    uint8_t value;
    __asm__ __volatile__("inb %1, %0" : "=a"(value) : "Nd"(port));
    return value;
}

static inline uint32_t read_cr0(void)
{
    uint32_t value;
    __asm__ __volatile__("movl %%cr0, %0" : "=r"(value));
    return value;
}

/* The "memory" clobbers keep the compiler from moving loads and stores across a change of
 * address translation: what a pointer means depends on CR0.PG and CR3. */
static inline void write_cr0(uint32_t value)
{
    __asm__ __volatile__("movl %0, %%cr0" : : "r"(value) : "memory");
}

static inline uint32_t read_cr2(void)
{
    uint32_t value;
    __asm__ __volatile__("movl %%cr2, %0" : "=r"(value));
    return value;
}

static inline uint32_t read_cr3(void)
{
    uint32_t value;
    __asm__ __volatile__("movl %%cr3, %0" : "=r"(value));
    return value;
}

static inline void write_cr3(uint32_t value)
{
    __asm__ __volatile__("movl %0, %%cr3" : : "r"(value) : "memory");
}

/* Stops the CPU for good: with interrupts off, nothing wakes it. */
static inline __attribute__((noreturn)) void halt_forever(void)
{
    for (;;)
        __asm__ __volatile__("cli; hlt");
}

#endif /* GUEST_X86_H */
