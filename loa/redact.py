"""Hiding secrets in text that people and logs see."""

from __future__ import annotations


def mask_url(url: str) -> str:
    """`url` with any password replaced by `***`; the rest is left as written.

    `postgresql://loa:s3cret@db/loa` becomes `postgresql://loa:***@db/loa`. The
    user part is split at the last `@` before the host, so a password holding
    `@` is hidden whole.
    """
    scheme, separator, rest = url.partition("://")
    netloc_end = min((i for i in map(rest.find, "/?#") if i >= 0), default=len(rest))
    userinfo, at, hostport = rest[:netloc_end].rpartition("@")
    if not separator or not at or ":" not in userinfo:
        return url
    user = userinfo.split(":", 1)[0]
    return f"{scheme}://{user}:***@{hostport}{rest[netloc_end:]}"
