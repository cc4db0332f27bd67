// A child process's output, kept whole for the checks that read it, and watched for one line.
//
// Each chunk is looked at once: a watch that joined and searched everything printed so far on every
// chunk cost time in proportion to all the output (quadratic over a run; wrangler dev prints a line per
// request): two thirds of a soak's load-process CPU, and a 30-minute soak's load fell from 82 to 22/s.

export interface OutputLog {
  /** Add a chunk as it arrives. */
  add(chunk: string): void;
  /** Everything added so far, in order. */
  text(): string;
  /** Resolves with the first match of `pattern` (searched a line at a time, lines split across chunks included). */
  firstMatch(pattern: RegExp): Promise<RegExpExecArray>;
}

export function outputLog(): OutputLog {
  const chunks: string[] = [];
  const watches: { pattern: RegExp; unfinished: string; found: (match: RegExpExecArray) => void }[] = [];
  const look = (watch: (typeof watches)[number], chunk: string) => {
    const text = watch.unfinished + chunk;
    const match = watch.pattern.exec(text);
    if (match) {
      watches.splice(watches.indexOf(watch), 1);
      watch.found(match);
    } else {
      watch.unfinished = text.slice(text.lastIndexOf('\n') + 1);
    }
  };
  const text = () => {
    // Joined once per new output, not once per call.
    if (chunks.length > 1) chunks.splice(0, chunks.length, chunks.join(''));
    return chunks[0] ?? '';
  };
  return {
    add(chunk) {
      chunks.push(chunk);
      for (const watch of [...watches]) look(watch, chunk);
    },
    text,
    firstMatch(pattern) {
      return new Promise((found) => {
        const watch = { pattern, unfinished: '', found };
        watches.push(watch);
        look(watch, text());
      });
    },
  };
}
