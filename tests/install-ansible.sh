#!/usr/bin/env bash
# Makes the virtualenv with ansible-core 2.19 that tests/offline/ansible_compat.rs
# compares pgconverge with. ansible-core is only the reference of that test,
# never a dependency of pgconverge. The place is PGCONVERGE_ANSIBLE_VENV, by
# default /var/tmp/pgconverge-ansible; an existing one with 2.19 is kept.
set -euo pipefail

venv="${PGCONVERGE_ANSIBLE_VENV:-/var/tmp/pgconverge-ansible}"
if "$venv/bin/ansible-inventory" --version 2>/dev/null | grep -q 'core 2\.19\.'; then
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check 'ansible-core==2.19.*'
"$venv/bin/ansible-inventory" --version | head -1
