"""Build backend of durable-sdk: setuptools' own, taken from the Python that
runs pip rather than downloaded.

pip builds a package in an isolated environment and installs the build
requirements there from an index; with no index reachable (Debian's
python3-setuptools and python3-wheel, no PyPI), `pip install ./sdk/python`
would fail before it started.  This backend asks for nothing
(`requires = []` in pyproject.toml), puts the base interpreter's
site-packages (and Debian's dist-packages) back on sys.path, and hands
every hook to setuptools.build_meta.  It needs setuptools >= 61 and wheel
in that interpreter; `pip install --no-build-isolation` skips it entirely.
"""
import os
import sys
import sysconfig

for _path in (sysconfig.get_paths(vars={"base": sys.base_prefix, "platbase": sys.base_prefix})["purelib"],
              f"/usr/lib/python{sys.version_info[0]}/dist-packages"):
    if os.path.isdir(_path) and _path not in sys.path:
        sys.path.append(_path)

try:
    from setuptools import build_meta as _meta
except ImportError as e:  # pragma: no cover - depends on the machine
    raise ImportError("durable-sdk builds with setuptools >= 61 and wheel from the Python that runs pip "
                      "(Debian: apt-get install python3-setuptools python3-wheel)") from e

build_wheel = _meta.build_wheel
build_sdist = _meta.build_sdist
prepare_metadata_for_build_wheel = _meta.prepare_metadata_for_build_wheel


def get_requires_for_build_wheel(config_settings=None):
    """Nothing to install: setuptools and wheel come from the interpreter."""
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []
