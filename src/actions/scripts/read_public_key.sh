# Prints the PostgreSQL OS user's public key. Runs as that user, so a link there
# leads to nothing root alone may read; pgconverge checks it is one key line.
set -eu
cat "$KEY_PATH"
