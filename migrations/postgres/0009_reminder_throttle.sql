-- When a request's addressees were last reminded: a second reminder within a few minutes is
-- refused, so a double press or an impatient sender cannot flood 29 towns' inboxes and e-mail.
ALTER TABLE confirm_requests ADD COLUMN reminded_at BIGINT;
