# shellcheck shell=bash
# Run inside a lab host by `lab.sh application HOST` (on standard input, so it
# needs no file the host can see): makes its server one that serves an
# application. LAB_APP_PASSWORD and PG_VERSION come from lab.sh.
set -euo pipefail
cd /
conf=/etc/postgresql/$PG_VERSION/main
cat >"$conf/conf.d/60-listen.conf" <<'CONF'
# The application connects over the network.
listen_addresses = '*'
CONF
chown postgres:postgres "$conf/conf.d/60-listen.conf"
cat >>"$conf/pg_hba.conf" <<'HBA'

# The application, over TLS only.
hostssl appdb app 10.77.0.0/24 scram-sha-256
HBA
runuser -u postgres -- psql -XAtq -v ON_ERROR_STOP=1 -v password="$LAB_APP_PASSWORD" -d postgres <<'SQL'
CREATE ROLE app LOGIN PASSWORD :'password';
CREATE DATABASE appdb OWNER app;
\connect appdb
SET ROLE app;
CREATE TABLE orders (id int PRIMARY KEY, item text NOT NULL);
INSERT INTO orders VALUES (1, 'lamp'), (2, 'desk'), (3, 'chair');
RESET ROLE;
ALTER SYSTEM SET wal_keep_size = '512MB';
ALTER SYSTEM SET log_lock_waits = on;
SQL
pg_ctlcluster "$PG_VERSION" main restart
for ((k = 0; k < 300; k++)); do
    runuser -u postgres -- psql -XAtqc "select 1" >/dev/null 2>&1 && exit 0
    sleep 0.1
done
echo "PostgreSQL does not answer after its restart" >&2
exit 1
