/* A small printf for the guest: kprintf to COM1, ksnprintf into a buffer.
 * Conversions: %d %i %u %x %X %p %s %c %%, with the flags '-' (left-justify) and '0' (zero-pad),
 * a decimal width, and an ignored 'l' (every integer is 32 bits). %p prints 0x and 8 hex digits. */
#ifndef GUEST_PRINTF_H
#define GUEST_PRINTF_H

#include <stdarg.h>
#include <stddef.h>

void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void kvprintf(const char *fmt, va_list ap);

/* Formats into buf (size bytes, always NUL-terminated when size > 0). Returns the length the
 * full text would have had, like snprintf: a result >= size means it was truncated. */
size_t ksnprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif /* GUEST_PRINTF_H */
