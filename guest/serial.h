/* COM1 (port 0x3F8), the guest's only output: the host captures it as the guest log. */
#ifndef GUEST_SERIAL_H
#define GUEST_SERIAL_H

/* Programs the UART for 115200 8N1 with its interrupts off. Call once, first thing at boot. */
void serial_init(void);

/* Sends one byte. Newlines go out as a bare '\n'. */
void serial_putc(char c);

#endif /* GUEST_SERIAL_H */
