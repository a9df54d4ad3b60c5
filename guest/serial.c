/* COM1 driver: a 16550 UART polled for "transmit holding register empty" before each byte.
 * v86's UART is always ready, so the poll is bounded and never actually waits there. */

#include "serial.h"
#include "x86.h"

#define COM1 0x3F8
#define UART_DATA 0         /* transmit holding register (DLAB=0), divisor low byte (DLAB=1) */
#define UART_IER 1          /* interrupt enable (DLAB=0), divisor high byte (DLAB=1) */
#define UART_FCR 2          /* FIFO control */
#define UART_LCR 3          /* line control */
#define UART_MCR 4          /* modem control */
#define UART_LSR 5          /* line status */
#define LCR_DLAB 0x80       /* divisor latch access */
#define LCR_8N1 0x03
#define LSR_THR_EMPTY 0x20
#define POLL_LIMIT 100000   /* give up waiting rather than hang on a broken UART */

void serial_init(void)
{
    outb(COM1 + UART_IER, 0x00);     /* no UART interrupts: the guest never enables them anyway */
    outb(COM1 + UART_LCR, LCR_DLAB);
    outb(COM1 + UART_DATA, 1);       /* divisor 1 = 115200 baud */
    outb(COM1 + UART_IER, 0);
    outb(COM1 + UART_LCR, LCR_8N1);
    outb(COM1 + UART_FCR, 0xC7);     /* enable and clear the FIFOs */
    outb(COM1 + UART_MCR, 0x03);     /* DTR and RTS; OUT2 stays off (no IRQ line) */
}

void serial_putc(char c)
{
    for (int i = 0; i < POLL_LIMIT; i++) {
        if (inb(COM1 + UART_LSR) & LSR_THR_EMPTY)
            break;
    }
    outb(COM1 + UART_DATA, (uint8_t)c);
}
