-- Schema version 3 of tower-user-auth's PostgreSQL store: the account lifecycle (issue 13):
-- whether an account's email is confirmed, single-use email tokens (confirming an address,
-- changing it) and the TOTP second factor with its recovery codes
-- (src/store/postgres/email_tokens.rs, second_factors.rs).

-- Accounts that existed before this version count as confirmed (the DEFAULT fills them, and
-- keeps instances of the previous version that are still running during an upgrade
-- registering confirmed accounts, as they did); this version names the column in every
-- insert. A constant default is stored in the catalog: the table is not rewritten.
ALTER TABLE users ADD COLUMN email_confirmed boolean NOT NULL DEFAULT true;

-- Email tokens by the SHA-256 digest of the token, never the token. kind: 1 confirms the
-- account's address, 2 moves the account to new_email (as asked, trimmed). At most one of
-- each kind per user: the unique constraint is also the index of the lookups by user.
CREATE TABLE email_tokens (
    digest bytea PRIMARY KEY CHECK (length(digest) = 32),
    user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind smallint NOT NULL CHECK (kind IN (1, 2)),
    new_email text CHECK ((kind = 2) = (new_email IS NOT NULL)),
    created timestamptz NOT NULL,
    expires timestamptz NOT NULL,
    CONSTRAINT email_tokens_user_kind UNIQUE (user_id, kind)
);
CREATE INDEX email_tokens_expires ON email_tokens (expires);

-- A user's second factor, pending (enabled false) or enabled: the shared secret sealed by
-- the application (nonce and AEAD ciphertext; the key is not in the database), the last
-- RFC 6238 time step a code was accepted at (0: none), and the SHA-256 digests of the
-- recovery codes not used yet.
CREATE TABLE second_factors (
    user_id bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    sealed_secret bytea NOT NULL,
    enabled boolean NOT NULL,
    last_step bigint NOT NULL DEFAULT 0 CHECK (last_step >= 0),
    recovery_codes bytea[] NOT NULL DEFAULT '{}'
);
