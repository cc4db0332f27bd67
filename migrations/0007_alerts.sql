-- One row per alert condition and period (README, "Alerts"): `key` is the alert's dedup key, so an
-- alert enqueued again (a producer that forgot, a retried message) is recorded and sent once.
-- `alert` is the alert object (JSON); `claimed_until` (ms since the epoch) keeps two deliveries of
-- one key from posting at the same time.
CREATE TABLE IF NOT EXISTS alerts (
  key TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  time TEXT NOT NULL,
  alert TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  delivered_at TEXT,
  last_error TEXT,
  claimed_until INTEGER
);
CREATE INDEX IF NOT EXISTS alerts_by_time ON alerts (time);
