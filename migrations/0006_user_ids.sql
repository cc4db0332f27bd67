-- Records and stored responses belong to a user's stable id, not to a name that can be deleted and
-- created again. A user who existed before ids were given out gets their name as id (the users
-- directory gives a name out once), so their earlier rows stay theirs.
ALTER TABLE usage_records ADD COLUMN user_id TEXT;
-- The client's own X-Request-Id, a label; the record's id is always the gateway's.
ALTER TABLE usage_records ADD COLUMN client_request_id TEXT;
UPDATE usage_records SET user_id = user WHERE user_id IS NULL;
CREATE INDEX IF NOT EXISTS usage_by_user_id_time ON usage_records (user_id, time);
ALTER TABLE responses RENAME COLUMN user TO user_id;
