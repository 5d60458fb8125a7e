-- The read-only role the Steward dashboards read PostgreSQL with.
--
-- Run it once as a superuser, connected to Steward's database, with the
-- role steward-server connects as (the owner of its tables) and a new
-- password for the reader:
--
--   export STEWARD_GRAFANA_DB_PASSWORD=$(openssl rand -hex 24)
--   sudo -u postgres psql -d steward -v owner=steward \
--     -v password="$STEWARD_GRAFANA_DB_PASSWORD" \
--     -f dashboards/provisioning/postgres-reader.sql
--
-- Running it again sets the password and the grants again.
\set ON_ERROR_STOP on

SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'steward_grafana') AS create_role \gset
\if :create_role
CREATE ROLE steward_grafana;
\endif
ALTER ROLE steward_grafana WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION
  CONNECTION LIMIT 10 PASSWORD :'password';

-- Every transaction is read-only, and no dashboard query runs away.
ALTER ROLE steward_grafana SET default_transaction_read_only = on;
ALTER ROLE steward_grafana SET statement_timeout = '30s';

SELECT format('GRANT CONNECT ON DATABASE %I TO steward_grafana', current_database()) \gexec
GRANT USAGE ON SCHEMA public TO steward_grafana;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO steward_grafana;
-- Hashes of API tokens and enroll secrets are nobody's business here.
REVOKE ALL ON api_tokens, enroll_secrets FROM steward_grafana;
-- Tables that later migrations create are readable too.
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public GRANT SELECT ON TABLES TO steward_grafana;
