#!/usr/bin/env bash
# Builds the bundled guest (guest/ -> buddy86-guest.elf) and the minimal example kernel
# (examples/minimal-kernel/ -> minimal-kernel.elf), plus TOOLCHAIN naming the gcc and ld used.
# Deterministic: relative paths only, no build-id, no debug info, sorted inputs, so the same
# toolchain gives the same bytes from any checkout. Usage: scripts/build-guest.sh [OUTDIR] (default images/).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="${1:-images}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
export LC_ALL=C

CC="${CC:-gcc}"
LD="${LD:-ld}"
CFLAGS=(
  -m32 -ffreestanding -nostdlib -fno-pic -fno-pie -fno-stack-protector
  -fno-omit-frame-pointer -O2 -std=gnu11 -Wall -Wextra
  -mgeneral-regs-only            # no x87/SSE state: the guest never sets CR4.OSFXSR
  -fno-asynchronous-unwind-tables
  -ffile-prefix-map="$ROOT"=.
  -Iguest/include
)
LDFLAGS=(-m elf_i386 --build-id=none -nostdlib -z noexecstack)

OBJ="$(mktemp -d)"
trap 'rm -rf "$OBJ"' EXIT

# compile OBJDIR SOURCE...: one object per source, named after its path, listed in OBJS.
compile() {
  local objdir="$1"; shift
  local src obj
  OBJS=()
  for src in "$@"; do
    obj="$objdir/${src//\//_}.o"
    "$CC" "${CFLAGS[@]}" "${EXTRA_INCLUDES[@]}" -c "$src" -o "$obj"
    OBJS+=("$obj")
  done
}

# The guest: entry.S first (its section order does not matter, the linker script decides, but a
# fixed order keeps the symbol table stable), then every .c in guest/ and guest/workloads/, sorted.
EXTRA_INCLUDES=(-Iguest)
mkdir -p "$OBJ/guest"
mapfile -t GUEST_SOURCES < <(echo guest/entry.S; printf '%s\n' guest/*.c guest/workloads/*.c | sort)
compile "$OBJ/guest" "${GUEST_SOURCES[@]}"
"$LD" "${LDFLAGS[@]}" -T guest/linker.ld -o "$OUT/buddy86-guest.elf" "${OBJS[@]}"

# The minimal kernel: its own entry.S and linker script, sharing only buddy86.h.
EXTRA_INCLUDES=(-Iexamples/minimal-kernel)
mkdir -p "$OBJ/minimal"
compile "$OBJ/minimal" examples/minimal-kernel/entry.S examples/minimal-kernel/kernel.c
"$LD" "${LDFLAGS[@]}" -T examples/minimal-kernel/linker.ld -o "$OUT/minimal-kernel.elf" "${OBJS[@]}"

{
  "$CC" --version | head -1
  "$LD" --version | head -1
} > "$OUT/TOOLCHAIN"

echo "built $OUT/buddy86-guest.elf ($(wc -c < "$OUT/buddy86-guest.elf") bytes)," \
  "$OUT/minimal-kernel.elf ($(wc -c < "$OUT/minimal-kernel.elf") bytes)"
