-- A user changes its password; an administrator changes a user's role.
-- Both lock the row (SELECT ... FOR UPDATE) while they check it.
GRANT UPDATE (password_hash, role) ON users TO esm_users;
