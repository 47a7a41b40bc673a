# Runs the script as the user $1 with su. The first line of standard input is
# the password (empty when none is given), which su reads through PAM from its
# own standard input; the script reaches the shell on another descriptor, so
# that nothing PAM reads past the password can be taken from it. Exits 97 when
# su refuses.
IFS= read -r password
exec 3<&0
if ! out=$(printf '%s\n' "$password" | su -c true "$1" 2>&1 3<&-); then printf '%s\n' "$out" >&2; exit 97; fi
printf '%s\n' "$password" | su -c 'exec sh -s <&3 3<&-' "$1"
