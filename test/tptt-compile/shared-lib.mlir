// --emit=shared-lib: a library with the C API of include/tptt/Runtime/tptt.h,
// used from C; weights embedded, or beside it with --external-weights; with
// --train, its training calls.
// RUN: rm -rf %t && mkdir -p %t
// RUN: %python %S/Inputs/make_model.py good %t/model
// RUN: tptt-compile %t/model --emit=shared-lib -o %t/libmodel.so 2> /dev/null
// RUN: cc %S/Inputs/capi_test.c -I%tptt_src_root/include %t/libmodel.so -Wl,-rpath,%t -lm -o %t/capi_test
// RUN: %t/capi_test | FileCheck %s --check-prefixes=CHECK,NO-TRAIN
// RUN: tptt-compile %t/model --emit=shared-lib --external-weights -o %t/libext.so 2> /dev/null
// RUN: cc %S/Inputs/capi_test.c -I%tptt_src_root/include %t/libext.so -Wl,-rpath,%t -lm -o %t/capi_ext
// RUN: %t/capi_ext | FileCheck %s --check-prefixes=CHECK,NO-TRAIN
// RUN: %t/capi_ext %t/model/model.safetensors | FileCheck %s --check-prefixes=CHECK,NO-TRAIN
// RUN: tptt-compile %t/model --emit=shared-lib --train=lora -o %t/libtrain.so 2> /dev/null
// RUN: cc %S/Inputs/capi_test.c -I%tptt_src_root/include %t/libtrain.so -Wl,-rpath,%t -lm -o %t/capi_train
// RUN: %t/capi_train | FileCheck %s --check-prefixes=CHECK,TRAIN
// RUN: mv %t/libext.so.weights.safetensors %t/moved.safetensors
// RUN: %python %S/../tptt-run/Inputs/status.py %t/capi_ext | FileCheck %s --check-prefix=NO-WEIGHTS

// CHECK: open nonexistent: null | /nonexistent.safetensors: No such file or directory
// CHECK: vocab: 24
// CHECK: logits: status 0, finite 1
// CHECK: logits out of range: status 1 | token 1 is 999, outside the vocabulary [0, 24)
// CHECK: generate: status 0, 5 tokens
// CHECK: generate bad options: status 1 | tptt_model_generate: max_new_tokens, temperature and top_k must be >= 0, top_p in [0, 1]
// CHECK: encode: status 3 | this model has no tokenizer
// NO-TRAIN: train_begin: status 5 | this model was compiled without training entry points; compile it with tptt-compile --train=lora|lora-minus|full
// TRAIN: train_begin: status 0 |
// TRAIN: train_step: status 0, loss lower, gradient norm > 0
// TRAIN: train_step bad lr: status 1 | tptt_model_train_step: lr must be a finite number >= 0, not -1.000000

// NO-WEIGHTS: open: {{.+}}libext.so.weights.safetensors: No such file or directory (the model has no embedded weights: give a weights file, --weights FILE)
// NO-WEIGHTS-NEXT: status: 1
