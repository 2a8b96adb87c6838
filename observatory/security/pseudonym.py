"""Pseudonymisation of personal identifiers: a raw Individual Number is never stored."""

from __future__ import annotations

import hashlib
import hmac

from observatory.reference.codes import is_individual_number

PREFIX = "p:"


def pseudonymise(value: str, key: str) -> str:
    """A stable keyed hash (HMAC-SHA-256, 32 hex digits) of a personal identifier."""
    digest = hmac.new(key.encode("utf-8"), value.encode("utf-8"), hashlib.sha256).hexdigest()
    return PREFIX + digest[:32]


def protect_subject_id(value: str, key: str) -> tuple[str, bool]:
    """(stored value, replaced?): an Individual Number with a valid check digit becomes its keyed hash."""
    if is_individual_number(value):
        return pseudonymise(value, key), True
    return value, False
