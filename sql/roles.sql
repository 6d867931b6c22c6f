-- roles.sql: one login role per service and worker, least privilege.
--
-- Run as the cluster superuser in any database (scripts/stack.sh, Ansible).
-- Idempotent. Creates no password: whoever provisions the cluster sets them
-- with ALTER ROLE from its secrets. Table privileges come with each
-- database's migrations; here only who may connect to which database (when
-- the database exists already).

DO $$
DECLARE
	r text;
BEGIN
	FOREACH r IN ARRAY ARRAY['esm_users', 'esm_auth', 'esm_tasks',
	    'esm_notifications', 'esm_logmonitor', 'esm_relay', 'esm_notifier',
	    'esm_logcollector', 'esm_taskrunner']
	LOOP
		IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
			EXECUTE format('CREATE ROLE %I LOGIN', r);
		END IF;
		-- Whatever someone changed by hand, a service role stays plain.
		EXECUTE format('ALTER ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE'
		    ' NOREPLICATION NOBYPASSRLS CONNECTION LIMIT -1', r);
	END LOOP;
END
$$;

-- database => roles that may connect to it; nobody else may (PUBLIC can by
-- default).
DO $$
DECLARE
	g record;
BEGIN
	FOR g IN SELECT * FROM (VALUES
	    ('registrations', ARRAY['esm_users', 'esm_relay']),
	    ('auth',          ARRAY['esm_auth']),
	    ('tasks',         ARRAY['esm_tasks', 'esm_relay', 'esm_taskrunner']),
	    ('notifications', ARRAY['esm_notifications', 'esm_notifier']),
	    ('logmonitor',    ARRAY['esm_logmonitor', 'esm_logcollector'])
	) AS t(db, roles)
	LOOP
		IF EXISTS (SELECT FROM pg_database WHERE datname = g.db) THEN
			EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', g.db);
			EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO %s', g.db,
			    (SELECT string_agg(quote_ident(x), ', ') FROM unnest(g.roles) x));
		END IF;
	END LOOP;
END
$$;
