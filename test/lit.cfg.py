# -*- Python -*-
# lit configuration of the tptt tests.

import os
import shutil
import subprocess

import lit.formats
from lit.llvm import llvm_config
from lit.llvm.subst import ToolSubst

config.name = "TPTT"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.tptt_obj_root, "test")
config.excludes = ["CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py"]

# Every FileCheck run checks that captured variables do not leak across
# CHECK-LABEL blocks.
config.environment["FILECHECK_OPTS"] = "--enable-var-scope"

config.substitutions.append(("%PATH%", config.environment["PATH"]))
# Debian's python3 (with numpy) and the project's Python package, for tests
# that write their own inputs.
config.substitutions.append(("%python", "/usr/bin/python3"))
# The source tree, for tests that compile C against the public headers.
config.substitutions.append(("%tptt_src_root", config.tptt_src_root))
config.environment["PYTHONPATH"] = os.path.join(config.tptt_src_root, "python")
llvm_config.with_system_environment(["HOME", "INCLUDE", "LIB", "TMP", "TEMP"])
llvm_config.use_default_substitutions()

llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
tool_dirs = [config.tptt_tools_dir, config.llvm_tools_dir]
tools = ["tptt-opt", "tptt-run", "tptt-compile", "tptt-run-module"]
llvm_config.add_tool_substitutions(tools, tool_dirs)

# The CUDA toolkit (libdevice for the kernels' math, ptxas to assemble their
# PTX); no GPU is needed. Tests of the CUDA pipeline require it.
cuda_toolkit = os.environ.get("CUDA_HOME", "/usr/local/cuda")
ptxas = os.path.join(cuda_toolkit, "bin", "ptxas")
if os.access(ptxas, os.X_OK) and os.path.isdir(os.path.join(cuda_toolkit, "nvvm", "libdevice")):
    config.available_features.add("cuda-toolkit")
    config.substitutions.append(("%ptxas", ptxas))

# An NVIDIA GPU with its driver: the GPU runs of the CUDA tests.
nvidia_smi = shutil.which("nvidia-smi")
if nvidia_smi and subprocess.run([nvidia_smi, "-L"], capture_output=True).returncode == 0:
    config.available_features.add("cuda-device")

# The real Gemma 3 tokenizer (scripts/fetch-tokenizers.sh installs it from
# npm): the Gemma-3-shaped example model's test requires it.
tokenizers = os.environ.get("TPTT_TOKENIZERS_DIR",
                            os.path.join(os.path.expanduser("~"), ".cache", "tptt", "tokenizers"))
gemma3_tokenizer = os.path.join(tokenizers, "node_modules", "@lenml", "tokenizer-gemma3", "models",
                                "tokenizer.json")
if os.path.isfile(gemma3_tokenizer):
    config.available_features.add("gemma3-tokenizer")
    config.substitutions.append(("%gemma3_tokenizer", gemma3_tokenizer))
