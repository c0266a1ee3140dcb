// The Gemma-3-shaped example (examples/make_tiny_gemma3.py): random weights,
// the real Gemma 3 tokenizer (262144 embedding rows; its <image_soft_token>
// at 262144 lies past them, as with gemma-3-270m), compiled and generated
// from; its logits are the numpy reference's.
// REQUIRES: gemma3-tokenizer
// RUN: rm -rf %t && mkdir -p %t
// RUN: %python %tptt_src_root/examples/make_tiny_gemma3.py %t/model --tokenizer %gemma3_tokenizer | FileCheck %s --check-prefix=WRITE
// RUN: tptt-compile %t/model -o %t/gemma3 2> /dev/null
// RUN: %t/gemma3 info | FileCheck %s --check-prefix=INFO
// RUN: %t/gemma3 generate --prompt "The capital of France is" --max-new-tokens 6 --greedy 2>&1 | FileCheck %s --check-prefix=GENERATE
// RUN: %python %tptt_src_root/test/tptt-run/Inputs/status.py %t/gemma3 generate --prompt "an <image_soft_token> here" | FileCheck %s --check-prefix=IMAGE
// RUN: %t/gemma3 logits --tokens 2,818,5279,529,7001,563 --out %t/logits.safetensors
// RUN: %python -c "import json, sys; from tptt import reference_model as M, safetensors; d = sys.argv[1]; c = json.load(open(d + '/config.json')); l = M.forward(c, M.load_weights(d), [2, 818, 5279, 529, 7001, 563]); safetensors.save(sys.argv[2], {'logits': l})" %t/model %t/expected.safetensors
// RUN: %python %S/Inputs/compare.py %t/logits.safetensors %t/expected.safetensors 1e-4 | FileCheck %s --check-prefix=LOGITS

// WRITE: wrote {{.+}} (Gemma3ForCausalLM, vocabulary 262144, tokenizer {{.+}}tokenizer.json)
// INFO: architecture:    Gemma3ForCausalLM
// INFO: tokenizer:       yes (tokenizer.json)
// GENERATE: {{.+}}
// GENERATE: prefill: 6 tokens, {{.+}} tokens/s; decode: 5 tokens
// IMAGE: gemma3: error: flag '--prompt': the text holds the token '<image_soft_token>' (id 262144), past the model's vocabulary of 262144 tokens
// IMAGE-NEXT: status: 2
// LOGITS: logits: same
