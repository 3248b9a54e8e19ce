"""Client-side authentication: a freshly signed JWT per connection attempt for the private endpoint."""

from __future__ import annotations

import uuid
import warnings

import jwt
from jwt.warnings import InsecureKeyLengthWarning

from .._core.errors import AuthenticationError
from .secrets import Credentials

__all__ = ["MaskedHeaders", "authorization_header"]


class MaskedHeaders(tuple[tuple[str, str], ...]):
    """Handshake headers whose values never show in a repr (traceback locals, debuggers, logs)."""

    __slots__ = ()

    def __repr__(self) -> str:
        names = ", ".join(name for name, _ in self)
        return f"<headers {names or '(none)'}: values hidden>"

    __str__ = __repr__


def authorization_header(credentials: Credentials, algorithm: str = "HS512") -> tuple[str, str]:
    """``("Authorization", "Bearer <JWT>")`` with ``access_key`` and a new uuid4 ``nonce``.

    A signing failure raises ``AuthenticationError`` naming only the failure's type: PyJWT's frames
    hold the plain key, so the original exception is dropped, not chained.
    """
    try:
        return ("Authorization", f"Bearer {_token(credentials, algorithm)}")
    except Exception as exc:  # noqa: BLE001 - whatever it is, its traceback holds the key
        failure = exc.__class__.__name__
    raise AuthenticationError(f"cannot sign the Upbit token with {algorithm} ({failure})")


def _token(credentials: Credentials, algorithm: str) -> str:
    # Keys are revealed inside the call only: no local of this frame holds them.
    with warnings.catch_warnings():
        # Upbit's secret keys are 40 bytes; PyJWT recommends 64 for HS512 and would warn on every
        # connect. The key length is Upbit's choice, not the user's: silence exactly that warning.
        warnings.filterwarnings("ignore", category=InsecureKeyLengthWarning)
        return jwt.encode(
            {"access_key": credentials.access_key.reveal(), "nonce": str(uuid.uuid4())},
            credentials.secret_key.reveal(),
            algorithm=algorithm,
        )
