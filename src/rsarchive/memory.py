"""Heap hygiene for long-running workers (glibc ``malloc``).

A pass is processed scene after scene, each allocating and freeing a few hundred
MB of arrays from several threads; glibc keeps freed memory in the process (the
dynamic mmap threshold, one arena per thread), so left alone the resident size
grows with the length of the pass.

:func:`tune_malloc` fixes the mmap threshold at :data:`MMAP_THRESHOLD` (large
arrays are always mapped, and unmapped when freed), sets the trim threshold and
bounds the number of arenas; it changes the whole process, so it is called once
where a process starts (:func:`rsarchive.runtime.configure_process`).
:func:`release_memory` returns the free pages of every arena to the system
(``malloc_trim``) and may be called from any thread — the ingest calls it after
each scene.  Elsewhere than glibc both do nothing.
(why: docs/DECISIONS.md, Memory over a long ingest pass)
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging

log = logging.getLogger(__name__)

__all__ = ["release_memory", "tune_malloc"]

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8

MMAP_THRESHOLD = 32 << 20
"""Blocks of this size (32 MiB) and above are mapped, never taken from an arena; smaller ones
(the product's row-strip temporaries) are reused from the arenas.  Not lower
(why: docs/DECISIONS.md, Memory over a long ingest pass)."""
TRIM_THRESHOLD = 32 << 20
"""Free memory at the top of the main heap above this (32 MiB) is returned at once."""
ARENA_MAX = 4
"""At most this many malloc arenas (glibc's default is 8 per core)."""

_libc: ctypes.CDLL | None | bool = None
_tuned = False


def _glibc() -> ctypes.CDLL | None:
    global _libc
    if _libc is None:
        try:
            lib = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            lib.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
            lib.malloc_trim.argtypes = [ctypes.c_size_t]
            _libc = lib
        except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to tune
            _libc = False
    return _libc or None


def tune_malloc() -> bool:
    """Set glibc's mmap threshold, trim threshold and arena limit (once per process); True when done."""
    global _tuned
    lib = _glibc()
    if lib is None:
        return False
    if not _tuned:
        ok = all(lib.mallopt(param, value) == 1 for param, value in (
            (_M_MMAP_THRESHOLD, MMAP_THRESHOLD), (_M_TRIM_THRESHOLD, TRIM_THRESHOLD), (_M_ARENA_MAX, ARENA_MAX)))
        if not ok:
            log.debug("mallopt refused a setting; glibc defaults kept in part")
        _tuned = True
    return True


def release_memory() -> None:
    """Collect Python garbage and give the free pages of every malloc arena back to the system."""
    gc.collect()
    lib = _glibc()
    if lib is not None:
        lib.malloc_trim(0)
