/**
 * The PostgreSQL schema of a cluster, versioned like the SQLite one: each
 * migration moves the schema from version i to i + 1, runs in one
 * transaction, and is never edited once released (append only). Nodes that
 * start at once migrate one at a time (an advisory lock); a database written by
 * a newer schema is refused.
 *
 * The tables mirror the SQLite store's (docs/cluster.md § Data model); what a
 * cluster adds is where the numbers come from. Every number is taken under a
 * row lock in the transaction that stores the message, never from a
 * PostgreSQL SEQUENCE (which leaves gaps on rollback): `counters.private_seq`
 * numbers private messages 1..n across the cluster (the lines of
 * messagelog.txt), `users.inbox_seq` each receiver's inbox, `groups.last_seq`
 * each group.
 *
 * @module
 */

import type { Sql } from "./pg.ts";

/** Each entry moves the schema from version i to i + 1. Append only. */
const MIGRATIONS: string[] = [
  `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
   -- One namespace for users and groups, compared case-insensitively: key = lower(name).
   CREATE TABLE names (
     key TEXT PRIMARY KEY,
     kind TEXT NOT NULL CHECK (kind IN ('user', 'group')),
     name TEXT NOT NULL UNIQUE
   );
   CREATE TABLE users (
     name TEXT PRIMARY KEY,
     password_hash TEXT NOT NULL,
     updated_at BIGINT NOT NULL,
     inbox_seq BIGINT NOT NULL DEFAULT 0,
     inbox_acked BIGINT NOT NULL DEFAULT 0
   );
   CREATE TABLE counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL);
   INSERT INTO counters (name, value) VALUES ('private_seq', 0);
   CREATE TABLE private_messages (
     seq BIGINT PRIMARY KEY,
     n BIGINT NOT NULL,
     at BIGINT NOT NULL,
     sender TEXT NOT NULL,
     receiver TEXT NOT NULL REFERENCES users (name),
     text TEXT NOT NULL,
     UNIQUE (receiver, n)
   );
   CREATE INDEX private_pair ON private_messages (sender, receiver, seq);
   CREATE TABLE groups (
     name TEXT PRIMARY KEY,
     key TEXT NOT NULL UNIQUE,
     creator TEXT NOT NULL,
     created_at BIGINT NOT NULL,
     last_seq BIGINT NOT NULL DEFAULT 0,
     topic TEXT,
     -- Moves at every change of the members or the topic: nodes cache groups by it.
     version BIGINT NOT NULL DEFAULT 0
   );
   CREATE TABLE memberships (
     group_name TEXT NOT NULL REFERENCES groups (name),
     member TEXT NOT NULL REFERENCES users (name),
     state TEXT NOT NULL CHECK (state IN ('invited', 'joined')),
     invited_by TEXT,
     read_seq BIGINT NOT NULL DEFAULT 0,
     -- Membership order (the order of the first invitation or creation).
     ord BIGINT GENERATED ALWAYS AS IDENTITY,
     PRIMARY KEY (group_name, member)
   );
   CREATE INDEX memberships_by_member ON memberships (member, group_name);
   CREATE TABLE group_messages (
     group_name TEXT NOT NULL REFERENCES groups (name),
     seq BIGINT NOT NULL,
     at BIGINT NOT NULL,
     sender TEXT NOT NULL,
     text TEXT NOT NULL,
     PRIMARY KEY (group_name, seq)
   );

   -- Stores private messages, numbered in the log and in each receiver's inbox.
   -- The counter row is locked first, so concurrent callers on any node queue
   -- behind it and never deadlock on the users' rows.
   CREATE FUNCTION add_private_messages(ats BIGINT[], senders TEXT[], receivers TEXT[], texts TEXT[])
   RETURNS TABLE (seq BIGINT, n BIGINT) LANGUAGE plpgsql AS $$
   DECLARE
     k INT := cardinality(ats);
     last BIGINT;
     next_n BIGINT;
     i INT;
   BEGIN
     UPDATE counters SET value = value + k WHERE name = 'private_seq' RETURNING value INTO last;
     FOR i IN 1..k LOOP
       UPDATE users SET inbox_seq = inbox_seq + 1 WHERE name = receivers[i]
         RETURNING inbox_seq INTO next_n;
       IF next_n IS NULL THEN
         RAISE EXCEPTION 'no user %', receivers[i] USING ERRCODE = 'foreign_key_violation';
       END IF;
       seq := last - k + i;
       n := next_n;
       INSERT INTO private_messages (seq, n, at, sender, receiver, text)
         VALUES (seq, n, ats[i], senders[i], receivers[i], texts[i]);
       RETURN NEXT;
     END LOOP;
   END $$;

   -- Stores messages of one group (by key), numbered in the group's stream;
   -- returns the group's name, the first seq and the group's version.
   CREATE FUNCTION add_group_messages(gkey TEXT, ats BIGINT[], senders TEXT[], texts TEXT[])
   RETURNS TABLE (name TEXT, first_seq BIGINT, version BIGINT) LANGUAGE plpgsql AS $$
   DECLARE
     k INT := cardinality(ats);
     last BIGINT;
   BEGIN
     UPDATE groups g SET last_seq = g.last_seq + k WHERE g.key = gkey
       RETURNING g.name, g.last_seq, g.version INTO name, last, version;
     IF name IS NULL THEN
       RAISE EXCEPTION 'no group %', gkey USING ERRCODE = 'foreign_key_violation';
     END IF;
     first_seq := last - k + 1;
     INSERT INTO group_messages (group_name, seq, at, sender, text)
       SELECT name, first_seq + t.i - 1, t.at, t.sender, t.text
       FROM unnest(ats, senders, texts) WITH ORDINALITY AS t(at, sender, text, i);
     RETURN NEXT;
   END $$;`,
];

/** The schema version this build writes. */
export const PG_SCHEMA_VERSION = MIGRATIONS.length;

/** An arbitrary number that names the migration lock (`pg_advisory_xact_lock`). */
const MIGRATION_LOCK = 0x7e55e9;

/**
 * Brings the database to {@link PG_SCHEMA_VERSION}.
 *
 * @throws {Error} when the database was written by a newer schema.
 */
export async function migrate(sql: Sql): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`;
    await tx`CREATE TABLE IF NOT EXISTS schema_version (version INT NOT NULL)`;
    const rows = await tx<{ version: number }[]>`SELECT version FROM schema_version`;
    let version = rows.length === 0 ? 0 : rows[0].version;
    if (rows.length === 0) await tx`INSERT INTO schema_version (version) VALUES (0)`;
    if (version > PG_SCHEMA_VERSION) {
      throw new Error(
        `Cannot open the database: schema version ${version} is newer than ${PG_SCHEMA_VERSION}`,
      );
    }
    for (; version < PG_SCHEMA_VERSION; version++) {
      await tx.unsafe(MIGRATIONS[version]);
      await tx`UPDATE schema_version SET version = ${version + 1}`;
    }
  });
}
