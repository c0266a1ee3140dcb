// A model directory with a tokenizer.json: the tokenizer travels inside the
// executable; prompts are text, generation streams text, a prompt that is
// not UTF-8 is one error naming the byte (exit status 2).
// RUN: rm -rf %t && mkdir -p %t
// RUN: %python %S/../../examples/make_tiny_llama.py init %t/base > /dev/null
// RUN: %python %S/../../examples/make_tiny_llama.py inject %t/base %t/model > /dev/null
// RUN: tptt-compile %t/model -o %t/exe 2> /dev/null
// RUN: %t/exe info | FileCheck %s --check-prefix=INFO
// RUN: %t/exe logits --prompt "Hi" | FileCheck %s --check-prefix=LOGITS
// RUN: %t/exe generate --prompt "Once upon a time" --max-new-tokens 8 --seed 3 2>&1 | FileCheck %s --check-prefix=GENERATE
// RUN: printf 'one\ntwo words\n' > %t/prompts
// RUN: %t/exe generate --prompts %t/prompts --max-new-tokens 4 --greedy 2>&1 | FileCheck %s --check-prefix=BATCH
// RUN: printf 'bad \377 byte\n' > %t/bad
// RUN: %python %S/../tptt-run/Inputs/status.py %t/exe generate --prompts %t/bad | FileCheck %s --check-prefix=UTF8
// RUN: echo '{"model": {"type": "WordPiece"}}' > %t/model/tokenizer.json
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-compile %t/model -o %t/broken | FileCheck %s --check-prefix=BROKEN

// INFO: parameters:      771456
// INFO: tokenizer:       yes (tokenizer.json)

// "Hi" is BOS and two byte tokens: three rows of logits.
// LOGITS-COUNT-3: {{^[-0-9.e]+( [-0-9.e]+)+$}}
// LOGITS-NOT: {{.}}

// GENERATE: prefill: 17 tokens, {{.+}} tokens/s; decode: 7 tokens

// BATCH: [0] {{.*}}
// BATCH: [1] {{.*}}
// BATCH: prefill: 14 tokens

// UTF8: exe: error: flag '--prompts': the text is not valid UTF-8 (byte 4)
// UTF8-NEXT: status: 2
// BROKEN: tptt-compile: error: {{.+}}tokenizer.json: field 'model.type' must be "BPE" (the only tokenizer model supported)
// BROKEN-NEXT: status: 2
