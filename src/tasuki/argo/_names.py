"""Names Kubernetes and Argo accept, and container image references (docker's grammar).

The image grammar is the one of ``distribution/reference`` (what ``docker pull`` parses):
``[domain[:port]/]path[:tag][@algorithm:hex]``, path components in lower case, a tag of at
most 128 word characters, dots and dashes, the whole name at most 255 characters.
"""

from __future__ import annotations

import re

from tasuki.argo._errors import ImageReferenceError

__all__ = ["check_image", "dns_label_problem", "dns_subdomain_problem"]

_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_PATH_RE = re.compile(rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*")
_DOMAIN_RE = re.compile(_DOMAIN)
_TAG_RE = re.compile(_TAG)
_DIGEST_RE = re.compile(_DIGEST)

_LABEL_RE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_SUBDOMAIN_RE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def _image_problem(ref: str) -> str | None:
    if not ref or ref != ref.strip():
        return "it is empty or has surrounding spaces"
    rest, _, digest = ref.partition("@")
    if "@" in ref and not _DIGEST_RE.fullmatch(digest):
        return f"the digest {digest!r} is not ALGORITHM:HEX (32 or more hex digits)"
    name, tag = rest, ""
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:  # a colon after the last slash starts the tag, not a port
        name, tag = rest[:colon], rest[colon + 1 :]
        if not _TAG_RE.fullmatch(tag):
            return f"the tag {tag!r} is not 1-128 letters, digits, '_', '.' or '-'"
    if len(name) > 255:
        return f"the name is {len(name)} characters long (at most 255)"
    first, sep, remainder = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        if not _DOMAIN_RE.fullmatch(first):
            return f"the registry {first!r} is not a host name with an optional port"
        path = remainder
    else:
        path = name
    if not _PATH_RE.fullmatch(path):
        return (
            f"the repository path {path!r} must be lower-case letters and digits, separated "
            "by '/', '.', '_', '__' or dashes"
        )
    return None


def check_image(ref: str) -> str:
    """Return ``ref`` when it is a valid container image reference.

    Raises:
        ImageReferenceError: naming the offending part and the grammar.

    Example:
        >>> check_image("ghcr.io/acme/recsys:1.4.2")
        'ghcr.io/acme/recsys:1.4.2'
    """
    problem = _image_problem(ref)
    if problem is not None:
        raise ImageReferenceError(
            f"invalid image reference {ref!r}: {problem}. Expected "
            "[REGISTRY[:PORT]/]PATH[:TAG][@sha256:HEX], e.g. ghcr.io/acme/recsys:1.4.2",
            value=ref,
            reason=problem,
        )
    return ref


def dns_label_problem(name: str, max_len: int = 63) -> str | None:
    """Why ``name`` is not an RFC 1123 label (template and task names), or None."""
    if not name:
        return "is empty"
    if len(name) > max_len:
        return f"is {len(name)} characters long (at most {max_len})"
    if not _LABEL_RE.fullmatch(name):
        return "must be lower-case letters, digits and '-', starting and ending alphanumeric"
    return None


def dns_subdomain_problem(name: str, max_len: int = 253) -> str | None:
    """Why ``name`` is not an RFC 1123 subdomain (``metadata.name``), or None."""
    if not name:
        return "is empty"
    if len(name) > max_len:
        return f"is {len(name)} characters long (at most {max_len})"
    if not _SUBDOMAIN_RE.fullmatch(name):
        return "must be lower-case letters, digits, '-' and '.', starting and ending alphanumeric"
    return None
