-- A cache hit costs nothing; `saved_usd` is what the answer would have cost at the model's prices
-- (null for other records and for unpriced models), summed by the operator's usage report.
ALTER TABLE usage_records ADD COLUMN saved_usd REAL;
