import type { Bindings } from './env';

type Level = 'debug' | 'info' | 'error';

// One JSON line per event. Callers pass ids, counts and statuses only: never a key, a token or a prompt.
export function logEvent(env: Pick<Bindings, 'DEBUG'> | undefined, level: Level, fields: Record<string, unknown>) {
  if (level === 'debug' && env?.DEBUG !== 'true') return;
  const line = JSON.stringify({ level, ...fields });
  if (level === 'error') console.error(line);
  else console.log(line);
}
