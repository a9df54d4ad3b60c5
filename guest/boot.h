/* What the multiboot loader left at the info address: the command line (workload=NAME seed=N
 * ops=N warmup=N) and the memory map. Read-only: the host reserves both and reads them again in MEMMAP. */
#ifndef GUEST_BOOT_H
#define GUEST_BOOT_H

#include <stdbool.h>
#include <stdint.h>

#define BOOT_WORKLOAD_MAX 32 /* bytes, including the NUL */

struct boot_args {
    char workload[BOOT_WORKLOAD_MAX]; /* "demo" unless the cmdline says otherwise */
    uint32_t seed;                    /* 1 unless given */
    uint32_t ops;                     /* 0 when not given: the workload's default applies */
    uint32_t warmup;                  /* ops of an untimed first run (0: none), see workload_run */
};

/* Parses the cmdline (when info flags bit 2 is set) into *args, starting from the defaults.
 * Unknown keys are reported and ignored. Returns false, after printing why, for a malformed
 * number or an over-long workload name. */
bool boot_parse_cmdline(uint32_t info_addr, struct boot_args *args);

/* Prints the memory map the way a kernel boot log does and returns the end address of the
 * highest usable (type 1) range below 4 GiB, or 0 when the map is missing (flags bit 6). */
uint32_t boot_print_memory_map(uint32_t info_addr);

#endif /* GUEST_BOOT_H */
