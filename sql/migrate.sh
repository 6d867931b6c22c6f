#!/usr/bin/env bash
# migrate.sh DBNAME: applies the forward-only migrations sql/DBNAME/NNNN_*.sql
# that have not run yet, in order, each in one transaction together with its
# row in schema_migrations (version = file name, checksum = its sha256).
# Refuses to go on when a file that already ran has changed. A database
# without a folder has nothing to migrate.
#
# Connects with the libpq environment (PGHOST, PGPORT, PGUSER: the cluster
# superuser); the database must exist. ESM_SQL_DIR overrides the folder that
# holds the database folders (default: this script's folder).
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 DBNAME" >&2; exit 2; }
db=$1
case $db in *[!a-z0-9_]* | '') echo "migrate: bad database name '$db'" >&2; exit 2 ;; esac
dir=${ESM_SQL_DIR:-$(cd "$(dirname "$0")" && pwd -P)}/$db
[ -d "$dir" ] || exit 0	# no migrations for this database (yet)

# C collation: glob order is byte order; no NOTICE chatter ("already exists").
export LC_ALL=C PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
psql_db() { psql -X -q -v ON_ERROR_STOP=1 -d "$db" "$@"; }

psql_db -c "CREATE TABLE IF NOT EXISTS schema_migrations (
	version text PRIMARY KEY,
	checksum text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now())"

declare -A applied=()
while IFS='|' read -r v c; do
	[ -n "$v" ] && applied[$v]=$c
done < <(psql_db -tA -c "SELECT version, checksum FROM schema_migrations")

shopt -s nullglob
files=("$dir"/[0-9][0-9][0-9][0-9]_*.sql)	# glob order is version order
n=0
for f in "${files[@]}"; do
	v=$(basename "$f")
	case $v in *[!A-Za-z0-9_.-]*) echo "migrate: $db: bad file name '$v'" >&2; exit 1 ;; esac
	sum=$(sha256sum "$f" | cut -d' ' -f1)
	if [ -n "${applied[$v]+set}" ]; then
		if [ "${applied[$v]}" != "$sum" ]; then
			echo "migrate: $db: $v changed after it was applied (checksum ${applied[$v]:0:12}... now ${sum:0:12}...)." >&2
			echo "migrate: migrations are forward-only: restore the file and add a new one." >&2
			exit 1
		fi
		unset "applied[$v]"
		continue
	fi
	echo "migrate: $db: applying $v"
	# The file and its record in one transaction: both or neither. The
	# INSERT's primary key also stops a concurrent run applying it twice.
	# ($v and $sum were checked above: safe as SQL literals.)
	psql_db --single-transaction -f "$f" \
		-c "INSERT INTO schema_migrations (version, checksum) VALUES ('$v', '$sum')" ||
		{ echo "migrate: $db: $v failed, nothing of it was applied" >&2; exit 1; }
	n=$((n + 1))
done
for v in "${!applied[@]}"; do
	echo "migrate: $db: warning: $v was applied but is no longer in $dir" >&2
done
[ "$n" -eq 0 ] || echo "migrate: $db: $n applied"
