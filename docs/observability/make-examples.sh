#!/usr/bin/env bash
# Remakes every example in docs/observability/ from the bundled guest (run from the repository root
# after `npm run build`). The outputs are deterministic apart from icount values and timings.
set -euo pipefail
D=docs/observability
B="node dist/cli.js"
T="$(mktemp -d)"
trap 'rm -rf "$T"' EXIT
svg2png() { node --input-type=module -e "import { Resvg } from '@resvg/resvg-js'; import { readFileSync, writeFileSync } from 'node:fs'; writeFileSync('$2', new Resvg(readFileSync('$1', 'utf8'), { font: { loadSystemFonts: true } }).render().asPng());"; }

# The command: owners at the peak, the map, and a trace (the 23 MB trace itself is not kept).
$B boot --workload random --ops 200000 --trace "$T/t.json" --map $D/map.svg --owners > "$T/random.txt"
sed -n '/^== page owners/,/^== buddy86 run/p' "$T/random.txt" | sed '$d' > $D/owners.txt
svg2png $D/map.svg $D/map.png
# A small trace to keep, and the report command reading it back.
$B boot --workload random --ops 2000 --memory 32M --trace $D/trace.json --trace-limit 1000 --trace-snapshot-every 1000 --quiet > /dev/null
$B report $D/trace.json --owners > $D/report-command.txt
# Reports at each MARK and at the end (the random phase of the demo and the end).
$B boot --workload demo --ops 300 --reports > "$T/demo.txt"
{ sed -n '/^== reports at MARK "phase:random"/,/^guest|/p' "$T/demo.txt" | sed '$d'; sed -n '/^== reports at the end/,/^contig:/p' "$T/demo.txt"; } > $D/reports.txt
# warn_alloc: fill runs 16 MiB out of memory once.
$B boot --workload fill --memory 16M --reports > "$T/fill.txt"
sed -n '/page allocation failure/,/^DMA: /p' "$T/fill.txt" > $D/warn-alloc.txt
# Invalid frees and leaks: a tiny kernel that gets them wrong on purpose (made by examples.ts).
$B boot --kernel $D/buggy-kernel.elf --owners --at call:6 > "$T/buggy.txt" || true
sed -n '/^== page owners/,/^== buddy86 run/p' "$T/buggy.txt" | sed '$d' > $D/invalid-frees-and-leaks.txt
# Fragmentation over the demo's phases; the map at 2 GiB.
$B boot --workload demo --ops 2000 --memory 64M --frag $D/frag.svg --quiet > /dev/null
svg2png $D/frag.svg $D/frag.png
$B boot --memory max --workload random --ops 30000 --map $D/map-2g.png --quiet > /dev/null
echo "examples remade in $D"
