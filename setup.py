"""`pip install .`: runs scripts/build.sh, then packages build/python/dlm
(the pure-Python modules and the _dlm extension) as `dlm`. See
docs/python.md, "Installing"."""

import os
import pathlib
import shutil
import subprocess

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

ROOT = pathlib.Path(__file__).resolve().parent
BUILD = pathlib.Path(os.environ.get("BUILD_DIR", ROOT / "build"))


class BuildWithCMake(build_py):
    """Builds dlm, then copies build/python/dlm into the wheel."""

    def run(self):
        subprocess.check_call([str(ROOT / "scripts" / "build.sh")])
        package = BUILD / "python" / "dlm"
        if not (package / "__init__.py").exists():
            raise SystemExit(f"{package} was not built: the build needs "
                             "python3-dev and pybind11-dev")
        target = pathlib.Path(self.build_lib) / "dlm"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(package, target,
                        ignore=shutil.ignore_patterns("__pycache__"))


class BinaryDistribution(Distribution):
    """The wheel holds a compiled extension: tag it for this platform."""

    def has_ext_modules(self):
        return True


# setuptools' own build directory is kept inside CMake's.
(ROOT / "build" / "setuptools").mkdir(parents=True, exist_ok=True)
setup(packages=["dlm"], package_dir={"dlm": "python/dlm"},
      cmdclass={"build_py": BuildWithCMake}, distclass=BinaryDistribution,
      options={"build": {"build_base": "build/setuptools"},
               "egg_info": {"egg_base": "build/setuptools"}})
