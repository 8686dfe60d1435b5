"""A raw Gateway client for the simulator tests, on aiohttp: REST calls and SignalR hubs.

Deliberately independent of pxfast's own client: these tests check the
simulator's wire behaviour byte for byte, the way a third-party client sees it.
Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
from collections.abc import Callable
from typing import Any

import aiohttp

RS = "\x1e"
WAIT = 5.0

Record = dict[str, Any]


def jwt_payload(token: str) -> dict[str, Any]:
    body = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return decoded


class Gateway:
    """REST for one user: ``post`` returns (status, json or None)."""

    def __init__(self, session: aiohttp.ClientSession, api_url: str) -> None:
        self.session = session
        self.api_url = api_url
        self.token: str | None = None

    async def login(self, user: str, key: str = "sim-key-000000") -> str:
        status, body = await self.post("Auth/loginKey", {"userName": user, "apiKey": key},
                                       token=None)
        assert status == 200 and body["success"], body
        self.token = body["token"]
        return str(body["token"])

    def headers(self, token: str | None) -> dict[str, str]:
        return {} if token is None else {"Authorization": f"Bearer {token}"}

    async def post(self, endpoint: str, body: Any = None, *, token: str | bool | None = True
                   ) -> tuple[int, Any]:
        use = self.token if token is True else (None if token is False else token)
        assert not isinstance(use, bool)
        async with self.session.post(f"{self.api_url}/{endpoint}", json=body,
                                     headers=self.headers(use)) as response:
            text = await response.text()
            return response.status, (json.loads(text) if text else None)

    async def call(self, endpoint: str, body: Any = None) -> Any:
        """A call that must answer 200; the JSON body."""
        status, data = await self.post(endpoint, body)
        assert status == 200, (endpoint, status, data)
        return data

    async def account_id(self) -> int:
        data = await self.call("Account/search", {"onlyActiveAccounts": True})
        return int(data["accounts"][0]["id"])

    async def place(self, account_id: int, contract_id: str, **fields: Any) -> Any:
        body = {"accountId": account_id, "contractId": contract_id, "side": 0, "size": 1,
                "limitPrice": None, "stopPrice": None, "trailPrice": None, **fields}
        return await self.call("Order/place", body)

    async def orders(self, account_id: int, statuses: list[int] | None = None) -> list[Any]:
        criteria: dict[str, Any] = {"accountId": account_id}
        if statuses is not None:
            criteria["statuses"] = statuses
        data = await self.call("Order/v2/query", {"filter": criteria, "pageSize": 500})
        return list(data["orders"])


class Hub:
    """One SignalR JSON connection; records arrive in ``pending`` until consumed."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.pending: list[Record] = []
        self.frames = 0
        self.frame_sizes: list[int] = []
        self.closed = asyncio.Event()
        self._arrived = asyncio.Event()
        self._ids = itertools.count(1)
        self._reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def connect(cls, session: aiohttp.ClientSession, hub_url: str, token: str, *,
                      negotiate: bool = True, token_in_query: bool = True,
                      connection_id: str | None = None, handshake: bool = True) -> Hub:
        query = f"access_token={token}" if token_in_query else ""
        if negotiate:
            async with session.post(f"{hub_url}/negotiate?{query}",
                                    headers={"Authorization": f"Bearer {token}"}) as r:
                assert r.status == 200, r.status
                connection_id = (await r.json())["connectionId"]
        if connection_id is not None:
            query = f"{query}&id={connection_id}" if query else f"id={connection_id}"
        headers = {} if token_in_query else {"Authorization": f"Bearer {token}"}
        ws = await session.ws_connect(f"{hub_url}?{query}", headers=headers, autoping=True)
        hub = cls(ws)
        if handshake:
            await hub.send_raw('{"protocol":"json","version":1}' + RS)
            first = await hub.expect(lambda r: True)
            assert first == {}, first
        return hub

    async def _read(self) -> None:
        try:
            async for message in self.ws:
                if message.type != aiohttp.WSMsgType.TEXT:
                    continue
                self.frames += 1
                self.frame_sizes.append(len(message.data))
                for part in message.data.split(RS):
                    if part:
                        self.pending.append(json.loads(part))
                self._arrived.set()
        finally:
            self.closed.set()
            self._arrived.set()

    async def send_raw(self, text: str) -> None:
        await self.ws.send_str(text)

    async def send(self, target: str, *arguments: Any) -> None:
        """A non-blocking invocation, shaped exactly as pysignalr sends it."""
        record = {"target": target, "arguments": list(arguments), "type": 1, "headers": {}}
        await self.send_raw(json.dumps(record) + RS)

    async def invoke(self, target: str, *arguments: Any) -> Record:
        """A blocking invocation; its Completion record."""
        invocation_id = f"q{next(self._ids)}"
        record = {"type": 1, "target": target, "arguments": list(arguments),
                  "invocationId": invocation_id}
        await self.send_raw(json.dumps(record) + RS)
        return await self.expect(
            lambda r: r.get("type") == 3 and r.get("invocationId") == invocation_id)

    async def expect(self, match: Callable[[Record], bool], timeout: float = WAIT) -> Record:
        """Consume and return the first record that matches (older ones stay pending)."""
        async def find() -> Record:
            while True:
                for index, record in enumerate(self.pending):
                    if match(record):
                        return self.pending.pop(index)
                if self.closed.is_set():
                    raise ConnectionError("hub closed while waiting")
                self._arrived.clear()
                await self._arrived.wait()

        return await asyncio.wait_for(find(), timeout)

    async def event(self, target: str, match: Callable[[Any], bool] | None = None,
                    timeout: float = WAIT) -> list[Any]:
        """The arguments of the next ``target`` event whose arguments satisfy ``match``."""
        record = await self.expect(
            lambda r: r.get("target") == target and (match is None or match(r["arguments"])),
            timeout)
        return list(record["arguments"])

    def take(self, target: str) -> list[Record]:
        """Consume every pending ``target`` record now, without waiting."""
        found = [r for r in self.pending if r.get("target") == target]
        self.pending = [r for r in self.pending if r.get("target") != target]
        return found

    async def settle(self) -> None:
        """A round trip: records queued before it have all arrived once its Completion has
        (an unknown method, so it changes nothing; the Completion carries an error)."""
        await self.invoke("Settle")

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


def data_of(arguments: list[Any]) -> Any:
    """The model inside a user event: unwraps ``{"action", "data"}``."""
    payload = arguments[0]
    return payload["data"] if isinstance(payload, dict) and "data" in payload else payload
