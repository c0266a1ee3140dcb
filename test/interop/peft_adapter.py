"""Checks a tptt adapter checkpoint against Hugging Face transformers + PEFT.

`EXE train` writes LoRA checkpoints as `adapter_model.safetensors` + `adapter_config.json` so that
PEFT can load them. This script loads the base model with transformers, the checkpoint with
`peft.PeftModel.from_pretrained`, and compares the logits with those of the tptt executable
compiled with that adapter at μ = 0 (where a TPTT model is exactly its backbone):

    EXE logits --tokens 1,2,3 --mag-weight 0 --out tptt.safetensors
    python3 test/interop/peft_adapter.py MODEL_DIR RUN/checkpoint tptt.safetensors 1,2,3

It needs PyTorch, transformers, peft and safetensors, which Debian does not package: it is not
part of the test command; run it where they are installed.
"""

import argparse
import sys

import torch
from peft import PeftModel
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir")
    parser.add_argument("adapter_dir")
    parser.add_argument("tptt_logits", help="safetensors with a 'logits' tensor [S, vocab]")
    parser.add_argument("tokens", help="comma-separated token ids")
    parser.add_argument("--tolerance", type=float, default=1e-4)
    args = parser.parse_args()
    tokens = torch.tensor([[int(t) for t in args.tokens.split(",")]])
    base = AutoModelForCausalLM.from_pretrained(args.model_dir, dtype=torch.float32)
    model = PeftModel.from_pretrained(base, args.adapter_dir).eval()
    with torch.no_grad():
        adapted = model(tokens).logits[0].double()
        with model.disable_adapter():
            plain = model(tokens).logits[0].double()
    ours = load_file(args.tptt_logits)["logits"].double()
    scale = adapted.abs().max()
    error = float((ours - adapted).abs().max() / scale)
    effect = float((adapted - plain).abs().max() / scale)
    print(f"PEFT loaded {args.adapter_dir}: the adapter moves the logits by {effect:.3e} (relative)")
    print(f"tptt vs transformers + PEFT: max relative error {error:.3e} (tolerance {args.tolerance})")
    if effect <= 10 * args.tolerance:
        print("the adapter barely changes the logits: this comparison cannot see it")
        return 1
    return 0 if error <= args.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
