"""JWT verification of the private handshake: ``Authorization: Bearer`` HS256/HS512, fresh nonces."""

from __future__ import annotations

import uuid
import warnings
from typing import Any
from collections import OrderedDict
from collections.abc import Iterable, Mapping

import jwt
from jwt.warnings import InsecureKeyLengthWarning

__all__ = ["DEFAULT_ACCESS_KEY", "DEFAULT_SECRET_KEY", "Authenticator", "make_token"]

DEFAULT_ACCESS_KEY = "fake-access-key-0123456789abcdefghijklmn"
DEFAULT_SECRET_KEY = "fake-secret-key-0123456789abcdefghijklmnopqrstuvwxyz-0123456789AB"
_MAX_NONCES = 100_000


def _quiet_decode(token: str, secret: str) -> dict[str, Any]:
    with warnings.catch_warnings():
        # Short test secrets are fine here; PyJWT warns about them.
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return jwt.decode(token, secret, algorithms=["HS256", "HS512"])


def make_token(access_key: str = DEFAULT_ACCESS_KEY, secret_key: str = DEFAULT_SECRET_KEY,
               algorithm: str = "HS512", nonce: str | None = None) -> str:
    """A token as Upbit documents it: payload ``access_key`` + ``nonce`` signed with the raw secret."""
    payload = {"access_key": access_key, "nonce": nonce or str(uuid.uuid4())}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return jwt.encode(payload, secret_key, algorithm=algorithm)


class Authenticator:
    """Checks handshake headers against the configured keys; remembers nonces to refuse reuse."""

    def __init__(self, keys: Mapping[str, str], reject_reused_nonce: bool = True) -> None:
        self.keys = dict(keys)
        self.reject_reused_nonce = reject_reused_nonce
        self._nonces: OrderedDict[tuple[str, str], None] = OrderedDict()

    def verify(self, headers: Iterable[tuple[bytes, bytes]]) -> str | None:
        """Return None when the headers carry a valid token, else a short reason."""
        value = None
        for name, raw in headers:
            if name.lower() == b"authorization":
                value = raw.decode("latin-1")
        if value is None:
            return "no Authorization header"
        scheme, _, token = value.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return "Authorization is not a Bearer token"
        token = token.strip()
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            return f"malformed token ({exc.__class__.__name__})"
        access = unverified.get("access_key") if isinstance(unverified, dict) else None
        if not isinstance(access, str) or access not in self.keys:
            return "unknown access_key"
        try:
            payload = _quiet_decode(token, self.keys[access])
        except jwt.PyJWTError as exc:
            return f"signature check failed ({exc.__class__.__name__})"
        nonce = payload.get("nonce")
        if not isinstance(nonce, str) or not nonce:
            return "no nonce"
        if (access, nonce) in self._nonces and self.reject_reused_nonce:
            return "nonce reused"
        self._nonces[(access, nonce)] = None
        if len(self._nonces) > _MAX_NONCES:
            self._nonces.popitem(last=False)
        return None
