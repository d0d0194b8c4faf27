-- Schema version 4 of tower-user-auth's PostgreSQL store: every reset token and email token
-- records the credential generation it was issued at (issue 21), and is redeemed only while
-- it is still its user's generation (src/store/postgres/resets.rs, email_tokens.rs).

-- A token of version 3 is stamped with its user's generation as it is now: version 3 revoked
-- a user's reset token and email tokens at each change that moved the generation (a change
-- of password or a reset; an email change revoked them too), so every token still stored was
-- issued at it and stays as good as it was. Added with a default (stored in the catalog,
-- no rewrite), filled from users, then the default dropped: this version names the column
-- in every insert.
ALTER TABLE reset_tokens ADD COLUMN generation bigint NOT NULL DEFAULT 0
    CHECK (generation >= 0);
UPDATE reset_tokens SET generation = users.generation
    FROM users WHERE users.id = reset_tokens.user_id;
ALTER TABLE reset_tokens ALTER COLUMN generation DROP DEFAULT;

ALTER TABLE email_tokens ADD COLUMN generation bigint NOT NULL DEFAULT 0
    CHECK (generation >= 0);
UPDATE email_tokens SET generation = users.generation
    FROM users WHERE users.id = email_tokens.user_id;
ALTER TABLE email_tokens ALTER COLUMN generation DROP DEFAULT;
