"""What this zxpy was compiled against: the SDK (or zxpy's own headers) and its features.

``features`` holds the names of ``zxpy/_abi.py``'s gated features that the
headers had at build time (``build_ffi.py`` probes them); ``sdk`` describes
those headers.  Code that must run on builds of several SDK vintages checks
``"info_process_v2" in zxpy.features`` or calls :func:`require_feature`.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from . import _abi
from ._raw import BUILD_INFO, FEATURES
from .errors import FeatureMissingError

__all__ = ["KNOWN_FEATURES", "features", "optional_constants", "require_feature", "sdk"]

#: Every gated feature the binding knows, present or not.
KNOWN_FEATURES: frozenset[str] = frozenset(f.name for f in _abi.FEATURES)
#: The gated features this build has.
features: frozenset[str] = FEATURES
#: The optional constants (single names detected on their own) this build has.
optional_constants: frozenset[str] = frozenset(BUILD_INFO["constants"])
#: The headers of this build, with the keys ``description``, ``id``, ``layout``, ``stand_in``, ``vintage``,
#: ``path`` and ``target``.
sdk: MappingProxyType[str, Any] = MappingProxyType(dict(BUILD_INFO["sdk"]))


def require_feature(feature: str, what: str | None = None) -> None:
    """Return if this build has ``feature``, else raise :class:`~zxpy.errors.FeatureMissingError`.

    ValueError for a name that is no feature of the binding's table.
    """
    if feature not in KNOWN_FEATURES:
        raise ValueError(f"unknown feature {feature!r}; known: {', '.join(sorted(KNOWN_FEATURES))}")
    if feature not in features:
        raise FeatureMissingError.for_feature(feature, what or "the caller")
