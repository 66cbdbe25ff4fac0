#!/usr/bin/env bash
# Make sure PostgreSQL answers on 127.0.0.1:5432 (user postgres, trust auth): start it, or
# install and start Debian's server. Exits non-zero when it cannot.
set -uo pipefail
ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null || \
  python3 -c "import socket; socket.create_connection(('127.0.0.1', 5432), 2)" 2>/dev/null; }
ready && exit 0
if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
  echo "== installing PostgreSQL"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
  ver=$(ls /etc/postgresql | head -1)
  $SUDO sed -i -E 's/^(local|host)(\s+all\s+all\s+\S*\s*)(peer|scram-sha-256|md5)$/\1\2trust/' \
    /etc/postgresql/$ver/main/pg_hba.conf
  $SUDO sed -i -E 's/^(local\s+all\s+postgres\s+)peer$/\1trust/' /etc/postgresql/$ver/main/pg_hba.conf
fi
ver=$(ls /etc/postgresql | head -1)
echo "== starting PostgreSQL $ver"
pg_ctlcluster --skip-systemctl-redirect "$ver" main start 2>/dev/null || pg_ctlcluster "$ver" main start || true
for _ in $(seq 1 30); do ready && exit 0; sleep 1; done
echo "PostgreSQL is not reachable on 127.0.0.1:5432" >&2
exit 1
