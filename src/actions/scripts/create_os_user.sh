# Makes the PostgreSQL OS group and user (a system account with HOME_DIR as its
# home) unless they exist.
set -eu
getent group "$OS_GROUP" >/dev/null || groupadd --system "$OS_GROUP"
getent passwd "$OS_USER" >/dev/null || useradd --system --gid "$OS_GROUP" --home-dir "$HOME_DIR" --shell /bin/bash "$OS_USER"
echo "user $OS_USER present"
