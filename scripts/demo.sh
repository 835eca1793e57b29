#!/usr/bin/env bash
# make demo: bring the local services up and show where to look.
# (Later stages extend this to: simulate a downlink → ingest → publish → serve.)
set -euo pipefail
cd "$(dirname "$0")/.."
RSARCHIVE=${RSARCHIVE:-.venv/bin/rsarchive}

echo "== rsarchive services up"
"$RSARCHIVE" services up
echo
echo "== rsarchive services status"
"$RSARCHIVE" services status
echo
echo "Data lives under $("$RSARCHIVE" config show --key archive_root 2>/dev/null || echo var/)."
echo "Stop the services with: .venv/bin/rsarchive services down"
