"""Argon2id hashing: parameters at or above OWASP's, round trip, rehash, off the loop."""

from __future__ import annotations

import asyncio
import time

from argon2 import PasswordHasher, Type

from cardservice.security.passwords import hash_password, verify_password

# OWASP Password Storage Cheat Sheet: Argon2id, m=19 MiB, t=2, p=1 at the least.
OWASP_MEMORY_KIB = 19 * 1024
OWASP_TIME = 2


def _parameters(encoded: str) -> dict[str, int]:
    _, variant, version, params, _salt, _digest = encoded.split("$")
    assert variant == "argon2id"
    assert version == "v=19"
    return {k: int(v) for k, v in (p.split("=") for p in params.split(","))}


async def test_hash_is_argon2id_at_or_above_owasp() -> None:
    encoded = await hash_password("correct horse battery staple")
    params = _parameters(encoded)
    assert params["m"] >= OWASP_MEMORY_KIB
    assert params["t"] >= OWASP_TIME
    assert params["p"] >= 1


async def test_round_trip_and_wrong_password() -> None:
    encoded = await hash_password("correct horse battery staple")
    assert (await verify_password(encoded, "correct horse battery staple")).ok
    assert not (await verify_password(encoded, "correct horse battery stapler")).ok
    assert not (await verify_password("not a hash", "anything")).ok


async def test_salted_so_equal_passwords_hash_differently() -> None:
    first, second = await asyncio.gather(hash_password("same"), hash_password("same"))
    assert first != second


async def test_full_width_input_verifies_against_ascii_hash() -> None:
    encoded = await hash_password("abc-1234")
    assert (await verify_password(encoded, "ａｂｃ－１２３４")).ok


async def test_weaker_hash_is_upgraded_on_success_only() -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1, type=Type.ID)
    old = weak.hash("correct horse battery staple")
    verified = await verify_password(old, "correct horse battery staple")
    assert verified.ok
    assert verified.new_hash is not None
    assert _parameters(verified.new_hash)["m"] >= OWASP_MEMORY_KIB
    assert (await verify_password(verified.new_hash, "correct horse battery staple")).ok
    assert (await verify_password(old, "wrong")).new_hash is None
    current = await hash_password("correct horse battery staple")
    assert (await verify_password(current, "correct horse battery staple")).new_hash is None


async def test_hashing_does_not_block_the_event_loop() -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    task = asyncio.create_task(ticker())
    started = time.perf_counter()
    await hash_password("correct horse battery staple")
    elapsed = time.perf_counter() - started
    task.cancel()
    # A hash blocking the loop would let the ticker run once at most.
    assert ticks >= 3, (ticks, elapsed)
