"""The control API over HTTP, for a simulator in another process (``pxfast sim``).

``POST /_sim/<token>/<operation>`` with a JSON object of keyword arguments
calls the ``GatewaySimulator`` method of that name and answers ``{"ok": true,
"result": ...}``, or 400 with ``{"ok": false, "error": ...}``.  Only the
operations listed here are reachable.  ``restart`` answers first and restarts
right after, since a restart drops the very connection that asked for it.

The API shares the Gateway's port and can re-key users, log in as them and
read any account, so it is closed to Gateway credentials: every request must
carry the simulator's control token, a random secret made at start (or set in
``SimConfig.control_token``) that only the process which started the
simulator knows.  It travels in the path, so ``control_url`` stays a plain
base URL that every consumer appends an operation to.  A missing or wrong
token is compared in constant time and answered exactly like a path the
simulator does not serve (404), so the API's presence is not revealed.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec

from pxfast.sim.http import Request, Response
from pxfast.sim.jsonlimit import REST_MAX_DEPTH, depth_error

if TYPE_CHECKING:
    from pxfast.sim.simulator import GatewaySimulator

__all__ = ["Control", "check_token"]

log = logging.getLogger(__name__)

_encode = msgspec.json.Encoder(decimal_format="number").encode
_decode = msgspec.json.Decoder(dict[str, Any]).decode


_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,}")


def check_token(token: str | None) -> None:
    """Refuse a given token that is short or would need escaping in a URL path."""
    if token is not None and not _TOKEN.fullmatch(token):
        raise ValueError("a control token is 16 or more letters, digits, '-' and '_'")


class Control:
    def __init__(self, gw: GatewaySimulator, token: str | None = None) -> None:
        check_token(token)
        self._gw = gw
        self.token = token or secrets.token_urlsafe(24)
        self._token_bytes = self.token.encode()
        self._restarts: set[asyncio.Task[None]] = set()
        faults = gw.faults
        self._operations: dict[str, Callable[..., Any]] = {
            "add_user": gw.add_user,
            "account_ids": gw.account_ids,
            "account_state": gw.account_state,
            "set_balance": gw.set_balance,
            "set_bracket_mode": gw.set_bracket_mode,
            "orders": gw.orders,
            "positions": gw.positions,
            "trades": gw.trades,
            "contract_id": gw.contract_id,
            "quote": gw.quote,
            "set_price": gw.set_price,
            "step": gw.step,
            "pause": gw.pause,
            "resume": gw.resume,
            "set_rate": gw.set_rate,
            "advance": gw.advance,
            "publish_depth_snapshot": gw.publish_depth_snapshot,
            "fill": gw.fill,
            "hub_connections": gw.hub_connections,
            "close_hub_connections": gw.close_hub_connections,
            "freeze_hub_connections": gw.freeze_hub_connections,
            "thaw_hub_connections": gw.thaw_hub_connections,
            "expire_tokens": gw.expire_tokens,
            "fail_requests": faults.fail_requests,
            "fail_after_accept": faults.fail_after_accept,
            "delay_responses": faults.delay_responses,
            "drop_hub_frames": faults.drop_hub_frames,
            "delay_hub_frames": faults.delay_hub_frames,
            "dropped_records": faults.dropped_records,
            "send_hub_record": gw.send_hub_record,
            "clear_faults": faults.clear,
            "restart": self._restart,
        }

    def __repr__(self) -> str:
        return "<Control>"  # never the token

    def handle(self, request: Request, path: str) -> Response:
        """Serve ``path``, the request path after ``/_sim/``: ``<token>/<operation>``."""
        token, _, operation = path.partition("/")
        if not hmac.compare_digest(token.encode("utf-8", "surrogatepass"), self._token_bytes):
            return Response(404, b"", None)  # what any path the simulator does not serve gets
        operation = operation.rstrip("/").lower()
        function = self._operations.get(operation)
        if function is None:
            return self._answer(404, {"ok": False, "error": f"no operation {operation!r}"})
        if request.method != "POST":
            return Response(405, b"", None, [("Allow", "POST")])
        too_deep = depth_error(request.body, REST_MAX_DEPTH)
        if too_deep is not None:
            return self._answer(400, {"ok": False, "error": too_deep})
        try:
            kwargs = _decode(request.body) if request.body.strip() else {}
            result = function(**kwargs)
        except (TypeError, ValueError, KeyError, AttributeError, msgspec.DecodeError) as exc:
            return self._answer(400, {"ok": False, "error": f"{type(exc).__name__}: {exc}"})
        except Exception as exc:
            # Answered here, not by the HTTP server, whose log line would print the
            # request path and so the token.
            log.exception("control operation %r failed", operation)
            return self._answer(500, {"ok": False, "error": f"{type(exc).__name__}: {exc}"})
        return self._answer(200, {"ok": True, "result": result})

    @staticmethod
    def _answer(status: int, body: dict[str, Any]) -> Response:
        return Response(status, _encode(body))

    def _restart(self, downtime: float = 0.0) -> None:
        task = asyncio.get_running_loop().create_task(self._restart_later(downtime))
        self._restarts.add(task)
        task.add_done_callback(self._restarts.discard)

    async def _restart_later(self, downtime: float) -> None:
        await asyncio.sleep(0.05)  # let the answer leave first
        await self._gw.restart(downtime)
