# A checkpoint on the primary, so its clean shutdown is quick.
set -eu
pg_sql -c CHECKPOINT >/dev/null && echo checkpoint
