// EXE train on a tiny LiZA model with LoRA dropout: errors, a run that lowers
// the eval loss, its files, a resumed run equal to an uninterrupted one, a NaN
// loss that stops cleanly, and the trained adapter used by tptt-compile --adapter.
// RUN: rm -rf %t && mkdir -p %t
// RUN: %python %S/Inputs/make_train_model.py %t
// RUN: tptt-compile %t/model -o %t/plain 2> /dev/null
// RUN: %python %S/../tptt-run/Inputs/status.py %t/plain train --data %t/train.txt | FileCheck %s --check-prefix=NO-STEP
// RUN: tptt-compile %t/model --train=lora -o %t/exe 2> /dev/null
// RUN: %python %S/../tptt-run/Inputs/status.py %t/exe train --data %t/train.txt --mag-schedule gradual:0.1 | FileCheck %s --check-prefix=BAD-MAG
// RUN: echo '{"txt": 1}' > %t/bad.jsonl
// RUN: %python %S/../tptt-run/Inputs/status.py %t/exe train --data %t/bad.jsonl | FileCheck %s --check-prefix=BAD-DATA
// RUN: %python %S/../tptt-run/Inputs/status.py %t/exe train --data /dev/zero | FileCheck %s --check-prefix=DATA-DEVICE

// Eval loss before (a step at learning rate 0) and after 40 steps.
// RUN: %t/exe train --data %t/train.txt --eval-data %t/eval.jsonl --steps 1 --lr 0 --batch 4 --seq-len 32 --save %t/before 2> /dev/null
// RUN: %t/exe train --data %t/train.txt --eval-data %t/eval.jsonl --steps 40 --lr 1e-2 --batch 4 --seq-len 32 --mag-schedule constant:0.5 --eval-every 20 --save %t/run 2> %t/log
// RUN: %python -c "import csv; e = lambda p: [float(r['eval_loss']) for r in csv.DictReader(open(p)) if r['eval_loss']][-1]; a, b = e('%t/before/metrics.csv'), e('%t/run/metrics.csv'); print('LOWER' if b < a - 0.2 else f'NOT LOWER {a} {b}')" | FileCheck %s --check-prefix=LOSS
// RUN: FileCheck %s --check-prefix=LOG < %t/log
// RUN: ls %t/run %t/run/checkpoint | FileCheck %s --check-prefix=FILES

// A run saved at step 4 and resumed to 8 equals an 8-step run.
// RUN: %t/exe train --data %t/train.txt --steps 8 --batch 2 --seq-len 16 --schedule constant --save %t/straight 2> /dev/null
// RUN: %t/exe train --data %t/train.txt --steps 4 --batch 2 --seq-len 16 --schedule constant --save %t/resumed 2> /dev/null
// RUN: %t/exe train --data %t/train.txt --steps 8 --batch 2 --seq-len 16 --schedule constant --resume %t/resumed 2> /dev/null
// RUN: cmp %t/straight/checkpoint/adapter_model.safetensors %t/resumed/checkpoint/adapter_model.safetensors
// RUN: cmp %t/straight/checkpoint/optimizer.safetensors %t/resumed/checkpoint/optimizer.safetensors

// A NaN loss (weights with a NaN, given to a resumed run) stops the run and
// keeps the last good checkpoint.
// RUN: %python %S/../tptt-run/Inputs/status.py %t/exe train --data %t/train.txt --steps 4 --batch 2 --seq-len 16 --weights %t/nan/model.safetensors | FileCheck %s --check-prefix=NAN-FIRST
// RUN: %python %S/../tptt-run/Inputs/status.py %t/exe train --data %t/train.txt --steps 12 --batch 2 --seq-len 16 --schedule constant --resume %t/resumed --weights %t/nan/model.safetensors | FileCheck %s --check-prefix=NAN
// A finite loss with an overflowing gradient norm names the norm.
// RUN: %python %S/../tptt-run/Inputs/status.py %t/exe train --data %t/train.txt --steps 4 --batch 2 --seq-len 16 --weights %t/steep/model.safetensors | FileCheck %s --check-prefix=STEEP
// RUN: grep '"step": 8' %t/resumed/checkpoint/trainer_state.json

// Resuming checks the trainer state field by field, refuses other data or
// batches, announces changed schedules; one train at a time per run directory.
// RUN: cp -r %t/resumed %t/corrupt
// RUN: echo '{"step": -5, "epoch": 0}' > %t/corrupt/checkpoint/trainer_state.json
// RUN: %python %S/../tptt-run/Inputs/status.py %t/exe train --data %t/train.txt --steps 12 --batch 2 --seq-len 16 --schedule constant --resume %t/corrupt | FileCheck %s --check-prefix=STATE
// RUN: echo '{"step": 8, "epoch": 0, "trainable": ["lora"]}' > %t/corrupt/checkpoint/trainer_state.json
// RUN: %python %S/../tptt-run/Inputs/status.py %t/exe train --data %t/train.txt --steps 12 --batch 2 --seq-len 16 --schedule constant --resume %t/corrupt | FileCheck %s --check-prefix=STATE-TYPE
// RUN: %python %S/../tptt-run/Inputs/status.py %t/exe train --data %t/train.txt --steps 12 --batch 4 --seq-len 16 --schedule constant --resume %t/resumed | FileCheck %s --check-prefix=BATCH
// RUN: flock %t/resumed/.lock %python %S/../tptt-run/Inputs/status.py %t/exe train --data %t/train.txt --steps 12 --batch 2 --seq-len 16 --schedule constant --resume %t/resumed | FileCheck %s --check-prefix=LOCKED
// RUN: cp -r %t/resumed %t/longer
// RUN: %t/exe train --data %t/train.txt --steps 9 --batch 2 --seq-len 16 --schedule constant --lr 1e-3 --resume %t/longer 2>&1 | FileCheck %s --check-prefix=CHANGED
// RUN: grep '"step": 9' %t/longer/checkpoint/trainer_state.json

// A kill at any rename or fsync of a resumed run, a checkpoint save included,
// leaves a run that --resume finishes bit-identically.
// RUN: mkdir -p %t/kills
// RUN: %python %S/Inputs/kill_checkpoint.py %t/exe %t/train.txt %t/kills | FileCheck %s --check-prefix=KILLS

// RUN: tptt-compile %t/model --adapter %t/run/checkpoint -o %t/tuned 2> /dev/null
// RUN: %t/tuned info | FileCheck %s --check-prefix=TUNED

// NO-STEP: error: train: this executable has no training step; compile the model with tptt-compile --train=lora|lora-minus|full
// NO-STEP: status: 2
// BAD-MAG: error: train: --mag-schedule 'gradual:0.1': 'gradual' needs W0:W1:STEPS with STEPS >= 1
// BAD-MAG: status: 2
// BAD-DATA: error: train: --data: {{.+}}bad.jsonl:1: no string field "text"
// BAD-DATA: status: 2
// DATA-DEVICE: error: train: --data: /dev/zero: not a regular file (a device, FIFO or socket)
// DATA-DEVICE-NEXT: status: 2
// LOSS: LOWER
// LOG: exe train: lora, 4 trained tensors
// LOG: exe train: LoRA dropout 0.1 on the adapters' inputs
// LOG: step 40/40
// LOG: saved {{.+}}/checkpoint, best, metrics.csv, loss.png
// FILES: best
// FILES: checkpoint
// FILES: loss.png
// FILES: metrics.csv
// FILES: adapter_config.json
// FILES: adapter_model.safetensors
// FILES: optimizer.safetensors
// FILES: trainer_state.json
// NAN-FIRST: error: train: the loss is {{-?nan}} at step 1; stopping{{$}}
// NAN-FIRST: status: 2
// NAN: error: train: the loss is {{-?nan}} at step 9; stopping; the last good checkpoint (step 8) is {{.+}}resumed/checkpoint
// NAN: status: 2
// STEEP: error: train: the gradient norm is inf (the loss {{[0-9.]+}}e+20) at step 1; stopping{{$}}
// STEEP: status: 2
// STATE: error: train: --resume: {{.+}}corrupt/checkpoint/trainer_state.json: field 'step': needs a non-negative integer, got -5
// STATE: status: 2
// STATE-TYPE: error: train: --resume: {{.+}}trainer_state.json: field 'trainable': needs a string
// STATE-TYPE: status: 2
// BATCH: error: train: --resume: the checkpoint's run has batch = 2, this one 4; resume with the same flags, or --save a new run
// BATCH: status: 2
// LOCKED: error: train: {{.+}}resumed is in use by another train (it holds {{.+}}resumed/.lock)
// LOCKED: status: 2
// CHANGED: warning: train: --resume: lr changes from "constant 0.0005" to "constant 0.001" for the steps after 8
// CHANGED: warning: train: --resume: steps changes from 8 to 9 for the steps after 8
// KILLS: killed {{[1-9][0-9]*}} runs at a rename or an fsync; each resumed to the uninterrupted checkpoint; {{[1-9][0-9]*}} left no checkpoint/ and were repaired
// TUNED: adapter:         {{.+}}run/checkpoint (2 LoRA pairs, merged)
