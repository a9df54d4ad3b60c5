/* demo (the default): a short run of every workload marked in_demo in WORKLOADS, in table order,
 * each between MARK("phase:NAME") labels and with its own leak check (workload_run). The phases
 * share the cmdline's seed and ops (1000 unless given). */

#include "workload.h"
#include "printf.h"

void demo_run(struct run *run)
{
    uint32_t phases = 0, failed = 0;
    for (uint32_t i = 0; i < workload_count; i++) {
        const struct workload *phase = &workload_table[i];
        if (!phase->in_demo)
            continue;
        struct run sub = {
            .name = phase->name,
            .boot = run->boot,
            .seed = run->seed,
            .ops = run->ops,
        };
        uint32_t failures = workload_run(phase, &sub);
        run->failures += failures;
        failed += failures != 0;
        phases++;
    }
    summary(run, "%u phases, %u failed", phases, failed);
}
