// The command-line options of the bench's scripts (profile.ts, heap.ts, soak.ts).

const argv = process.argv.slice(2);

/** Whether `name` (e.g. `--large`) was given. */
export const flag = (name: string) => argv.includes(name);

/** The number given after `name` (e.g. `--seconds 8`), else `fallback`. */
export function numberOption(name: string, fallback: number): number {
  const index = argv.indexOf(name);
  return index >= 0 ? Number(argv[index + 1]) : fallback;
}
