# The facts script's outer part, run as the login (root): it reads only the
# PostgreSQL OS user's passwd entry and the run lock's holder, then hands the
# inner part (PGCONVERGE_FACTS) to that user, or runs it as the login where the
# user does not exist yet (nothing can be theirs then). Every record goes
# through one base64, so the output is text whatever bytes a value holds.
{
PASSWD=$(getent passwd "$PG_OS_USER")
emit os_user.passwd "$PASSWD"
emit_run_lock_holder
if [ -n "$PASSWD" ]; then
  printf '%s' "$PGCONVERGE_FACTS" | as_pg sh -s
else
  printf '%s' "$PGCONVERGE_FACTS" | sh -s
fi
} | base64 -w0
