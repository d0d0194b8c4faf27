-- Schema version 2 of tower-user-auth's PostgreSQL store: the counters of the throttle that
-- the instances on one database share (src/store/postgres/throttle.rs).
--
-- UNLOGGED: not written to the WAL, so counting a failed login costs no WAL flush; after a
-- crash (or on a physical replica promoted to primary) the table is empty, which only resets
-- the limits: no account, session or token is in it.
--
-- kind: 1 backoff of an (account, client) pair (key: account digest, then client); 2 failures
-- on an account per hour (key: account digest); 3 failures from a client per hour (key:
-- client); 4 registrations from a client per hour; 5 reset requests for an account per hour;
-- 6 reset requests from a client per hour. The account digest is the first 16 bytes of the
-- SHA-256 of the email's email_key, never the email; a client is a tag byte (0 none, 4 IPv4,
-- 6 IPv6) and its address (IPv6 by its /64).
CREATE UNLOGGED TABLE throttle (
    kind smallint NOT NULL CHECK (kind BETWEEN 1 AND 6),
    key bytea NOT NULL CHECK (length(key) BETWEEN 1 AND 33),
    -- Failures (backoff) or requests (windows) counted.
    count integer NOT NULL CHECK (count >= 0),
    -- A window's start; a backoff's last failure.
    since timestamptz NOT NULL,
    -- A backoff's failure before the last (NULL for its first), from which the backoff that
    -- an attempt meets is computed.
    prev timestamptz,
    -- When the row stops counting: a window's end; a backoff's last failure plus the longest
    -- backoff plus an hour. An expired row counts as absent, and is purged.
    expires timestamptz NOT NULL,
    CONSTRAINT throttle_pkey PRIMARY KEY (kind, key)
);
CREATE INDEX throttle_expires ON throttle (expires);
