-- The task service's statements are prepared once per connection
-- (fcgi/tasks/routes.c), and their optional filters are NULL parameters
-- ("$1 IS NULL OR status = $1"). With the default plan_cache_mode,
-- PostgreSQL prices a plan for those parameters' values cheaper than the
-- generic one and so plans the list again on every call; planning cost
-- more than running it. The generic plans are the ones wanted anyway
-- (the (user_id, created_at) and (created_at) indexes in newest-first
-- order, filters applied on the way), so sessions of the service's role
-- in this database use them from the first call.
ALTER ROLE esm_tasks IN DATABASE tasks SET plan_cache_mode = force_generic_plan;
