"""Keep credentials out of log records, including third-party ones.

pxfast never formats a token or key into a message itself, but the WebSocket
library logs the upgrade request (which carries ``access_token=``) at its
lowest debug level.  Every logger pxfast hands to a library gets this filter.
"""

from __future__ import annotations

import logging
import re

__all__ = ["RedactingFilter", "redact", "redacting_logger"]

_PATTERNS = (
    re.compile(r"(access_token=)[^&\s'\"]+", re.IGNORECASE),
    re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE),
    re.compile(r"(\"?apiKey\"?\s*[:=]\s*\"?)[^\"',\s}]+", re.IGNORECASE),
    re.compile(r"(\"?(?:token|newToken)\"?\s*[:=]\s*\"?)[A-Za-z0-9._-]{16,}", re.IGNORECASE),
)


def redact(text: str) -> str:
    """``text`` with token- and key-looking values replaced by ``***``."""
    for pattern in _PATTERNS:
        text = pattern.sub(r"\1***", text)
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        return True


def redacting_logger(name: str) -> logging.Logger:
    """A logger whose records (and its children's, via its handlers' view) are redacted."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())
    return logger
