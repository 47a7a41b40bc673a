# The facts script's records: `emit KEY VALUE` writes `KEY LENGTH`, a line feed,
# the value and a line feed, with the shell's own printf (LC_ALL=C, set by the
# library, makes `${#2}` count bytes), so a fact costs no process of its own.
# Not `set -e`: a fact that cannot be read is left out, and the script goes on
# to the next (the library sets `-u`).
emit() { printf '%s %s\n%s\n' "$1" "${#2}" "$2"; }
# A link is reported as a link (with where it leads), never read through:
# the plan refuses to act on it.
emit_path() {
  if [ -L "$2" ]; then emit "$1.link" "$(readlink "$2")"
  elif [ -e "$2" ]; then emit "$1.stat" "$(stat -c '%U:%G:%a:%Y' "$2")"; fi
}
emit_file() {
  if [ -L "$2" ]; then emit_path "$1" "$2"
  elif [ -f "$2" ]; then
    emit_path "$1" "$2"
    if [ -r "$2" ]; then emit "$1.content" "$(base64 -w0 < "$2")"; else emit "$1.unreadable" yes; fi
  fi
}
# count_existing PATH...: how many of the paths exist, in $COUNT (an unmatched
# pattern stays as written, and does not).
count_existing() {
  COUNT=0
  for f in "$@"; do if [ -e "$f" ]; then COUNT=$((COUNT + 1)); fi; done
}
