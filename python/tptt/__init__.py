"""tptt: TPTT models with the tptt compiler, from Python (pure Python over numpy).

* `tptt.compile(model_dir)` runs tptt-compile; `tptt.Model(library)` calls the compiled model
  (logits, generate) through its C API with ctypes.
* ``python3 -m tptt convert | export | card | compile``: Hugging Face directory or reference
  checkpoint -> TPTT model directory, TPTT model -> reference checkpoint, model cards, compilation.
* `tptt.reference` (the LiZA branch) and `tptt.reference_model` (whole models) are the numpy
  references of both semantics the C++ tests compare against; `tptt.safetensors` reads and writes
  safetensors files; `tptt.schema` validates a config.json against the repository's JSON Schema.
"""

from .compiler import CompileError, compile  # noqa: F401
from .model import Model, ModelError  # noqa: F401
