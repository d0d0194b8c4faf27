-- Schema version 5 of tower-user-auth's PostgreSQL store, after the tokens' generation
-- (version 4). Unconfirmed accounts against pre-hijacking (issue 21): whether a registration
-- attempt tried the address of an unconfirmed account (src/store/postgres/users.rs), and the
-- index the purge of unconfirmed accounts past their lifetime ranges over. It changes no
-- existing row's meaning: no account is contested.

-- A constant default is stored in the catalog: the table is not rewritten. Contested only
-- while unconfirmed: a confirmation clears it in the same statement.
ALTER TABLE users ADD COLUMN contested boolean NOT NULL DEFAULT false;
ALTER TABLE users ADD CONSTRAINT users_contested_unconfirmed
    CHECK (NOT (contested AND email_confirmed));

-- The unconfirmed accounts by creation: `purge_expired` deletes those created at or before
-- its limit; a partial index, so confirmed accounts (almost all of them) take no space in it.
CREATE INDEX users_unconfirmed_created ON users (created) WHERE NOT email_confirmed;
