/* The guest's printf: one formatter (format()) writing through a sink, with two sinks, COM1 and
 * a bounded buffer. Numbers are converted with 32-bit division only (the CPU's own `div`). */

#include "printf.h"
#include "lib.h"
#include "serial.h"

struct sink {
    void (*put)(struct sink *sink, char c);
    char *buf;      /* buffer sinks only */
    size_t size;    /* buffer capacity, including the NUL */
    size_t len;     /* characters produced so far, stored or not */
};

static void put_serial(struct sink *sink, char c)
{
    serial_putc(c);
    sink->len++;
}

static void put_buffer(struct sink *sink, char c)
{
    if (sink->len + 1 < sink->size)
        sink->buf[sink->len] = c;
    sink->len++;
}

/* Emits text (len bytes) padded to width with pad, on the right when left is set. A zero pad
 * goes after a leading '-' or "0x" (sign_len bytes), as in printf("%08d", -5) = "-0000005". */
static void emit(struct sink *sink, const char *text, size_t len, size_t sign_len,
                 unsigned width, bool left, char pad)
{
    size_t fill = width > len ? width - len : 0;
    if (!left && pad == '0') {
        for (size_t i = 0; i < sign_len; i++)
            sink->put(sink, text[i]);
        text += sign_len;
        len -= sign_len;
    }
    if (!left)
        while (fill--)
            sink->put(sink, pad);
    while (len--)
        sink->put(sink, *text++);
    if (left)
        while (fill--)
            sink->put(sink, ' ');
}

/* Writes value in base (10 or 16) backwards from the end of buf; returns the first digit. */
static char *utoa(uint32_t value, unsigned base, bool upper, char *end)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char *p = end;
    do {
        *--p = digits[value % base];
        value /= base;
    } while (value);
    return p;
}

static void format(struct sink *sink, const char *fmt, va_list ap)
{
    char number[16];
    char *end = number + sizeof(number);

    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            sink->put(sink, *fmt);
            continue;
        }
        bool left = false;
        char pad = ' ';
        unsigned width = 0;
        for (fmt++; *fmt == '-' || *fmt == '0'; fmt++) {
            if (*fmt == '-')
                left = true;
            else
                pad = '0';
        }
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (unsigned)(*fmt++ - '0');
        while (*fmt == 'l')
            fmt++;

        char *text;
        switch (*fmt) {
        case 'd':
        case 'i': {
            int32_t value = va_arg(ap, int32_t);
            uint32_t magnitude = value < 0 ? 0u - (uint32_t)value : (uint32_t)value;
            text = utoa(magnitude, 10, false, end);
            if (value < 0)
                *--text = '-';
            emit(sink, text, (size_t)(end - text), value < 0, width, left, pad);
            break;
        }
        case 'u':
            text = utoa(va_arg(ap, uint32_t), 10, false, end);
            emit(sink, text, (size_t)(end - text), 0, width, left, pad);
            break;
        case 'x':
        case 'X':
            text = utoa(va_arg(ap, uint32_t), 16, *fmt == 'X', end);
            emit(sink, text, (size_t)(end - text), 0, width, left, pad);
            break;
        case 'p': {
            uint32_t value = (uint32_t)(uintptr_t)va_arg(ap, void *);
            text = utoa(value, 16, false, end);
            while (end - text < 8)
                *--text = '0';
            *--text = 'x';
            *--text = '0';
            emit(sink, text, (size_t)(end - text), 2, width, left, pad);
            break;
        }
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            emit(sink, s, strlen(s), 0, width, left, ' ');
            break;
        }
        case 'c': {
            char c = (char)va_arg(ap, int);
            emit(sink, &c, 1, 0, width, left, ' ');
            break;
        }
        case '%':
            sink->put(sink, '%');
            break;
        case '\0':
            return; /* a lone '%' at the end */
        default:    /* unknown conversion: show it as written */
            sink->put(sink, '%');
            sink->put(sink, *fmt);
            break;
        }
    }
}

void kvprintf(const char *fmt, va_list ap)
{
    struct sink sink = { .put = put_serial };
    format(&sink, fmt, ap);
}

void kprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kvprintf(fmt, ap);
    va_end(ap);
}

size_t ksnprintf(char *buf, size_t size, const char *fmt, ...)
{
    struct sink sink = { .put = put_buffer, .buf = buf, .size = size };
    va_list ap;
    va_start(ap, fmt);
    format(&sink, fmt, ap);
    va_end(ap);
    if (size > 0)
        buf[sink.len < size ? sink.len : size - 1] = '\0';
    return sink.len;
}
