"""What a user can see of an exception, for the tests that secrets never show there."""

from __future__ import annotations


def described(exc: BaseException) -> str:
    """An exception as a user can see it: message, repr, attributes, chained causes."""
    seen = []
    current: BaseException | None = exc
    while current is not None:
        seen.append(f"{current}\n{current!r}\n{vars(current)!r}")
        current = current.__cause__ or current.__context__
    return "\n".join(seen)
