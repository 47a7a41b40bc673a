# Runs the script (standard input) as the user $1 with `sudo -n`: no password
# is asked. sudo's answer to a probe decides first, so its refusal is reported
# as such (exit 97) before any of the script runs.
if ! out=$(sudo -n -u "$1" -- true 2>&1 </dev/null); then printf '%s\n' "$out" >&2; exit 97; fi
exec sudo -n -u "$1" -- sh -s
