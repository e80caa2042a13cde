"""zxpy's version: the one place it is written.

``pyproject.toml`` reads it (``[tool.setuptools.dynamic]``), ``build_ffi.py``
compiles it into the module (``zxpy_build_info()``), and ``zxpy._raw`` refuses
a compiled module built from another version (a stale ``_zx*.so`` left in the
tree by an older build).
"""

__version__ = "0.1.0"
