"""Users, API-key logins and the JWTs the Gateway hands out.

Clients never check a token's signature; they base64-decode its payload and
read the numeric ``exp`` to schedule a refresh (project-x-py assumes one hour
when it cannot).  So a token here is a real three-segment JWT with a JSON
payload; it is signed with a per-simulator key only so that the simulator
itself can refuse forged or edited tokens.  Every token carries a serial
(``jti``), which lets a fault expire all tokens issued so far without
touching those issued afterwards.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass, field
from enum import Enum

import msgspec

from pxfast.sim.clock import Clock

__all__ = ["Auth", "Claims", "TokenState", "User"]

#: Auth/validate still refreshes a token this long after it expired.
VALIDATE_GRACE = 7 * 24 * 3600.0


class TokenState(Enum):
    VALID = "valid"
    EXPIRED = "expired"
    INVALID = "invalid"


class Claims(msgspec.Struct, frozen=True):
    sub: str
    jti: int
    iat: int
    exp: int
    iss: str = "pxfast-sim"


@dataclass(slots=True)
class User:
    """A Gateway user: a login name (matched case-insensitively) and its API key.

    ``api_key`` None means any key logs in (the simulator's open mode).
    """

    name: str
    api_key: str | None = field(default=None, repr=False)


_HEADER = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=")
_claims_encoder = msgspec.json.Encoder()
_claims_decoder = msgspec.json.Decoder(Claims)


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Auth:
    """Logins, token issue and verification, logout, and the token-expiry fault."""

    def __init__(self, clock: Clock, *, lifetime: float = 86400.0, open_login: bool = True):
        self._clock = clock
        self._key = secrets.token_bytes(32)
        self._serial = 0
        self._revoked: set[int] = set()
        self._expired_upto: dict[str, int] = {}
        self._expired_upto_all = 0
        self.lifetime = lifetime
        self.open_login = open_login
        self.users: dict[str, User] = {}
        self._checked: dict[str, Claims] = {}  # tokens whose signature was verified

    def add_user(self, name: str, api_key: str | None = None) -> User:
        user = User(name, api_key)
        self.users[name.lower()] = user
        return user

    def check_login(self, name: str, api_key: str) -> User | None:
        """The user these credentials log in as, or None.

        Unknown names log in (and are created) only in open mode; a user with a
        registered key needs exactly that key.
        """
        if not name or not api_key:
            return None
        user = self.users.get(name.lower())
        if user is None:
            return self.add_user(name) if self.open_login else None
        if user.api_key is not None and not hmac.compare_digest(
                user.api_key.encode(), api_key.encode("utf-8", "surrogatepass")):
            return None
        return user

    def issue(self, user: User) -> str:
        self._serial += 1
        now = self._clock.now()
        claims = Claims(
            sub=user.name, jti=self._serial, iat=int(now), exp=math.ceil(now + self.lifetime)
        )
        signing_input = _HEADER + b"." + _b64(_claims_encoder.encode(claims))
        signature = hmac.new(self._key, signing_input, hashlib.sha256).digest()
        return (signing_input + b"." + _b64(signature)).decode()

    def verify(self, token: str | None) -> tuple[TokenState, Claims | None]:
        """Check signature, revocation and expiry; the claims come back unless INVALID."""
        if not token:
            return TokenState.INVALID, None
        claims = self._checked.get(token) or self._check_signature(token)
        if claims is None or claims.jti in self._revoked or claims.sub.lower() not in self.users:
            return TokenState.INVALID, None
        expired = (
            self._clock.now() >= claims.exp
            or claims.jti <= self._expired_upto_all
            or claims.jti <= self._expired_upto.get(claims.sub.lower(), 0)
        )
        return (TokenState.EXPIRED if expired else TokenState.VALID), claims

    def _check_signature(self, token: str) -> Claims | None:
        parts = token.split(".")
        if len(parts) != 3:
            return None
        signing_input = f"{parts[0]}.{parts[1]}".encode()
        try:
            signature = _unb64(parts[2])
            claims = _claims_decoder.decode(_unb64(parts[1]))
        except (ValueError, msgspec.DecodeError):
            return None
        expected = hmac.new(self._key, signing_input, hashlib.sha256).digest()
        if not hmac.compare_digest(signature, expected):
            return None
        if len(self._checked) >= 4096:
            self._checked.clear()
        self._checked[token] = claims
        return claims

    def user_of(self, claims: Claims) -> User:
        return self.users[claims.sub.lower()]

    def refreshable(self, claims: Claims) -> bool:
        """Auth/validate renews a token that expired less than a week ago."""
        return self._clock.now() < claims.exp + VALIDATE_GRACE

    def revoke(self, claims: Claims) -> None:
        self._revoked.add(claims.jti)

    def expire_tokens(self, username: str | None = None) -> None:
        """Fault: every token issued so far (for one user, or for all) is now expired."""
        if username is None:
            self._expired_upto_all = self._serial
        else:
            self._expired_upto[username.lower()] = self._serial
