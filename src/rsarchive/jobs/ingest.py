"""The ground-station ingest: submission, and the pipeline a worker runs.

Stages (``pipelines/ingest-level0.yaml``): store level-0 + copy → decode → split
into scenes → raw → product → store → catalog → publish.  Threads keep the two
cores busy: level-0 is stored while it is decoded; then the raw level of scene
k + 1 is made in one thread while scene k is in product in another, and scene
k - 1 is stored, catalogued and published in a third (one scene ahead and one
behind at most: memory).  The job's result records the
wall seconds each stage took in its thread (``stage_seconds``; for ``raw``, the
time the product waited for it); the stages overlap, so they add up to more
than the job's wall time.

Idempotency and crash safety: the downlink's sha256 is the job's identity; the
level-0 key is derived from the reception record (or the sha256), so a retry
stores the same object (an identical re-put is a no-op); each scene's raw and
product files are published in one storage transaction whose id is derived from
the downlink and the scene, committed together with the catalog items in the
internal database — a crash anywhere leaves either the whole scene or nothing,
and the re-run finishes the scenes not yet committed.  Every commit joins a
transaction fenced by the job's claim (:meth:`JobContext.fenced`): a run whose
lease was lost commits nothing.  Each claim works in its own directory
(:mod:`rsarchive.jobs.workdir`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import shutil
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

from rsarchive.errors import UsageError
from rsarchive.jobs.pipeline import PipelineSpec, load_pipeline
from rsarchive.jobs.queue import Job, JobQueue
from rsarchive.jobs.workdir import run_directory
from rsarchive.jobs.worker import JobContext
from rsarchive.jsoninput import read_model
from rsarchive.settings import Settings
from rsarchive.threads import OneAhead, OneBehind, ThreadBudget, in_background

if TYPE_CHECKING:
    from rsarchive.level0.quality import QualityRecord
    from rsarchive.product.metadata import ProductMetadata
    from rsarchive.raw.metadata import RawSceneMetadata

log = logging.getLogger(__name__)

_CHUNK = 8 << 20


class ReceptionRecord(BaseModel):
    """What the station says about a pass (``--reception JSON``)."""

    model_config = ConfigDict(extra="forbid")

    station: str | None = None
    pass_id: str | None = None
    aos: dt.datetime | None = None
    los: dt.datetime | None = None
    route: Literal["station", "purchase", "exchange", "aid", "foreign-station"] = "station"
    plan_ref: str | None = None
    classification: Literal["unclassified", "confidential", "secret", "top-secret"] | None = None


def load_reception(value: str | Path | None) -> ReceptionRecord:
    """A reception record from a JSON file path or a JSON string (None: an empty record)."""
    if value is None:
        return ReceptionRecord()
    return read_model(value, ReceptionRecord, "reception record")


def file_sha256(path: Path, progress: Callable[[int], None] | None = None) -> tuple[str, int]:
    """sha256 and size of a file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
                if progress is not None:
                    progress(len(chunk))
    except FileNotFoundError:
        raise UsageError(f"downlink {path} does not exist") from None
    except IsADirectoryError:
        raise UsageError(f"downlink {path} is a directory, not a file") from None
    return digest.hexdigest(), size


def submit(settings: Settings, path: str | Path, reception: ReceptionRecord | None = None,
           pipeline: str = "ingest-level0", progress: Callable[[int], None] | None = None,
           origin: dict[str, Any] | None = None) -> tuple[Job, bool]:
    """Queue the ingest of a downlink; the same file (same sha256) is one job. True when created.

    ``origin``: where a trigger found the file (:mod:`rsarchive.watch`), kept in the job's input."""
    source = Path(path).resolve()
    spec = load_pipeline(pipeline)
    sha256, size = file_sha256(source, progress)
    if size == 0:
        raise UsageError(f"downlink {source} is empty")
    record = reception or ReceptionRecord()
    queue = JobQueue(settings.internal_database_dsn)
    return queue.enqueue("ingest", sha256, spec.name,
                         {"path": str(source), "sha256": sha256, "size": size,
                          "reception": json.loads(record.model_dump_json())}
                         | ({"origin": origin} if origin else {}),
                         max_attempts=spec.max_attempts)


class IngestRunner:
    """Runs the ingest pipeline of one job (the :class:`~rsarchive.jobs.Worker`'s runner)."""

    def __init__(self, settings: Settings, *, scheduler: Any = None) -> None:
        self.settings = settings
        self.scheduler = scheduler

    def __call__(self, context: JobContext) -> dict[str, Any]:
        return _Run(self.settings, context, self.scheduler).run()


class _Run:
    """State of one pipeline run."""

    def __init__(self, settings: Settings, context: JobContext, scheduler: Any) -> None:
        from rsarchive.storage import Archive

        self.settings = settings
        self.ctx = context
        self.job = context.job
        self.scheduler = scheduler
        self.spec: PipelineSpec = load_pipeline(self.job.pipeline)
        self.plan = self.spec.plan
        self.budget = ThreadBudget.from_settings(settings)
        self.reception = ReceptionRecord.model_validate(self.job.input.get("reception") or {})
        self.sha256: str = self.job.input["sha256"]
        self.path = Path(self.job.input["path"])
        self.archive = Archive.from_settings(settings)
        self.work = settings.archive_root / "work" / f"job-{self.job.id}-{self.job.attempts}"
        # Fail closed: no code default.  Neither the reception record nor the pipeline states
        # one → None: the items are catalogued internally and held until an officer classifies them.
        self.security: str | None = self.reception.classification or self.spec.options.classification
        self.pass_id = self.reception.pass_id or f"h{self.sha256[:8]}"
        created = self.job.created_at or dt.datetime.now(dt.timezone.utc)
        self.aos = self.reception.aos or created
        self.result: dict[str, Any] = {"sha256": self.sha256, "pipeline": self.spec.name, "scenes": [],
                                       "skipped": [], "items": {"level0": [], "raw": [], "product": []},
                                       "published": [], "withheld": [], "held": [], "stage_seconds": {}}
        self._clocks: dict[int, tuple[str, float]] = {}  # per thread: its stage and when it began
        self._lock = threading.Lock()

    def _stage(self, name: str) -> None:
        """Enter a stage (the job's record) and account the wall time of the one this thread left."""
        self._stop_clock()
        self.ctx.stage(name)
        self._clocks[threading.get_ident()] = (name, time.perf_counter())

    def _stop_clock(self) -> None:
        current = self._clocks.pop(threading.get_ident(), None)
        if current is not None:
            name, started = current
            with self._lock:
                spent = self.result["stage_seconds"]
                spent[name] = round(spent.get(name, 0.0) + time.perf_counter() - started, 3)

    def run(self) -> dict[str, Any]:
        # this claim's own directory; earlier attempts' leftovers are removed (recomputed deterministically)
        started = time.perf_counter()
        with run_directory(self.work.parent, self.job.id, self.job.attempts) as self.work:
            try:
                self._run()
            finally:
                self._stop_clock()
        self.result["run_seconds"] = round(time.perf_counter() - started, 3)  # this attempt's wall time
        return self.result

    # -- stages ------------------------------------------------------------------------------------
    def _run(self) -> None:
        from rsarchive.raw.metadata import read_raw_metadata
        from rsarchive.raw.process import RawProcessor

        if not self.path.is_file():
            raise UsageError(f"downlink {self.path} of job {self.job.id} no longer exists")
        plan = self.plan
        if not plan.decode:
            self._store_level0()
            return
        size = max(self.path.stat().st_size, 1)
        done = 0

        def decoded(n: int) -> None:
            nonlocal done
            done += n
            self.ctx.progress("decode", min(done, size), size)

        # Level-0 is stored (primary + verified copy) in a thread while it is decoded here: both read
        # the same file, and nothing derived from it is stored before level-0 is.  A decoding error
        # waits for level-0 to be kept (the law keeps level-0 even when it cannot be decoded); a
        # storage error wins, because level-0 is not kept until a retry stores it.
        with in_background(self._keep_level0, "store-level0") as keeping, ExitStack() as stack:
            try:
                self._stage("decode")
                proc = stack.enter_context(RawProcessor(
                    self.path, self.spec.cpf, self.work / "raw", profile=self.spec.profile, pass_id=self.pass_id,
                    config_dir=self.settings.site_dir, overwrite=True, scheduler=self.scheduler,
                    threads=self.budget))
                strip = proc.decode(progress=decoded)
            except BaseException:
                failure = keeping.exception()
                if failure is not None:
                    raise failure
                raise
            self._stop_clock()
            # Level-0 may still be being stored (it takes longer than decoding): the scenes are processed
            # meanwhile, and the wait is before the first derived file is stored (and before returning).
            # As for a decoding error, a level-0 storage error wins over a later one.
            try:
                quality = strip.quality
                self.result["level0_quality"] = {k: getattr(quality, k) for k in ("cadus_found", "sync_losses",
                                                                                 "frames_bad_fecf", "frames_lost")}
                if not plan.split:
                    keeping.result()
                    return
                self._stage("split")
                spans = proc.scenes()
                self.ctx.progress("split", 1, 1)
                datastrip = proc.datastrip_id
                footprints: list[dict[str, Any]] = []
                times: list[dt.datetime] = []
                # The raw level of scene k + 1 is made in a background thread while scene k goes through
                # the product here, and scene k - 1 is stored, catalogued and published in a third: they use
                # different cores most of the time (GDAL and NumPy release the GIL; storing waits on the
                # object store and the database), each scene's files are its own and each scene is one
                # storage transaction, so the results are the same as in sequence.  One scene ahead and one
                # behind at most (memory, disk); a scene is handed on only when the one before is published,
                # so scenes are committed in order and a failure surfaces at the next hand-over.  Leaving
                # the block waits for both threads.
                with OneAhead(proc.process_scene, spans if plan.raw else [], "raw-ahead") as raw_scenes, \
                        OneBehind("publish") as publisher:
                    self._stage("raw")
                    for index, scene in enumerate(raw_scenes):
                        self.ctx.progress("raw", index + 1, len(spans))
                        if scene.skipped or scene.path is None:
                            self.result["skipped"].append({"scene": scene.scene_id, "reason": scene.reason})
                        else:
                            meta = scene.metadata or read_raw_metadata(scene.path)
                            if meta.geometry is not None:
                                footprints.append(meta.geometry.footprint)
                            times += [_time(meta.start_utc), _time(meta.end_utc)]
                            product_dir, product_meta = self._product(scene.path, meta, index, len(spans))
                            self._stop_clock()
                            publisher.wait()
                            keeping.result()  # level-0 is kept before anything derived from it is stored
                            publisher.submit(self._store_scene, scene.path, meta, product_dir, product_meta,
                                             datastrip, index, len(spans))
                        self._stage("raw")
                    self._stop_clock()
                if times:  # the imagery's span: the real-time factor of the pass (rsarchive.metrics.worker)
                    self.result["acquisition_seconds"] = round((max(times) - min(times)).total_seconds(), 3)
                level0_key, level0_record = keeping.result()
                self._catalog_level0(datastrip, level0_key, level0_record, quality, footprints, times)
            except BaseException:
                failure = keeping.exception()
                if failure is not None:
                    raise failure from None
                raise

    def _keep_level0(self) -> tuple[str, Any]:
        """:meth:`_store_level0` in its own thread, on that thread's stage clock."""
        try:
            return self._store_level0()
        finally:
            self._stop_clock()

    def _store_level0(self) -> tuple[str, Any]:
        from rsarchive.storage import level0_key

        self._stage("store_level0")
        key = level0_key(self.spec.mission, self.aos, self.pass_id, self.path.name)
        record = self.archive.store(key, self.path, expected_sha256=self.sha256)
        self.ctx.progress("store_level0", 1, 1)
        self.result["level0"] = {"key": key, "sha256": record.sha256, "size": record.size, "copies": record.copies}
        log.info("level-0 of job %d kept as %s (+ copy)", self.job.id, key)
        return key, record

    def _product(self, raw_dir: Path, raw_meta: RawSceneMetadata, index: int, total: int
                 ) -> tuple[Path | None, ProductMetadata | None]:
        """The product of one scene (its directory and metadata; None when the pipeline makes none)."""
        if not self.plan.product:
            return None, None
        from rsarchive.product.process import ProductOptions, process_product

        self._stage("product")
        opts = self.spec.options
        made = process_product(raw_dir, self.work / "product", dem=opts.dem,
                               reference=opts.reference if opts.refine else None,
                               options=ProductOptions(threads=self.budget.cpu),
                               config_dir=self.settings.site_dir, overwrite=True, raw_metadata=raw_meta)
        self.ctx.progress("product", index + 1, total)
        return made.path, made.metadata

    def _store_scene(self, raw_dir: Path, raw_meta: RawSceneMetadata, product_dir: Path | None,
                     product_meta: ProductMetadata | None, datastrip: str, index: int, total: int) -> None:
        """Store + catalog + publish of one scene (one storage transaction), then remove its work files.

        Runs in the publishing thread, on that thread's stage clock.
        """
        try:
            if self.plan.store:
                self._commit_scene(raw_dir, raw_meta, product_dir, product_meta, datastrip, index, total)
        finally:
            self._stop_clock()
        for done in (raw_dir, product_dir):
            if done is not None:
                shutil.rmtree(done, ignore_errors=True)  # stored: the work copies are not needed any more
        # the scene's arrays are gone: give their memory back (glibc keeps freed heap otherwise, and the
        # RSS grew with the length of the pass); here, beside the next product, not between two products
        from rsarchive.memory import release_memory

        release_memory()

    def _commit_scene(self, raw_dir: Path, raw_meta: RawSceneMetadata, product_dir: Path | None,
                      product_meta: ProductMetadata | None, datastrip: str, index: int, total: int) -> None:
        from rsarchive.storage import product_key, raw_key

        plan = self.plan
        self._stage("store")
        scene_id = raw_meta.scene_id
        acquired = _time(raw_meta.start_utc)
        files: list[tuple[str, Path, str]] = [
            (raw_key(self.spec.mission, acquired, scene_id, f.name), f, "raw") for f in sorted(raw_dir.iterdir())
            if f.is_file()]
        if product_dir is not None and product_meta is not None:
            files += [(product_key(self.spec.mission, acquired, product_meta.product_id, f.name), f, "product")
                      for f in sorted(product_dir.iterdir()) if f.is_file()]
        txn = f"ingest-{self.sha256[:16]}-{index:03d}"
        publication = self.archive.publication(txn)
        items: list[dict[str, Any]] = []
        if publication.committed:
            log.info("scene %s was committed by an earlier attempt", scene_id)
        else:
            for n, (key, path, _) in enumerate(files):
                publication.put(key, path)
                self.ctx.progress("store", n + 1, len(files))

            def catalog(conn: Any, records: list[Any]) -> None:
                items.extend(self._scene_items(conn, records, files, raw_meta, product_meta, datastrip))

            self._stage("catalog")
            with self.ctx.fenced() as conn:
                publication.commit(on_commit=catalog if plan.catalog else None, conn=conn)
            self.ctx.progress("catalog", index + 1, total)
        self.result["scenes"].append(scene_id)
        if plan.publish:
            self._publish(items or self._existing_items(files, raw_meta, product_meta))

    def _scene_items(self, conn: Any, records: list[Any], files: list[tuple[str, Path, str]],
                     raw_meta: RawSceneMetadata, product_meta: ProductMetadata | None, datastrip: str
                     ) -> list[dict[str, Any]]:
        from rsarchive.catalog import ensure_collections, item_dict, load_items
        from rsarchive.jobs import items as mapping

        by_key = {r.key: r for r in records}
        reception = self._reception()
        built = []
        def parts(form: str) -> tuple[dict[str, Any], dict[str, str]]:
            mine = [(key, path) for key, path, f in files if f == form]
            return ({path.name: by_key[key] for key, path in mine},
                    {path.name: f"{self.archive.primary.url}/{key}" for key, path in mine})

        scenes = [mapping.raw_scene(raw_meta, *parts("raw"), reception, self.security, datastrip)]
        if product_meta is not None:
            scenes.append(mapping.product_scene(product_meta, *parts("product"), reception, self.security, datastrip))
        for form, scene in zip(("raw", "product"), scenes):
            built.append(item_dict(scene))
            self.result["items"][form].append(scene.item_id)
            if self.security is None:
                self.result["held"].append(scene.item_id)
        ensure_collections(conn, sorted({i["collection"] for i in built}))
        load_items(conn, built)
        return built

    def _existing_items(self, files: list[tuple[str, Path, str]], raw_meta: RawSceneMetadata,
                        product_meta: ProductMetadata | None) -> list[dict[str, Any]]:
        """Items a previous attempt committed (to publish them on a re-run)."""
        from rsarchive.catalog.loader import fetch_items
        from rsarchive.db import connect

        ids = [raw_meta.scene_id] + ([product_meta.product_id] if product_meta else [])
        with connect(self.settings.internal_database_dsn) as conn:
            return list(fetch_items(conn, ids, None))

    def _reception(self) -> Any:
        from rsarchive.catalog import Reception

        r = self.reception
        return Reception(route=r.route, station=r.station, pass_id=self.pass_id, plan_ref=r.plan_ref, aos=r.aos,
                         los=r.los)

    def _catalog_level0(self, datastrip: str, key: str, record: Any, quality: QualityRecord,
                        footprints: list[dict[str, Any]], times: list[dt.datetime]) -> None:
        from shapely.geometry import mapping, shape
        from shapely.ops import unary_union

        from rsarchive.catalog import ensure_collections, item_dict, load_items
        from rsarchive.jobs import items as item_mapping

        if not self.plan.catalog or not footprints:
            return
        self._stage("catalog")
        footprint = mapping(unary_union([shape(f) for f in footprints]).buffer(0))
        scene = item_mapping.level0_scene(
            item_id=datastrip, mission=self.spec.mission, href=f"{self.archive.primary.url}/{key}", record=record,
            reception=self._reception(), quality=quality, start=min(times), end=max(times),
            footprint=json.loads(json.dumps(footprint)), security=self.security, profile=self.spec.profile)
        item = item_dict(scene)
        with self.ctx.fenced() as conn:
            ensure_collections(conn, [item["collection"]])
            load_items(conn, [item])
        self.ctx.progress("catalog", 1, 1)
        self.result["items"]["level0"].append(datastrip)
        if self.security is None:
            self.result["held"].append(datastrip)
        if self.plan.publish:
            self._publish([item])

    def _publish(self, items: list[dict[str, Any]]) -> None:
        from rsarchive.catalog import publish_items
        from rsarchive.db import connect

        if not items:
            return
        self._stage("publish")
        if not self.spec.options.publish:
            return
        with self.ctx.fenced() as internal, connect(self.settings.public_database_dsn) as public:
            report = publish_items(internal, public, items, public_url=self.settings.public_url)
            public.commit()
        self.result["published"] += list(report.published)
        self.result["withheld"] += list(report.withheld)
        self.ctx.progress("publish", 1, 1)


def _time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def open_scheduler(address: str | None) -> Any:
    """A distributed Client for ``address`` (None/empty: Dask's local threaded scheduler)."""
    if not address:
        return None
    try:
        from distributed import Client

        return Client(address, timeout="10s", set_as_default=False)
    except (OSError, TimeoutError) as exc:
        from rsarchive.errors import ServiceError

        raise ServiceError(f"cannot reach the Dask scheduler at {address}: {exc}") from None


__all__ = ["IngestRunner", "ReceptionRecord", "file_sha256", "load_reception", "open_scheduler", "submit"]
