"""setuptools entry point: the parts of the build that pyproject.toml cannot say.

The extension module ``zxpy._zx`` is described by ``build_ffi.py`` (CFFI,
out-of-line API mode); see that file for the host and Fuchsia targets.
"""

from setuptools import setup

setup(
    # The runtime only.  fuchsia_tools/ (SDK config, cross build, FEMU runner,
    # stand-in SDK) is in the sdist, because build_ffi.py reads fuchsia_sdk.cfg
    # with fuchsia_tools/sdkconfig.py, but never in the wheel.
    packages=["zxpy"],
    package_data={"zxpy": ["py.typed", "*.pyi"]},
    cffi_modules=["build_ffi.py:ffibuilder"],
    # The package contains a compiled extension: install it as files.
    zip_safe=False,
    # The module is built against CPython 3.10's limited API (build_ffi.py, LIMITED_API): one cp310-abi3 wheel
    # serves every CPython from 3.10 on.
    options={"bdist_wheel": {"py_limited_api": "cp310"}},
)
