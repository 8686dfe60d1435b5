"""A nesting bound checked before any JSON the simulator receives is decoded.

msgspec (like ``json``) decodes arrays and objects recursively, so a body of
a hundred thousand ``[`` reaches the interpreter's recursion limit: a
``RecursionError`` escapes as an HTTP 500 or tears down a hub socket, and a
raised recursion limit would overflow the C stack instead.  ASP.NET's
System.Text.Json refuses such input with a depth error before it gets deep
(MVC model binding at 32 levels, the SignalR JSON protocol at 64), so the
simulator checks the same bound first.

Real requests hold a handful of brackets, so the usual cost is two
``bytes.count`` calls.  Past that, one regular expression built for the limit
recognises text whose brackets (outside string literals) nest at most that
deep; its repeats are possessive and the grammar is unambiguous, so it never
backtracks and runs in linear time in C, whatever the input's shape (about
half a second for the worst 16 MiB body).  Text it refuses is too deep or
malformed, which the decoder would refuse too.
"""

from __future__ import annotations

import re
from functools import cache

__all__ = ["HUB_MAX_DEPTH", "REST_MAX_DEPTH", "depth_error"]

#: ASP.NET Core MVC's ``JsonOptions`` (``MvcOptions.MaxModelBindingRecursionDepth``).
REST_MAX_DEPTH = 32
#: System.Text.Json's default, which the SignalR JSON hub protocol uses.
HUB_MAX_DEPTH = 64

_STRING = rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"'
_FLAT = rb'[^\[\]{}"]++|' + _STRING


@cache
def _nesting_at_most(limit: int) -> re.Pattern[bytes]:
    group = rb"[\[{](?:" + _FLAT + rb")*+[\]}]"
    for _ in range(limit - 1):
        group = rb"[\[{](?:" + _FLAT + rb"|" + group + rb")*+[\]}]"
    return re.compile(rb"(?:" + _FLAT + rb"|" + group + rb")*+", re.DOTALL)


def depth_error(raw: bytes, limit: int) -> str | None:
    """System.Text.Json's message if ``raw`` nests deeper than ``limit``, else None."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return None
    if _nesting_at_most(limit).fullmatch(raw) is not None:
        return None
    return f"The maximum configured depth of {limit} has been exceeded."
