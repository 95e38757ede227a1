"""The image pool: the work happens in worker processes with a memory ceiling, at most a few
images at once, and a refusal or a dead worker comes back as a clear refusal."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import signal

import pytest
from PIL import Image

from cardservice.profiles import Profile
from cardservice.registration.documents import DocumentRejected, check_and_reencode
from cardservice.registration.images import ImagePool
from tests.id_images import individual_number, phone_photo


def _png(size: tuple[int, int], mode: str = "L") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, 90).save(buffer, "PNG")
    return buffer.getvalue()


async def test_the_pool_gives_what_the_check_gives(yokohama: Profile) -> None:
    photo = phone_photo()
    direct = check_and_reencode(photo, profile_documents=yokohama.documents, filename="a.jpg")
    async with ImagePool(1) as pool:
        pooled = await pool.clean(photo, documents=yokohama.documents, filename="a.jpg")
    assert (pooled.width, pooled.height, pooled.format) == (direct.width, direct.height, "jpeg")
    assert pooled.data == direct.data


async def test_a_refusal_crosses_the_process_boundary(yokohama: Profile) -> None:
    async with ImagePool(1) as pool:
        with pytest.raises(DocumentRejected) as caught:
            await pool.clean(b"%PDF-1.4", documents=yokohama.documents, filename="c:\\x\\a.png")
    assert caught.value.code == "document_bad_type"
    assert caught.value.detail["filename"] == "a.png"
    assert caught.value.detail["field"] == "document"


async def test_an_image_past_the_memory_ceiling_is_refused_and_the_worker_goes_on(
    yokohama: Profile,
) -> None:
    big = _png((7000, 5000))  # 35 MB decoded: within the 64 MB budget, past a 16 MB ceiling
    async with ImagePool(1, memory_ceiling=16 * 1024 * 1024) as pool:
        with pytest.raises(DocumentRejected) as caught:
            await pool.clean(big, documents=yokohama.documents, filename="big.png")
        # MemoryError while decoding says "too large once decoded", later "could not process".
        assert caught.value.code in {"document_too_large_decoded", "document_failed"}
        small = await pool.clean(_png((40, 30)), documents=yokohama.documents, filename="s.png")
    assert small.width == 40


async def test_a_full_pool_refuses_as_busy(yokohama: Profile) -> None:
    photo = phone_photo()
    async with ImagePool(1, queue_wait=0.05) as pool:  # two places
        results = await asyncio.gather(
            *[pool.clean(photo, documents=yokohama.documents, filename="p.jpg") for _ in range(4)],
            return_exceptions=True,
        )
    refused = [r for r in results if isinstance(r, DocumentRejected)]
    assert [r.code for r in refused] == ["document_busy"] * 2
    assert sum(1 for r in results if not isinstance(r, BaseException)) == 2


async def test_a_worker_killed_mid_image_is_a_refusal_and_the_pool_restarts(
    yokohama: Profile,
) -> None:
    photo = phone_photo()
    async with ImagePool(1) as pool:
        await pool.clean(_png((10, 10)), documents=yokohama.documents, filename="warm.png")
        running = asyncio.create_task(
            pool.clean(photo, documents=yokohama.documents, filename="p.jpg")
        )
        await asyncio.sleep(0.05)
        executor = pool._executor  # the test kills a real worker process
        assert executor is not None
        for pid in list(executor._processes):
            os.kill(pid, signal.SIGKILL)
        with pytest.raises(DocumentRejected) as caught:
            await running
        assert caught.value.code == "document_failed"
        again = await pool.clean(photo, documents=yokohama.documents, filename="p.jpg")
    assert again.width == 2000


async def test_the_refusal_of_a_number_is_logged_without_it(
    yokohama: Profile, caplog: pytest.LogCaptureFixture
) -> None:
    number = individual_number()
    caplog.set_level(logging.INFO)
    async with ImagePool(1) as pool:
        with pytest.raises(DocumentRejected) as caught:
            await pool.clean(
                phone_photo(number, angle=45),
                documents=yokohama.documents,
                filename="back.jpg",
                where="application abc, extra front",
            )
    assert caught.value.code == "document_my_number"
    assert number not in repr(caught.value.detail)
    lines = [r.getMessage() for r in caplog.records if "Individual Number" in r.getMessage()]
    assert lines == [
        "upload refused: the image carries an Individual Number; nothing of it was kept "
        "(application abc, extra front)"
    ]
    assert number not in caplog.text


async def test_both_workers_killed_at_once_restart_the_pool_once(yokohama: Profile) -> None:
    photo = phone_photo()
    async with ImagePool(2) as pool:
        await pool.clean(_png((10, 10)), documents=yokohama.documents, filename="w.png")
        running = [
            asyncio.create_task(pool.clean(photo, documents=yokohama.documents, filename="p.jpg"))
            for _ in range(2)
        ]
        await asyncio.sleep(0.05)
        executor = pool._executor
        assert executor is not None
        for pid in list(executor._processes):
            os.kill(pid, signal.SIGKILL)
        results = await asyncio.gather(*running, return_exceptions=True)
        assert all(isinstance(r, DocumentRejected) for r in results), results
        assert pool._executor is not executor
        replacement = pool._executor
        again = await asyncio.gather(
            *[pool.clean(photo, documents=yokohama.documents, filename="p.jpg") for _ in range(2)]
        )
        assert pool._executor is replacement
    assert [image.width for image in again] == [2000, 2000]
