"""Writes a tiny LiZA model with the byte-level tokenizer of the example, and
a small training text: make_train_model.py DIR [wide] (DIR/model,
DIR/train.txt, DIR/eval.jsonl). `wide` gives heads and chunks of 16, so that
the operator's chunk products tile into tensor-core fragments on the CUDA
target."""
import json
import pathlib
import shutil
import sys

from tptt import random_model

root = pathlib.Path(__file__).resolve().parents[3]
out = pathlib.Path(sys.argv[1])
wide = sys.argv[2:] == ["wide"]
random_model.write(out / "model", hidden=32 if wide else 16, intermediate=24, layers=1, heads=2,
                   kv_heads=1, vocab=258,
                   tptt={"operator_mode": "delta_product", "max_chunk_size": 16 if wide else 8,
                                    "lora_config": {"r": 4, "lora_alpha": 8, "lora_dropout": 0.1,
                                                    "target_modules": ["q_proj", "v_proj"]}},
                   bos_token_id=256, eos_token_id=257)
shutil.copy(root / "examples" / "tiny-llama" / "tokenizer.json", out / "model" / "tokenizer.json")
sentence = "the whale swims in the sea and the ship sails after the whale. "
(out / "train.txt").write_text(sentence * 60)
with open(out / "eval.jsonl", "w") as f:
    for _ in range(4):
        f.write(json.dumps({"text": sentence * 3}) + "\n")
# The same weights with a NaN in the final norm: any forward gives a NaN loss.
tensors = random_model.random_weights(json.loads((out / "model" / "config.json").read_text()))
steep = {name: tensor.copy() for name, tensor in tensors.items()}
tensors["model.norm.weight"][0] = float("nan")
(out / "nan").mkdir(exist_ok=True)
random_model.save_weights(out / "nan", tensors)
# A final norm of 1e20: the loss stays finite, the gradients' squares overflow.
steep["model.norm.weight"] *= 1e20
(out / "steep").mkdir(exist_ok=True)
random_model.save_weights(out / "steep", steep)
