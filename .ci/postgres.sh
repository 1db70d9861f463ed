#!/usr/bin/env bash
# PostgreSQL for the transactional-dispatch tests: make sure it runs on
# 127.0.0.1:5432 and that the test database exists. Called by .ci/run.
set -euo pipefail

PGHOST=127.0.0.1
PGPORT=5432
PGUSER=postgres
DATABASE="${SPAKKY_TEST_POSTGRES_DB:-spakky_dispatch_test}"

if ! (exec 3<>"/dev/tcp/$PGHOST/$PGPORT") 2>/dev/null; then
  echo "starting postgresql"
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    cluster=$(pg_lsclusters -h | awk 'NR==1 {print $1, $2}')
    # shellcheck disable=SC2086
    pg_ctlcluster --skip-systemctl-redirect $cluster start
  else
    service postgresql start
  fi
fi
deadline=$((SECONDS + 60))
until (exec 3<>"/dev/tcp/$PGHOST/$PGPORT") 2>/dev/null; do
  if ((SECONDS > deadline)); then echo "postgresql did not open $PGPORT" >&2; exit 1; fi
  sleep 1
done

exists=$(psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -tAc \
  "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'")
if [[ "$exists" != "1" ]]; then
  psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -c "CREATE DATABASE $DATABASE"
fi
echo "postgresql is up; database $DATABASE exists"
