"""Keeping camera credentials out of logs, `info`, `--validate-config` and error messages.

A camera URL may carry a password in its user-info part (`rtsp://admin:pw@cam/...`) or
in its query (`...?user=admin&password=pw`, as some firmwares want), and FFmpeg repeats
the URL it was given in its error messages. Everything that leaves the agent as text
goes through `redact_url` (a URL we hold) or `redact_text` (a message that may contain
one, or a known secret in any of its spellings).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlencode, urlsplit, urlunsplit

MASK = "***"

# Query keys that carry secrets in camera URLs (Reolink, Dahua, Foscam, ... spell them differently).
SECRET_QUERY_KEYS = re.compile(r"pass|pwd|token|secret|key|auth|sig", re.IGNORECASE)
# user:password@ in any URL inside a text.
_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^/@:\s'\"]*):[^/@\s'\"]*@")


def redact_url(url: str) -> str:
    """The URL with its password and secret query values replaced by `***` (user kept)."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if parts.password is not None:
            userinfo, _, hostport = netloc.rpartition("@")
            netloc = f"{userinfo.partition(':')[0]}:{MASK}@{hostport}"
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            query = urlencode([(k, MASK if SECRET_QUERY_KEYS.search(k) else v) for k, v in pairs], safe="*")
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:  # not parseable as a URL (bad port, ...): mask any user-info anyway
        return _USERINFO.sub(rf"\g<scheme>\g<user>:{MASK}@", url)


def spellings(secret: str) -> set[str]:
    """A secret as it may appear in text: as is, URL-quoted, form-quoted."""
    return {s for s in (secret, quote(secret, safe=""), quote_plus(secret), unquote(secret)) if s}


def redact_text(text: str, secrets: Iterable[str | None] = ()) -> str:
    """`text` without passwords of URLs in it nor any of the given secrets (in any spelling)."""
    text = _USERINFO.sub(rf"\g<scheme>\g<user>:{MASK}@", text)
    for secret in secrets:
        if secret:
            for spelling in sorted(spellings(secret), key=len, reverse=True):
                text = text.replace(spelling, MASK)
    return text
