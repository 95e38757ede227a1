"""The ``cardservice`` command: serve, migrate, patrons and cards, API keys, signing keys.

One module per command group: ``server`` (serve, demo, migrate, jobs), ``staff``,
``patron``, ``card``, ``apikey``, ``keys``, ``sip2``, ``export``; ``common`` holds what they
share. The console script is ``cardservice.cli:main``.
"""

from __future__ import annotations

import click

from cardservice.cli.apikey import apikey
from cardservice.cli.card import card
from cardservice.cli.export import export
from cardservice.cli.keys import keys
from cardservice.cli.offline import offline
from cardservice.cli.passes import passes
from cardservice.cli.patron import patron
from cardservice.cli.server import demo, jobs, migrate, serve
from cardservice.cli.sip2 import sip2
from cardservice.cli.staff import staff


@click.group()
def main() -> None:
    """Digital library cards: registration, signed cards, barcodes and verification."""


for _command in (migrate, serve, demo, jobs, patron, card, apikey, keys, staff, sip2):
    main.add_command(_command)
main.add_command(offline)
main.add_command(passes)
main.add_command(export)
