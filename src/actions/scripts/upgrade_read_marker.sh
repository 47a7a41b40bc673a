# What `upgrade --cleanup` plans from: the marker the upgrade left, root's, in a
# directory only root can write. `marker absent`, or `marker BASE64` (its
# content); then `end yes`. A marker that is a link, not a regular file of
# root's, or in a directory another user can write is refused.
set -eu
if [ ! -e "$MARKER" ] && [ ! -L "$MARKER" ]; then
  echo "marker absent"
elif [ -L "$MARKER" ] || [ ! -f "$MARKER" ] || [ "$(stat -c %u "$MARKER")" != 0 ] || ! root_owns_path "$(dirname "$MARKER")"; then
  echo "$MARKER is not a file of root's in a directory root alone owns: refusing to read it" >&2
  exit 1
else
  printf 'marker %s\n' "$(base64 -w0 <"$MARKER")"
fi
echo "end yes"
