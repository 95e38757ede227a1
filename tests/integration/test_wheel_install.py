"""Installed as the README says, it serves: the wheel built from this tree holds every file of
the package, and ``pip install`` of it into a fresh virtual environment, then
``cardservice demo`` in an empty directory outside the checkout, serves pages in both
languages, static files, the registration email (read in the mail catcher) and a barcode.

The wheel is built from a copy of the tree (a build inside the checkout would leave
``build/`` behind, whose stale files can slip into later wheels). The environment's
dependencies come from the package index pip is configured with, as an operator's would.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import venv
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import zxingcpp
from PIL import Image

from cardservice.web.i18n import gettext
from tests.unit.mail.support import free_port

CHECKOUT = Path(__file__).resolve().parents[2]
PACKAGES = ("cardservice", "passes")
NOT_SOURCE = shutil.ignore_patterns(
    ".git",
    ".venv",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".*_cache",
    ".hypothesis",
    ".data",
    "test-artifacts",
    "tests",
)
START_SECONDS = 90.0
DEMO_BARCODE = "A2000000014A"  # the demo card's user number with its Codabar start/stop


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the built wheel, the copy of the tree it was built from)."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "src"
    shutil.copytree(CHECKOUT, source, ignore=NOT_SOURCE)
    built = subprocess.run(  # pip of this interpreter, fixed arguments
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(root), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (found,) = root.glob("cardservice-*.whl")
    return found, source


def test_the_wheel_holds_every_file_of_the_package(wheel: tuple[Path, Path]) -> None:
    """Templates, catalogs, static files, profiles, migrations, the password blocklist, and
    whatever a later change puts beside the code: every file under the packages ships."""
    built, source = wheel
    with zipfile.ZipFile(built) as archive:
        shipped = set(archive.namelist())
    files = {
        path.relative_to(source).as_posix()
        for package in PACKAGES
        for path in (source / package).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert {"cardservice/templates/pages/error.html", "cardservice/web/static/site.css"} <= files
    assert sorted(files - shipped) == []


@dataclass(frozen=True, slots=True)
class Demo:
    base: str
    output: Path


@pytest.fixture
def demo(wheel: tuple[Path, Path], tmp_path: Path) -> Iterator[Demo]:
    """``cardservice demo`` installed from the wheel into a fresh venv, run in an empty
    directory with nothing of the checkout in reach."""
    built, _ = wheel
    root = tmp_path
    env_dir = root / "venv"
    # A bare environment, filled by this interpreter's pip (``--python``): no ensurepip, and
    # no byte-compiling every dependency up front, which would double the time on 2 cores.
    venv.EnvBuilder(with_pip=False, symlinks=True).create(env_dir)
    python, command = env_dir / "bin" / "python", env_dir / "bin" / "cardservice"
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("CARDSERVICE_", "PYTHON", "VIRTUAL_ENV"))
    }
    installed = subprocess.run(  # pip of this interpreter, fixed arguments
        [
            *(sys.executable, "-m", "pip", "--python", str(python)),
            *("install", "-q", "--no-compile", str(built)),
        ],
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    where = subprocess.run(
        [str(python), "-c", "import cardservice; print(cardservice.__file__)"],
        env=environment,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert Path(where.stdout.strip()).is_relative_to(env_dir), where.stdout

    workdir = root / "library"
    workdir.mkdir()
    port = free_port()
    output = root / "demo.log"
    with output.open("wb") as log:
        server = subprocess.Popen(  # the installed console script, fixed arguments
            [str(command), "demo"],
            cwd=workdir,
            env={
                **environment,
                "CARDSERVICE_PORT": str(port),
                "CARDSERVICE_MAIL_CATCHER_PORT": str(free_port()),
            },
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, server, output)
        yield Demo(base, output)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=10)
    # The data directory is where the README says: .data in the directory it was started in.
    assert (workdir / ".data" / "cardservice.db").is_file()


def _wait_until_up(base: str, server: subprocess.Popen[bytes], output: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        assert server.poll() is None, output.read_text()
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    pytest.fail(f"cardservice demo did not answer within {START_SECONDS} s:\n{output.read_text()}")


def test_installed_it_serves_pages_mail_and_barcodes(demo: Demo) -> None:
    """One test, so that a parallel run installs the wheel once."""
    check_pages_in_both_languages_and_static_files(demo)
    check_the_registration_email_arrives_in_the_mail_catcher(demo)
    check_a_barcode_image_that_scans(demo)


def check_pages_in_both_languages_and_static_files(demo: Demo) -> None:
    title = "Apply for a library card"
    with httpx.Client(base_url=demo.base) as browser:
        page = browser.get("/apply")
        assert page.status_code == 200, page.text
        assert page.headers["content-type"].startswith("text/html")
        assert '<html lang="ja">' in page.text
        assert gettext("ja", title) in page.text  # the Japanese catalog, from the wheel
        english = browser.get("/apply", params={"lang": "en"})
        assert english.status_code == 200, english.text
        assert title in english.text
        for path in re.findall(r'href="(/static/[^"]+)"', page.text):
            assert browser.get(path).status_code == 200, path
        # pages/error.html, the page the installed service could not find before.
        refused = browser.post("/apply", data={"email": "hanako@example.org"})
        assert refused.status_code == 403, refused.text
        assert refused.headers["content-type"].startswith("text/html")
        assert "The form has expired" in refused.text  # in English: ?lang=en set the cookie


def check_the_registration_email_arrives_in_the_mail_catcher(demo: Demo) -> None:
    found = re.search(r"as reviewer / (\S+)", demo.output.read_text())
    assert found is not None, demo.output.read_text()
    with httpx.Client(base_url=demo.base) as applicant:
        form = applicant.get("/apply")
        asked = applicant.post(
            "/apply", data={"email": "hanako@example.org", "_csrf_token": _csrf(form.text)}
        )
        assert asked.status_code == 303, asked.text

    with httpx.Client(base_url=demo.base) as reviewer:
        login = reviewer.get("/staff/login")
        signed_in = reviewer.post(
            "/staff/login",
            data={
                "username": "reviewer",
                "password": found.group(1),
                "next": "",
                "_csrf_token": _csrf(login.text),
            },
        )
        assert signed_in.status_code == 303, signed_in.text
        detail = _caught_mail(reviewer, "hanako@example.org")
    link = re.search(r'href="https?://[^/"]+(/apply/verify/[A-Za-z0-9_-]+)"', detail)
    assert link is not None, detail
    with httpx.Client(base_url=demo.base) as applicant:
        opened = applicant.get(link.group(1))
        assert opened.status_code == 200, opened.text


def _caught_mail(client: httpx.Client, recipient: str) -> str:
    """The detail page of the first caught email to ``recipient``, once it has arrived."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        listing = client.get("/staff/mail")
        assert listing.status_code == 200, listing.text
        entries = listing.text.split("<li>")[1:]
        found = next((e for e in entries if recipient in e), None)
        if found is not None:
            path = re.search(r'href="(/staff/mail/\d+)"', found)
            assert path is not None, found
            detail = client.get(path.group(1))
            assert detail.status_code == 200, detail.text
            return detail.text
        time.sleep(0.3)
    pytest.fail(f"no email to {recipient} in the mail catcher")


def check_a_barcode_image_that_scans(demo: Demo) -> None:
    image = httpx.get(
        f"{demo.base}/api/v1/barcodes/codabar/png", params={"data": DEMO_BARCODE}, timeout=10
    )
    assert image.status_code == 200, image.text
    assert image.headers["content-type"] == "image/png"
    decoded = zxingcpp.read_barcodes(
        Image.open(io.BytesIO(image.content)), formats=zxingcpp.BarcodeFormat.Codabar
    )
    # zxing-cpp gives Codabar with its start and stop characters, or without in older releases.
    assert [code.text for code in decoded] in ([DEMO_BARCODE], [DEMO_BARCODE[1:-1]])


def _csrf(html: str) -> str:
    found = re.search(r'name="_csrf_token" value="([^"]+)"', html)
    assert found is not None, html
    return found.group(1)
