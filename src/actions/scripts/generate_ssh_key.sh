# Makes the OS user's key pair on the host if it has none: the private key never
# leaves the host; the plan and the output show fingerprints only.
set -eu
DIR=$(dirname "$KEY_PATH")
as_pg mkdir -p "$DIR"
as_pg chmod 700 "$DIR"
[ -f "$KEY_PATH" ] || as_pg ssh-keygen -q -t ed25519 -N '' -C "$PG_OS_USER@$(hostname)" -f "$KEY_PATH"
ssh-keygen -lf "$KEY_PATH.pub"
