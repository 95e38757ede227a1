"""The bounded pool that does all image work: the server process never decodes an upload.

:class:`ImagePool` runs :func:`documents.check_and_reencode` (content checks, the code scan
for the Individual Number, reduction and re-encoding) in ``workers`` processes (2 by
default). Each worker has an address-space ceiling of ``MEMORY_CEILING`` bytes above its
size at start (``RLIMIT_AS``): an image past it fails in that worker with ``MemoryError``
and is refused, it does not grow the server. At most ``2 x workers`` images are in the pool
at once; further uploads wait up to ``QUEUE_WAIT`` seconds for a place, then are refused
as busy. So N simultaneous uploads cost at most ``workers x (start size + MEMORY_CEILING)``
of image memory, whatever N is.

Workers are forked from a fork server that has the image modules loaded, so starting a pool
costs a few milliseconds once the fork server runs; a worker is made on the first upload
and replaced after ``TASKS_PER_WORKER`` images, which gives any fragmented heap back.
Callers run it before any database transaction opens, so the SQLite write lock is never
held while an image is decoded.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import multiprocessing
import resource
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cardservice.profiles.schema import DocumentsSection
from cardservice.registration.documents import (
    CleanImage,
    DocumentRejected,
    check_and_reencode,
    display_name,
)

logger = logging.getLogger(__name__)

WORKERS = 2
MEMORY_CEILING = 400 * 1024 * 1024  # bytes of address space above a worker's start size
QUEUE_WAIT = 60.0  # seconds an upload waits for a place in the pool before it is refused
TASKS_PER_WORKER = 100
_M_MMAP_THRESHOLD = -3  # mallopt(3): a fixed threshold turns off glibc's growing one
_MMAP_THRESHOLD = 256 * 1024


@dataclass(frozen=True, slots=True)
class Refusal:
    """A :class:`DocumentRejected` as it crosses the process boundary."""

    code: str
    detail: dict[str, Any] = field(default_factory=dict)


class ImagePool:
    """A few worker processes for image work, with a memory ceiling each and a bounded queue.

    Use as ``async with ImagePool() as pool: image = await pool.clean(...)``.
    """

    def __init__(
        self,
        workers: int = WORKERS,
        *,
        memory_ceiling: int = MEMORY_CEILING,
        queue_wait: float = QUEUE_WAIT,
    ) -> None:
        self.workers = workers
        self.memory_ceiling = memory_ceiling
        self.queue_wait = queue_wait
        self._places = asyncio.Semaphore(2 * workers)
        self._executor: ProcessPoolExecutor | None = None

    async def __aenter__(self) -> ImagePool:
        # The server process holds an upload's bytes (a few MB) while its image is in the
        # pool: mapped on their own, they go back to the system once the request is over.
        _return_large_blocks()
        self._executor = self._new_executor()
        return self

    async def __aexit__(self, *_: object) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)

    def _new_executor(self) -> ProcessPoolExecutor:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["cardservice.registration.images"])
        return ProcessPoolExecutor(
            self.workers,
            mp_context=context,
            initializer=_start_worker,
            initargs=(self.memory_ceiling,),
            max_tasks_per_child=TASKS_PER_WORKER,
        )

    async def clean(
        self,
        data: bytes | Callable[[], Awaitable[bytes]],
        *,
        documents: DocumentsSection,
        filename: str,
        field: str = "document",
        where: str = "",
    ) -> CleanImage:
        """The checked, re-encoded image (``documents.check_and_reencode`` in a worker), or
        :class:`DocumentRejected`: its own codes, "document_busy" when no place in the pool
        freed within ``queue_wait`` seconds, "document_failed" when a worker died on it.

        ``data`` is the image's bytes, or a function reading them: then they are read only
        once the upload has a place in the pool, so that uploads waiting for one keep their
        bytes in the request's spooled file, not in the server's memory.

        ``where`` names the upload in the log line of a refusal (an application and slot);
        the log never holds the image, its name or a number read from it.
        """
        context = {"field": field, "filename": display_name(filename)}
        try:
            await asyncio.wait_for(self._places.acquire(), self.queue_wait)
        except TimeoutError:
            logger.warning("image pool busy for %ss; upload refused (%s)", self.queue_wait, where)
            raise DocumentRejected(code="document_busy", **context) from None
        executor = self._executor
        if executor is None:
            self._places.release()
            raise RuntimeError("the image pool is not started")
        try:
            payload = data if isinstance(data, bytes) else await data()
            future = executor.submit(_work, payload, documents, filename, field)
            del payload
            result = await asyncio.wrap_future(future)
        except BrokenProcessPool:
            logger.exception("an image worker died; the pool is restarted (%s)", where)
            await self._restart(executor)
            raise DocumentRejected(code="document_failed", **context) from None
        finally:
            self._places.release()
        if isinstance(result, Refusal):
            if result.code == "document_my_number":
                logger.warning(
                    "upload refused: the image carries an Individual Number; nothing of it "
                    "was kept (%s)",
                    where,
                )
            raise DocumentRejected(code=result.code, **result.detail)
        return result

    async def _restart(self, broken: ProcessPoolExecutor) -> None:
        """A new executor in place of ``broken``, unless another upload has already put one
        (both workers can die at once, with an image each)."""
        if self._executor is broken:
            self._executor = self._new_executor()
            await asyncio.to_thread(broken.shutdown, wait=False, cancel_futures=True)


# --- in the worker processes ------------------------------------------------------------


def _start_worker(memory_ceiling: int) -> None:
    """Cap the worker's address space at its start size plus ``memory_ceiling``, and have
    glibc map large blocks on their own so that freeing an image returns its memory."""
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = _address_space() + memory_ceiling
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    _return_large_blocks()


def _return_large_blocks() -> None:
    """glibc only: allocations from 256 KB up get their own mapping, given back on free (by
    default the threshold grows with the largest block freed, up to 32 MB, and such blocks
    stay in the heap once freed)."""
    libc_name = ctypes.util.find_library("c")
    if libc_name:
        libc = ctypes.CDLL(libc_name)
        if hasattr(libc, "mallopt"):
            libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)


def _address_space() -> int:
    """This process's virtual size in bytes (VmSize in /proc/self/status)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    return 0


def _work(
    data: bytes, documents: DocumentsSection, filename: str, field: str
) -> CleanImage | Refusal:
    try:
        return check_and_reencode(data, profile_documents=documents, filename=filename, field=field)
    except DocumentRejected as refused:
        return Refusal(refused.code, dict(refused.detail))
    except MemoryError:
        return Refusal("document_failed", {"field": field, "filename": display_name(filename)})
