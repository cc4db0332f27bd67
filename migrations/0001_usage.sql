-- One row per request that reached a provider (the usage record of the README, "Usage").
-- Never a prompt, an answer or a key. Times are ISO 8601 UTC; `day` (YYYY-MM-DD) is kept apart so
-- per-day totals and retention use an index instead of parsing `time`.
CREATE TABLE IF NOT EXISTS usage_records (
  id TEXT PRIMARY KEY,
  time TEXT NOT NULL,
  day TEXT NOT NULL,
  user TEXT NOT NULL,
  route TEXT NOT NULL,
  operation TEXT NOT NULL,
  provider TEXT NOT NULL,
  model TEXT,
  status INTEGER NOT NULL,
  stream INTEGER NOT NULL,
  attempts INTEGER NOT NULL,
  input_tokens INTEGER NOT NULL,
  output_tokens INTEGER NOT NULL,
  cached_input_tokens INTEGER NOT NULL,
  usage_source TEXT NOT NULL,
  cost_usd REAL,
  latency_ms INTEGER NOT NULL,
  first_byte_ms INTEGER,
  cache TEXT NOT NULL,
  error_code TEXT
);
CREATE INDEX IF NOT EXISTS usage_by_user_time ON usage_records (user, time);
CREATE INDEX IF NOT EXISTS usage_by_day ON usage_records (day);
CREATE INDEX IF NOT EXISTS usage_by_time ON usage_records (time);
