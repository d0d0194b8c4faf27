-- Unconfirmed accounts against pre-hijacking (issue 21): whether a registration attempt
-- tried the address of an unconfirmed account (src/store/postgres/users.rs), and the index
-- the purge of unconfirmed accounts past their lifetime ranges over. On the branch that
-- introduced it this is version 4; it follows the tokens' generation step wherever that
-- lands first. It changes no existing row's meaning: no account is contested.

-- A constant default is stored in the catalog: the table is not rewritten. Contested only
-- while unconfirmed: a confirmation clears it in the same statement.
ALTER TABLE users ADD COLUMN contested boolean NOT NULL DEFAULT false;
ALTER TABLE users ADD CONSTRAINT users_contested_unconfirmed
    CHECK (NOT (contested AND email_confirmed));

-- The unconfirmed accounts by creation: `purge_expired` deletes those created at or before
-- its limit; a partial index, so confirmed accounts (almost all of them) take no space in it.
CREATE INDEX users_unconfirmed_created ON users (created) WHERE NOT email_confirmed;
