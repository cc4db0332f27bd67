-- Stored Responses API answers (POST /v1/responses with store, the default), one row per response,
-- kept 30 days. A row holds its own turn only: the input items it was sent and the Response object
-- it answered; previous_response_id links the turns of a conversation, which one recursive query
-- reads back in order.
CREATE TABLE IF NOT EXISTS responses (
  id TEXT PRIMARY KEY,
  user TEXT NOT NULL,
  previous_response_id TEXT,
  created_at INTEGER NOT NULL,  -- unix seconds
  expires_at INTEGER NOT NULL,  -- unix seconds
  input TEXT NOT NULL,          -- JSON array: this turn's input items
  response TEXT NOT NULL        -- JSON: the Response object
);

CREATE INDEX IF NOT EXISTS responses_expiry ON responses (expires_at);
