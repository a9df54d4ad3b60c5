/* The guest's tiny C library: see lib.h. Simple byte loops; the hot paths of the workloads write
 * whole 32-bit words themselves and never go through here. */

#include "lib.h"

void *memset(void *dst, int byte, size_t n)
{
    unsigned char *d = dst;
    while (n--)
        *d++ = (unsigned char)byte;
    return dst;
}

void *memcpy(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    while (n--)
        *d++ = *s++;
    return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (d < s) {
        while (n--)
            *d++ = *s++;
    } else {
        while (n--)
            d[n] = s[n];
    }
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (; n; n--, x++, y++) {
        if (*x != *y)
            return *x - *y;
    }
    return 0;
}

size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

int strcmp(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return (unsigned char)*a - (unsigned char)*b;
}

static int digit_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return 99;
}

bool parse_u32(const char *s, size_t len, uint32_t *value)
{
    uint32_t base = 10, result = 0;
    if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
        len -= 2;
    }
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        uint32_t digit = (uint32_t)digit_value(s[i]);
        if (digit >= base)
            return false;
        /* Overflow check without a 64-bit division: (result * base + digit) must fit. */
        uint64_t next = (uint64_t)result * base + digit;
        if (next > 0xFFFFFFFFu)
            return false;
        result = (uint32_t)next;
    }
    *value = result;
    return true;
}
