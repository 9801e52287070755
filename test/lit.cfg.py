# -*- Python -*-
# lit configuration of the dlm regression tests.

import os

import lit.formats
from lit.llvm import llvm_config
from lit.llvm.subst import ToolSubst

config.name = "DLM"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".dlm", ".test"]
config.excludes = ["Inputs", "lib", "CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py"]

config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.dlm_obj_root, "test")

config.substitutions.append(("%PATH%", config.environment["PATH"]))
config.substitutions.append(("%dlm_src_root", config.dlm_src_root))
config.substitutions.append(("%dlm_obj_root", config.dlm_obj_root))
# The device library a bundle carries (dlm_kernels.cuh and the tensor-core
# headers, lib/Target/CUDA/EmbedLibrary.cmake).
config.substitutions.append(("%dlm_device_library", os.path.join(config.dlm_obj_root, "lib", "Target", "CUDA", "dlm_kernels.cuh")))
config.substitutions.append(("%examples", os.path.join(config.dlm_src_root, "examples")))
# The fake CUDA driver of the unit tests (unittests/Runtime/FakeCuda), for
# --device=cuda without a GPU.
config.substitutions.append(("%fake_cuda", os.path.join(config.dlm_obj_root, "unittests", "Runtime", "libdlm_fake_cuda.so")))
# Debian's interpreter, the one with python3-torch and python3-numpy (the first
# python3 on PATH may be another). Added before use_default_substitutions(),
# whose own %python (lit's interpreter) it therefore overrides.
config.substitutions.append(("%python", "/usr/bin/python3"))

llvm_config.use_default_substitutions()
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)

tool_dirs = [config.dlm_tools_dir, config.llvm_tools_dir]
tools = ["dlm-opt", "dlm-run", "dlm-translate", "dlmc"]
llvm_config.add_tool_substitutions(tools, tool_dirs)

# `cuda-driver`: a CUDA driver library loads here (tests of the no-driver
# messages are UNSUPPORTED then).
try:
    import ctypes

    ctypes.CDLL("libcuda.so.1")
    config.available_features.add("cuda-driver")
except OSError:
    pass

# `fashion-mnist`: Debian's dataset-fashion-mnist is installed (scripts/deps.sh
# installs it), for the short real training runs.
if os.path.exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"):
    config.available_features.add("fashion-mnist")

# `matplotlib`: Debian's interpreter can import matplotlib (python3-matplotlib),
# for scripts/plot_training.py.
import subprocess

try:
    if subprocess.run(["/usr/bin/python3", "-c", "import matplotlib"],
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                      timeout=60).returncode == 0:
        config.available_features.add("matplotlib")
except (OSError, subprocess.TimeoutExpired):
    pass

# Compiled kernels (NVRTC and emulator caches) go to a cache inside the build
# tree, never the user's ~/.cache/dlm.
config.environment["DLM_CACHE_DIR"] = os.path.join(config.dlm_obj_root, "test", "dlm-cache")
