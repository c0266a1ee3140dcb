"""tptt Python package; `tptt.reference` is the numpy reference forward of both semantics.

It computes the linear-attention branch of a LiZA layer under the `recurrent` and `tptt-0.12`
semantics of shared/spec/SEMANTICS.md in float64, and `tptt.safetensors` reads and writes the
safetensors files that hold the golden values and the model weights.
"""
