# A checkpoint on the primary, so its clean shutdown is quick.
pg_sql -c CHECKPOINT >/dev/null && echo checkpoint
