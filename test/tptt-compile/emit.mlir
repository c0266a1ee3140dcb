// --emit stops at a stage and prints it: the graph-level entry points (the
// decoder layers outlined, one function per kind of layer), LLVM IR with the
// launcher's packed wrappers and manifest.
// RUN: rm -rf %t && %python %S/Inputs/make_model.py good %t
// RUN: tptt-compile %t --emit=tptt 2> /dev/null | FileCheck %s --check-prefix=TPTT
// RUN: tptt-compile %t --emit=tptt --semantics tptt-0.12 2> /dev/null | FileCheck %s --check-prefix=REFERENCE
// RUN: tptt-compile %t --emit=llvm-ir 2> /dev/null | FileCheck %s --check-prefix=IR
// Every op carries the location of its Hugging Face module, so that a
// diagnostic names the layer; the layers are merged all the same.
// RUN: tptt-compile %t --emit=tptt --mlir-print-debuginfo --mlir-print-local-scope 2> /dev/null | FileCheck %s --check-prefix=LOC

// LOC-LABEL: func.func @tptt_logits(
// LOC:         tptt.embedding {{.+}} loc("model.embed_tokens")
// LOC:         tptt.rope_tables {{.+}} loc("model.rotary_emb")
// LOC:         call @layer_0({{.+}} loc("model.layers.0")
// LOC:         call @layer_0({{.+}} loc("model.layers.1")
// LOC:         tptt.rms_norm {{.+}} loc("model.norm")
// LOC:         tptt.linear {{.+}} loc("lm_head")
// LOC-NOT:     func.func private @layer_1
// LOC:       func.func private @layer_0(
// LOC:         tptt.rms_norm {{.+}} loc("model.layers.0.input_layernorm")
// LOC:         tptt.linear {{.+}} loc("model.layers.0.self_attn.q_proj")
// LOC:         tptt.liza_attention {{.+}} loc("model.layers.0.self_attn")
// LOC:         tptt.rms_norm {{.+}} loc("model.layers.0.post_attention_layernorm")
// LOC:         tptt.glu {{.+}} loc("model.layers.0.mlp.act_fn")
// LOC:         tptt.linear {{.+}} loc("model.layers.0.mlp.down_proj")

// TPTT-LABEL: func.func @tptt_logits(
// Every argument states its role in the interface (the manifest is read
// from these attributes); projections are stored transposed.
// TPTT-SAME:     %{{.+}}: tensor<?x?xi64> {tptt.name = "tokens", tptt.role = "input"}
// TPTT-SAME:     {tptt.name = "model.embed_tokens.weight", tptt.role = "weight"}
// TPTT-SAME:     tensor<16x16xf32> {tptt.name = "model.layers.0.self_attn.q_proj.weight", tptt.role = "weight", tptt.transposed}
// TPTT:         tptt.embedding
// TPTT:         tptt.rope_tables
// Both layers are one function, called with each layer's weights.
// TPTT:         call @layer_0(
// TPTT:         call @layer_0(
// TPTT-NOT:     func.func private @layer_1
// TPTT:       func.func private @layer_0(
// TPTT:         tptt.liza_attention
// TPTT-SAME:      chunk_size = 4
// TPTT-SAME:      order = 2
// TPTT:         tptt.glu
// The prefill returns the decode caches besides the logits.
// TPTT-LABEL: func.func @tptt_prefill(
// TPTT:         -> (tensor<?x?x24xf32> {tptt.name = "logits"}, tensor<?x1x?x8xf32> {tptt.name = "layers.0.k"}, tensor<?x1x?x8xf32> {tptt.name = "layers.0.v"}, tensor<?x2x8x8xf32> {tptt.name = "layers.0.state"}
// TPTT-LABEL: func.func @tptt_decode_step(
// TPTT-SAME:     {tptt.name = "layers.0.k", tptt.role = "cache"}
// TPTT-SAME:     {tptt.name = "layers.0.state", tptt.role = "cache"}
// TPTT:         tptt.attention
// TPTT:         tptt.delta_product_step
// TPTT:         tptt.mag_mix

// The reference semantics has no decode step: generation recomputes.
// REFERENCE: func.func @tptt_logits(
// REFERENCE-NOT: func.func @tptt_prefill(
// REFERENCE-NOT: func.func @tptt_decode_step(

// IR: @tptt_manifest = {{.*}}constant
// IR-DAG: define void @tptt_logits_packed(ptr
// IR-DAG: define void @tptt_decode_step_packed(ptr
// IR-DAG: define void @tptt_prefill_packed(ptr
