# Resumes PgBouncer (RESUME) when a switchover that paused it fails: its
# clients go on, to the primary that runs again. A PgBouncer that is not
# paused is left as it is.
# Not `set -e`: a refused RESUME is read, since a PgBouncer not paused refuses it.
set -u
if OUT=$(bouncer_console -c RESUME 2>&1); then
  echo "PgBouncer resumed"
  exit 0
fi
case $OUT in
  *"not paused"*) echo "PgBouncer was not paused" ;;
  *)
    printf '%s\n' "$OUT" >&2
    exit 1
    ;;
esac
