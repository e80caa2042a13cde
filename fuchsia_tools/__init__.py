"""Fuchsia build and emulator tooling for zxpy -- not part of the runtime.

* :mod:`fuchsia_tools.sdkconfig` reads ``fuchsia_sdk.cfg`` and the SDK layouts of every vintage (and defines the
  Fuchsia clang target flags once);
* :mod:`fuchsia_tools.cross_build` cross-builds ``zxpy._zx`` for ``*-unknown-fuchsia`` (``python build_ffi.py
  --target x64|arm64``);
* :mod:`fuchsia_tools.femu` builds the conformance scenarios for Fuchsia and runs them on an emulator
  (``python -m fuchsia_tools.femu``);
* :mod:`fuchsia_tools.standin_sysroot` lays out a stand-in SDK tree (``python -m fuchsia_tools.standin_sysroot``).

This package lives in the source tree (and the sdist, since ``build_ffi.py`` reads ``fuchsia_sdk.cfg`` with
:mod:`~fuchsia_tools.sdkconfig`), never in the wheel.  The runtime package ``zxpy`` never imports it, and it never
imports ``zxpy``: it needs only the standard library (and, for the cross build, cffi and ``build_ffi.py``).
"""
