// Usage records for the demo (`npm run dev`) and the console's browser tests, so the operator
// console's charts show something on first run: a fixed pseudo-random spread over the last days,
// several users and models, some failures and an unpriced model. Written as SQL for
// `wrangler d1 execute DB --local --file`.

export interface SeedRecord {
  id: string;
  time: string;
  user: string;
  provider: string;
  model: string;
  status: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number | null;
  latency_ms: number;
}

/** USD per 1 000 000 input / output tokens; null: an unpriced model. */
const MODELS: { provider: string; model: string; price: [number, number] | null }[] = [
  { provider: 'groq', model: 'llama-3.3-70b-versatile', price: [0.59, 0.79] },
  { provider: 'anthropic', model: 'claude-sonnet-5', price: [3, 15] },
  { provider: 'gemini', model: 'gemini-2.0-flash', price: [0.1, 0.4] },
  { provider: 'openai', model: 'gpt-4o-mini', price: [0.15, 0.6] },
  { provider: 'groq', model: 'llama-3.1-8b-instant', price: null },
];
const USERS = ['demo', 'ronan', 'audrey', 'maya'];

/** A small deterministic generator (mulberry32): the same seed gives the same records. */
function random(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `perDay` records on each of the last `days` days (today included), before `now`. */
export function seedRecords(now = new Date(), days = 14, perDay = 12, seed = 7): SeedRecord[] {
  const next = random(seed);
  const pick = <T>(list: T[]) => list[Math.floor(next() * list.length)]!;
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const records: SeedRecord[] = [];
  for (let d = days - 1; d >= 0; d--) {
    const dayStart = today - d * 86_400_000;
    const span = Math.min(86_400_000, now.getTime() - dayStart);
    for (let i = 0; i < perDay; i++) {
      const { provider, model, price } = pick(MODELS);
      const failed = next() < 0.08;
      const input = 200 + Math.floor(next() * 4000);
      const output = failed ? 0 : 50 + Math.floor(next() * 1500);
      const cost = price === null ? null : failed ? 0 : Math.round(((input * price[0] + output * price[1]) / 1e6) * 1e9) / 1e9;
      records.push({
        id: `seed-${d}-${String(i).padStart(2, '0')}`,
        time: new Date(dayStart + Math.floor(next() * span)).toISOString(),
        user: pick(USERS),
        provider,
        model,
        status: failed ? pick([429, 502]) : 200,
        input_tokens: input,
        output_tokens: output,
        cost_usd: cost,
        latency_ms: 200 + Math.floor(next() * 2500),
      });
    }
  }
  return records;
}

const sqlText = (value: string) => `'${value.replace(/'/g, "''")}'`;

/** INSERT statements for the D1 table `usage_records` (migrations/); a demo user's id is their name (the first ids given). */
export function seedSql(records: SeedRecord[]): string {
  return records
    .map(
      (r) =>
        `INSERT OR REPLACE INTO usage_records (id, time, day, user_id, user, route, operation, provider, model, status, stream, attempts, input_tokens, output_tokens, cached_input_tokens, usage_source, cost_usd, latency_ms, first_byte_ms, cache, error_code) VALUES (` +
        [
          sqlText(r.id),
          sqlText(r.time),
          sqlText(r.time.slice(0, 10)),
          sqlText(r.user),
          sqlText(r.user),
          sqlText('proxy'),
          sqlText('chat/completions'),
          sqlText(r.provider),
          sqlText(r.model),
          r.status,
          0,
          1,
          r.input_tokens,
          r.output_tokens,
          0,
          sqlText(r.status === 200 ? 'provider' : 'none'),
          r.cost_usd === null ? 'NULL' : String(r.cost_usd),
          r.latency_ms,
          Math.round(r.latency_ms / 4),
          sqlText('none'),
          r.status === 200 ? 'NULL' : sqlText('upstream_error'),
        ].join(', ') +
        ');',
    )
    .join('\n');
}
