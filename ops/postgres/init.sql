-- Creates Steward's PostgreSQL role, database and schema, with no more
-- privilege than the app needs. Run once, as a superuser, on the database
-- host:
--
--   sudo -u postgres psql -v ON_ERROR_STOP=1 -f init.sql
--   sudo -u postgres psql -c '\password steward'
--
-- `\password` asks for the password and sends only its SCRAM hash, so the
-- plain password never reaches the server's logs. (`-v steward_password=…`
-- sets it here instead, in plain text over the connection.)
--
-- What the app may then do, as `steward`, in database `steward`:
--   * connect, and create temporary tables;
--   * everything inside schema `steward`, which it owns: `steward serve` applies
--     its migrations (schemas/postgres/, tracked in `_sqlx_migrations`) at
--     every start-up, so it needs CREATE there;
--   * take advisory locks, LISTEN/NOTIFY and read pg_locks, which every role
--     may by default (the append protocol and the wake-ups use them).
-- What it may not: create objects in schema `public`, create databases or
-- roles, replicate, or bypass row security; and pg_hba.conf.snippet lets it
-- log in to its own database only (PUBLIC may connect to `postgres` by
-- default).
--
-- Names can be changed for a test (ops/check runs this file against a
-- throwaway database): psql -v role=… -v db=… -v schema=… -v monitor_role=…

\set ON_ERROR_STOP on

\if :{?role}
\else
  \set role steward
\endif
\if :{?db}
\else
  \set db steward
\endif
\if :{?schema}
\else
  \set schema steward
\endif
\if :{?monitor_role}
\else
  \set monitor_role postgres_exporter
\endif

-- The app's login role. CONNECTION LIMIT: one `steward serve` holds up to 10
-- pooled connections plus one for LISTEN; the rest is room for a CLI run
-- (`steward events tail` opens its own pool) and a rolling restart.
CREATE ROLE :"role" LOGIN
    NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
    CONNECTION LIMIT 40;
\if :{?steward_password}
  ALTER ROLE :"role" PASSWORD :'steward_password';
\endif

-- Owned by the superuser running this, not by the app: the app cannot drop
-- or rename its database. UTF8 with the C collation: stream ids sort
-- byte-wise, and text indexes never depend on the C library's locale data
-- (which changes across OS upgrades and would silently corrupt them).
CREATE DATABASE :"db"
    ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;

REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"db" TO :"role";

-- Within the new database.
\connect :"db"

-- Nobody but the owner uses `public` here (PostgreSQL 15 already refuses
-- CREATE there to PUBLIC; older versions do not).
REVOKE ALL ON SCHEMA public FROM PUBLIC;

-- The app's schema, owned by the app: its migrations create the tables, the
-- sequence and the functions of schemas/postgres/ here.
CREATE SCHEMA :"schema" AUTHORIZATION :"role";
REVOKE ALL ON SCHEMA :"schema" FROM PUBLIC;

-- Unqualified names (all of Steward's SQL) resolve to that schema, whatever
-- the connection string says.
ALTER ROLE :"role" IN DATABASE :"db" SET search_path = :"schema";

-- A role for the Prometheus postgres_exporter on this host (ops/prometheus):
-- statistics only, through the built-in pg_monitor role; no access to the
-- events. It logs in over the local socket with peer authentication
-- (pg_hba.conf.snippet), so it has no password.
CREATE ROLE :"monitor_role" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION
    CONNECTION LIMIT 3;
GRANT pg_monitor TO :"monitor_role";

\if :{?steward_password}
\else
  \echo 'Created role' :"role" 'without a password: set one with psql''s \\password' :"role"
\endif
