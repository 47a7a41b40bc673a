# Runs the script as the user $1 with sudo and a password: the first line of
# standard input, given to sudo on its standard input (never on a command
# line) when it asks for one, and the rest is the script. `-k` makes sudo ask
# every time, so the password line is never left for the script to read.
# Exits 97 when sudo refuses.
IFS= read -r password
if sudo -n -u "$1" -- true 2>/dev/null </dev/null; then exec sudo -n -u "$1" -- sh -s; fi
if ! out=$(printf '%s\n' "$password" | sudo -S -k -p '' -u "$1" -- true 2>&1); then printf '%s\n' "$out" >&2; exit 97; fi
{ printf '%s\n' "$password"; cat; } | sudo -S -k -p '' -u "$1" -- sh -s
