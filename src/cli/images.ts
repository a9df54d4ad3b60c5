// Where the bundled guest images live: images/ at the package root, found from this module's URL
// whether it runs from dist/ (the CLI) or from src/ (tests).

import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const GUEST_IMAGE = "buddy86-guest.elf";
export const MINIMAL_KERNEL_IMAGE = "minimal-kernel.elf";

/** The path of a bundled image. Throws when the package has no images/ folder. */
export function bundledImage(name: string): string {
  for (const rel of ["../images/", "../../images/"]) {
    const path = fileURLToPath(new URL(rel + name, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new Error(`cannot find the bundled image images/${name} next to ${fileURLToPath(import.meta.url)}`);
}
