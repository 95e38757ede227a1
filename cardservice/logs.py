"""Secrets stay out of the logs: link tokens in paths and query strings are redacted.

Every email link carries a one-time token in its path (``/apply/verify/<token>``, the
inquiry answer, the password reset, the email change), and uvicorn's access log prints
each request's path, in production too. :class:`RedactLinkTokens` is a logging filter that
rewrites such a path to ``/apply/verify/[redacted]`` before anything formats the record.

Which paths carry tokens is read from the app's own routes (:func:`register_token_routes`):
every path parameter whose name ends in ``token`` is a secret, so a new link route is
covered the day it is added. Query values named in :data:`SECRET_QUERY_KEYS` (a token, or a
barcode's content: a user number or a card token) are redacted too.

The filter is installed on uvicorn's loggers and on every handler of the root, uvicorn and
litestar loggers (:func:`install`), so that a path quoted in an error message is redacted as
well; ``cardservice serve`` also names it in uvicorn's logging configuration
(:func:`uvicorn_log_config`), for the worker processes uvicorn starts.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Iterable
from typing import Any, Final

REDACTED: Final = "[redacted]"
SECRET_QUERY_KEYS: Final = ("token", "data")
# Loggers whose records (or whose handlers' records) may quote a request path.
LOGGERS: Final = ("", "uvicorn", "uvicorn.access", "uvicorn.error", "litestar")
_PARAMETER = re.compile(r"\{(\w+)(?::\w+)?\}")
_QUERY = re.compile(r"(?P<key>[?&;](?:" + "|".join(SECRET_QUERY_KEYS) + r")=)[^&#;\s\"']*")
# Token routes are added as apps are made; the filter reads this at each record.
_token_paths: dict[str, re.Pattern[str]] = {}


def register_token_routes(paths: Iterable[str]) -> None:
    """Note the route templates (``/apply/verify/{token:str}``) whose parameters named
    ``…token`` must not reach a log; other templates are ignored."""
    for path in paths:
        if path not in _token_paths and _secret_parameter(path):
            _token_paths[path] = re.compile(_path_regex(path))


def _secret_parameter(path: str) -> bool:
    return any(name.endswith("token") for name in _PARAMETER.findall(path))


def _path_regex(template: str) -> str:
    """A template as a regex in which each secret parameter is a group, the others not."""
    parts: list[str] = []
    position = 0
    for match in _PARAMETER.finditer(template):
        parts.append(re.escape(template[position : match.start()]))
        secret = match.group(1).endswith("token")
        parts.append("([^/?#\\s\"']+)" if secret else "[^/?#\\s]+")
        position = match.end()
    parts.append(re.escape(template[position:]))
    return "".join(parts) + "(?=[/?#\\s\"']|$)"


def redact(text: str) -> str:
    """``text`` with every link token and secret query value replaced by ``[redacted]``."""
    for pattern in list(_token_paths.values()):
        text = pattern.sub(_redact_groups, text)
    return _QUERY.sub(lambda match: match.group("key") + REDACTED, text)


def _redact_groups(match: re.Match[str]) -> str:
    whole, start = match.group(0), match.start()
    pieces: list[str] = []
    position = 0
    for group in range(1, (match.re.groups or 0) + 1):
        begin, end = match.span(group)
        pieces += [whole[position : begin - start], REDACTED]
        position = end - start
    return "".join([*pieces, whole[position:]])


class RedactLinkTokens(logging.Filter):
    """Rewrites a record's message and string arguments with :func:`redact`; drops none."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {
                k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()
            }
        if record.exc_info and not record.exc_text:
            # Formatters print a set ``exc_text``; an exception's message may quote a path.
            record.exc_text = redact(_FORMATTER.formatException(record.exc_info))
        return True


_FILTER: Final = RedactLinkTokens()
_FORMATTER: Final = logging.Formatter()


def install(route_paths: Iterable[str] = ()) -> None:
    """Register ``route_paths`` (see :func:`register_token_routes`) and put the filter on
    the :data:`LOGGERS` and all their handlers. Safe to call again: nothing is added twice."""
    register_token_routes(route_paths)
    for name in LOGGERS:
        logger = logging.getLogger(name)
        _add(logger)
        for handler in logger.handlers:
            _add(handler)


def _add(target: logging.Filterer) -> None:
    if not any(isinstance(existing, RedactLinkTokens) for existing in target.filters):
        target.addFilter(_FILTER)


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's default logging configuration with :class:`RedactLinkTokens` on its access
    and error handlers (``uvicorn.run(log_config=...)``); every worker process applies it."""
    from uvicorn.config import LOGGING_CONFIG  # noqa: PLC0415  # only the server needs uvicorn

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_link_tokens"] = {"()": RedactLinkTokens}
    for handler in config["handlers"].values():
        handler.setdefault("filters", []).append("redact_link_tokens")
    return config
