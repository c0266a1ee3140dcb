// A LiZA attention layer of the bundled example shape (hidden 64, 4 query
// heads, 2 KV heads, head_dim 16) in the delta_product mode: order 2 with
// the dt trick, β from k, constant α, mixed with the softmax branch by μ.
// Batch and sequence length are symbolic.
//
//   tptt-opt examples/liza_layer.mlir --tptt-decompose-liza-attention
//   /usr/bin/python3 examples/liza_layer_inputs.py in.safetensors
//   tptt-run examples/liza_layer.mlir --inputs in.safetensors
func.func @liza_layer(%q: tensor<?x?x64xf32> {tptt.name = "q"},
                      %k: tensor<?x?x32xf32> {tptt.name = "k"},
                      %v: tensor<?x?x32xf32> {tptt.name = "v"},
                      %cos: tensor<?x?x16xf32> {tptt.name = "cos"},
                      %sin: tensor<?x?x16xf32> {tptt.name = "sin"},
                      %mu: tensor<f32> {tptt.name = "mu"},
                      %wo: tensor<64x64xf32> {tptt.name = "wo"},
                      %mask: tensor<?x?xi1> {tptt.name = "mask"})
    -> (tensor<?x?x64xf32> {tptt.name = "attention_output"}) {
  %y = tptt.liza_attention %q, %k, %v rope(%cos, %sin) mu(%mu) out_proj(%wo)
      mask %mask {num_heads = 4 : i64, num_kv_heads = 2 : i64, order = 2 : i64,
                  alpha_gate = #tptt<gate c>, beta_gate = #tptt<gate k>,
                  trick = #tptt<trick dt>, chunk_size = 64 : i64}
      : (tensor<?x?x64xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>,
         tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<f32>,
         tensor<64x64xf32>, tensor<?x?xi1>) -> tensor<?x?x64xf32>
  return %y : tensor<?x?x64xf32>
}
