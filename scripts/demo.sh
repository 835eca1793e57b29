#!/usr/bin/env bash
# make demo: the main job on the embedded default, end to end:
#   services up → simulate a 3-scene downlink → ingest (level-0 + copy, raw, product,
#   catalog, publish) → print where to look and a working analyst example → start a worker,
#   a watched folder and the scheduler of duties in the background → serve the STAC API,
#   STAC Browser and request pages in the foreground until Ctrl-C (which stops them all).
# A second `make demo` reuses what is there (same downlink = same job).
# DEMO_PIPELINE=ingest-level0 uses the reference CPF (1750/7000 detectors; minutes per scene).
# DEMO_COPY_SEAWEED=1 keeps the copies on a second, independent SeaweedFS (copy_seaweed: its own
# data directory and ports) instead of a second directory of the same disk; later commands in
# another shell need the same RSARCHIVE_COPY_SEAWEED=true (printed at the end).
set -euo pipefail
cd "$(dirname "$0")/.."
RSARCHIVE=${RSARCHIVE:-.venv/bin/rsarchive}
PY=${PY:-.venv/bin/python}
PIPELINE=${DEMO_PIPELINE:-ingest-level0-small}
SCENES=${DEMO_SCENES:-3}

if [[ "${DEMO_COPY_SEAWEED:-0}" == 1 ]]; then
  export RSARCHIVE_COPY_SEAWEED=true
fi
root=$("$RSARCHIVE" config show --key archive_root)
copies=$("$RSARCHIVE" config show --key copy_store)
host=$("$RSARCHIVE" config show --key api_host)
port=$("$RSARCHIVE" config show --key api_port)
cpf=$("$PY" -c "from rsarchive.jobs.pipeline import load_pipeline; print(load_pipeline('$PIPELINE').cpf)")
demo="$root/demo"
incoming="$demo/incoming"
logs="$demo/logs"
mkdir -p "$demo" "$incoming" "$logs"

echo "== 1. services: PostgreSQL 15 + PostGIS + pgSTAC (internal and public databases), SeaweedFS S3"
"$RSARCHIVE" services up   # (+ the copy's own SeaweedFS with DEMO_COPY_SEAWEED=1)

echo
echo "== 2. a simulated ${SCENES}-scene VNREDSat-1 class downlink (CPF $cpf) over northern Viet Nam"
pass="$demo/pass-$cpf-$SCENES.cadu"
if [[ -f "$pass" ]]; then
  echo "reusing $pass"
else
  "$RSARCHIVE" simulate downlink --out "$pass" --scenes "$SCENES" --cpf "$cpf" --truth-dir "$demo/truth-$cpf-$SCENES" \
    --cloud-fraction 0.15 --seed 2026
fi

echo
echo "== 3. ingest: level-0 + verified copy → decode → raw (L1A) → product (L2A) → catalog → publish"
"$RSARCHIVE" ingest "$pass" --pipeline "$PIPELINE" --wait \
  --reception '{"station": "VNSC-HN", "pass_id": "demo-'"$SCENES"'", "route": "station", "plan_ref": "DEMO-PLAN-2026"}'
"$RSARCHIVE" jobs list --limit 3

# An analyst's token for the internal STAC API: the public catalog lists the data files, which
# are supplied on request (Decision 81, Art. 8); analysts of the archive read them through the
# internal API, whose assets point at the stores.  Made once, kept 0600 beside the demo data.
token_file="$demo/analyst.token"
if [[ ! -s "$token_file" ]] || ! "$RSARCHIVE" users list | grep -q '^demo-analyst'; then
  ( umask 077
    if "$RSARCHIVE" users list | grep -q '^demo-analyst'; then
      "$RSARCHIVE" users token demo-analyst > "$token_file"
    else
      "$RSARCHIVE" users add demo-analyst --role officer --org "Trung tâm Viễn thám quốc gia" | head -1 > "$token_file"
    fi )
fi
token=$(cat "$token_file")

base="http://$host:$port"
cat <<TXT

== 4. where to look
  STAC API (public)    $base/stac/            collections: $base/stac/collections
  STAC Browser         $base/browser/
  API docs (OpenAPI)   $base/docs
  Requests (web)       $base/web/
  Internal STAC API    $base/internal/stac/   (token: .venv/bin/rsarchive users add NAME --role officer --org ORG)
  Objects              $root/objects/primary  (copies: $copies${RSARCHIVE_COPY_SEAWEED:+; in another shell: export RSARCHIVE_COPY_SEAWEED=true})
  Jobs                 .venv/bin/rsarchive jobs list

  An analyst's cube from the internal STAC API, with the server running (paste into .venv/bin/python;
  the token of demo-analyst is in $token_file):

    import pystac_client, odc.stac
    api = pystac_client.Client.open("$base/internal/stac", headers={"Authorization": "Bearer $token"})
    items = api.search(collections=["vnredsat1-product"]).item_collection()
    print(odc.stac.load(items, bands=["B3", "B4"], resolution=10, chunks={}))

== 5. running until Ctrl-C (the services keep running after it: .venv/bin/rsarchive services down)
  Watched folder       $incoming
                       drop a downlink there (a .cadu file; its reception record as FILE.json beside it,
                       or FILE.done when it is complete): it is queued once and ingested by the worker
  Scheduled duties     .venv/bin/rsarchive scheduler status   (audits, export, backups, reminders, yearly report)
  Logs                 $logs/{worker,watch,scheduler}.log
  Metrics              $base/metrics   (from this machine)
  Serving on           $base
TXT
# The worker, the watcher and the scheduler run beside the server; Ctrl-C reaches all of them (one
# process group), and whatever still runs when the server ends is stopped.
"$RSARCHIVE" worker > "$logs/worker.log" 2>&1 &
"$RSARCHIVE" watch "$incoming" --pipeline "$PIPELINE" > "$logs/watch.log" 2>&1 &
"$RSARCHIVE" scheduler > "$logs/scheduler.log" 2>&1 &
trap 'kill $(jobs -p) 2>/dev/null; wait' EXIT
"$RSARCHIVE" serve --host "$host" --port "$port"
