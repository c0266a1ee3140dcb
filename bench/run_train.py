"""CPU benchmark of the compiled training step against the same model and LoRA setup in PyTorch.

Writes a random-weight Llama-family model with LiZA on every layer (`delta_rule`, recurrent
semantics; default: hidden 256, 4 layers, 4 heads of 64, 2 KV heads, vocabulary 4096), compiles
its LoRA training step (r 8, alpha 16 on q/k/v/o) into a shared library and, in one run, times:

* `tptt.Model.train_step` (the compiled forward, backward, clipping and AdamW; C API) over
  `--steps` steps of `--batch` x `--seq-len` tokens: training tokens/s;
* the same model, LoRA adapters and AdamW in PyTorch eager (Debian's python3-torch): the linear
  branch as the chunked delta rule (WY form, chunk 64), autograd for the backward. The first
  step's losses are compared (LoRA B starts at zero, so both equal the base model's loss);
* peak memory of the compiled step at growing sequence lengths (one process each), which must
  grow linearly.

    /usr/bin/python3 bench/run_train.py [--build build] [--steps 5] [--batch 4] [--seq-len 256]
"""

import argparse
import json
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))

from tptt import random_model  # noqa: E402

LORA = {"r": 8, "lora_alpha": 16, "lora_dropout": 0.0,
        "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"]}


def write_model(directory, args):
    config = random_model.make_config(
        hidden=args.hidden, intermediate=args.intermediate, layers=args.layers, heads=args.heads,
        kv_heads=args.kv_heads, vocab=args.vocab,
        tptt={"operator_mode": "delta_rule", "mag_weight": 0.5, "max_chunk_size": 64,
              "semantics": "recurrent", "lora_config": LORA},
        max_position_embeddings=8192)
    tensors = random_model.random_weights(config, seed=0)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(config, indent=1))
    random_model.save_weights(directory, tensors)
    return config, tensors


class TorchLora:
    """Llama + LiZA delta_rule (recurrent semantics) + LoRA on q/k/v/o, in PyTorch eager."""

    def __init__(self, torch, config, tensors, chunk=64):
        self.t, self.c, self.chunk = torch, config, chunk
        self.w = {k: torch.from_numpy(v) for k, v in tensors.items()}
        self.scale = LORA["lora_alpha"] / LORA["r"]
        self.params = []
        self.lora = {}
        generator = torch.Generator().manual_seed(0)
        for name, weight in self.w.items():
            module = name.split(".")[-2]
            if module in LORA["target_modules"]:
                out, fan_in = weight.shape
                bound = 1.0 / np.sqrt(fan_in)
                a = (torch.rand(LORA["r"], fan_in, generator=generator) * 2 - 1) * bound
                b = torch.zeros(out, LORA["r"])
                a.requires_grad_(), b.requires_grad_()
                self.lora[name] = (a, b)
                self.params += [a, b]
        d = config["head_dim"]
        self.inv_freq = torch.from_numpy(1.0 / (config["rope_theta"] ** (np.arange(0, d, 2) / d)))

    def proj(self, x, name):
        y = x @ self.w[name].T
        if name in self.lora:
            a, b = self.lora[name]
            y = y + (x @ a.T) @ b.T * self.scale
        return y

    def rope(self, x, length):
        t = self.t
        angle = t.arange(length, dtype=t.float64)[:, None] * self.inv_freq[None, :]
        cos = t.cat([angle.cos(), angle.cos()], -1).float()
        sin = t.cat([angle.sin(), angle.sin()], -1).float()
        half = x.shape[-1] // 2
        return x * cos + t.cat([-x[..., half:], x[..., :half]], -1) * sin

    def rms(self, x, w, eps):
        return x * self.t.rsqrt((x * x).mean(-1, keepdim=True) + eps) * w

    def delta_rule(self, q, k, v, beta):
        """The recurrent delta rule with per-channel β, chunked in the WY form: per chunk
        U = (I + stril(Kβ Kᵀ))⁻¹ (Vβ − Kβ S), O = Q S + tril(Q Kᵀ) U, S ← S + Kᵀ U."""
        t = self.t
        batch, heads, length, d = q.shape
        state = q.new_zeros(batch, heads, d, d)
        outputs = []
        for start in range(0, length, self.chunk):
            s = slice(start, min(start + self.chunk, length))
            qc, kc, vb, kb = q[:, :, s], k[:, :, s], v[:, :, s] * beta[:, :, s], k[:, :, s] * beta[:, :, s]
            n = qc.shape[2]
            eye = t.eye(n)
            lower = t.tril(kb @ kc.transpose(-1, -2), -1)
            u = t.linalg.solve_triangular(eye + lower, vb - kb @ state, upper=False, unitriangular=True)
            outputs.append(qc @ state + t.tril(qc @ kc.transpose(-1, -2)) @ u)
            state = state + kc.transpose(-1, -2) @ u
        return t.cat(outputs, 2)

    def loss(self, tokens, labels, mu=0.5):
        t, c, w = self.t, self.c, self.w
        heads, kv, d = c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
        group, eps = heads // kv, c["rms_norm_eps"]
        batch, length = tokens.shape
        x = w["model.embed_tokens.weight"][tokens]
        causal = t.triu(t.full((length, length), float("-inf")), 1)
        for i in range(c["num_hidden_layers"]):
            p = f"model.layers.{i}."
            h = self.rms(x, w[p + "input_layernorm.weight"], eps)
            q = self.proj(h, p + "self_attn.q_proj.weight").view(batch, length, heads, d).transpose(1, 2)
            k = self.proj(h, p + "self_attn.k_proj.weight").view(batch, length, kv, d).transpose(1, 2)
            v = self.proj(h, p + "self_attn.v_proj.weight").view(batch, length, kv, d).transpose(1, 2)
            # Softmax branch.
            kr = self.rope(k, length).repeat_interleave(group, 1)
            scores = self.rope(q, length) @ kr.transpose(-1, -2) / np.sqrt(d) + causal
            soft = t.softmax(scores, -1) @ v.repeat_interleave(group, 1)
            soft = soft.transpose(1, 2).reshape(batch, length, heads * d)
            # Linear branch: β = σ(causal mean of the raw k), feature maps, delta rule.
            padded = t.cat([k[:, :, :1], k[:, :, :1], k], 2)
            beta = t.sigmoid((padded[:, :, :-2] + padded[:, :, 1:-1] + padded[:, :, 2:]) / 3)
            qf = t.nn.functional.normalize(t.nn.functional.silu(q), dim=-1, eps=1e-6)
            kf = t.nn.functional.normalize(t.nn.functional.silu(k), dim=-1, eps=1e-6)
            y = self.delta_rule(qf, kf.repeat_interleave(group, 1),
                                (v / np.sqrt(d)).repeat_interleave(group, 1),
                                beta.repeat_interleave(group, 1))
            y = y.transpose(1, 2).reshape(batch, length, heads * d)
            y = y * t.rsqrt((y * y).mean(-1, keepdim=True) + 1e-6)
            wo = p + "self_attn.o_proj.weight"
            x = x + (1 - mu) * self.proj(soft, wo) + mu * self.proj(y, wo)
            h = self.rms(x, w[p + "post_attention_layernorm.weight"], eps)
            gate = t.nn.functional.silu(h @ w[p + "mlp.gate_proj.weight"].T)
            x = x + (gate * (h @ w[p + "mlp.up_proj.weight"].T)) @ w[p + "mlp.down_proj.weight"].T
        logits = self.rms(x, w["model.norm.weight"], eps) @ w["lm_head.weight"].T
        return t.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                                             ignore_index=-100)


PEAK_SCRIPT = """
import sys, resource
sys.path.insert(0, {python!r})
import numpy as np, tptt
model = tptt.Model({library!r})
model.train_begin()
rng = np.random.default_rng(0)
tokens = rng.integers(0, {vocab}, (1, {length}))
labels = np.roll(tokens, -1, 1); labels[:, -1] = -100
model.train_step(tokens, labels, lr=1e-4)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default=str(ROOT / "build"))
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--intermediate", type=int, default=688)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--kv-heads", type=int, default=2)
    parser.add_argument("--vocab", type=int, default=4096)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq-len", type=int, default=256)
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    compiler = pathlib.Path(args.build) / "bin" / "tptt-compile"
    rng = np.random.default_rng(1)
    batches = []
    for _ in range(args.steps + 1):
        tokens = rng.integers(3, args.vocab, (args.batch, args.seq_len))
        labels = np.roll(tokens, -1, 1)
        labels[:, -1] = -100
        batches.append((tokens, labels))
    tokens_per_step = args.batch * args.seq_len

    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        config, tensors = write_model(tmp / "model", args)
        started = time.time()
        subprocess.run([str(compiler), str(tmp / "model"), "--train=lora", "--emit=shared-lib",
                        "-o", str(tmp / "model.so")], check=True, capture_output=True)
        print(f"model: hidden {args.hidden}, {args.layers} layers, {args.heads} heads ({args.kv_heads} KV), "
              f"vocab {args.vocab}, delta_rule, LoRA r 8 on q/k/v/o; batch {args.batch} x "
              f"{args.seq_len} tokens; compiled in {time.time() - started:.1f} s")
        import tptt
        model = tptt.Model(tmp / "model.so")
        model.train_begin()
        first, _ = model.train_step(*batches[0], lr=1e-4)  # warm-up (page faults, thread pool)
        started = time.time()
        for tokens, labels in batches[1:]:
            model.train_step(tokens, labels, lr=1e-4)
        ours = args.steps * tokens_per_step / (time.time() - started)
        print(f"| tptt compiled train step | {ours:.0f} tokens/s | first loss {first:.4f} |")

        try:
            import torch
        except ImportError:
            print("PyTorch is not installed (apt-get install python3-torch): no peer figures")
            torch = None
        if torch is not None:
            torch.set_num_threads(2)
            peer = TorchLora(torch, config, tensors)
            optimizer = torch.optim.AdamW(peer.params, lr=1e-4, weight_decay=0.0)

            def step(tokens, labels):
                optimizer.zero_grad()
                loss = peer.loss(torch.from_numpy(tokens), torch.from_numpy(labels))
                loss.backward()
                torch.nn.utils.clip_grad_norm_(peer.params, 1.0)
                optimizer.step()
                return float(loss)

            torch_first = step(*batches[0])
            started = time.time()
            for tokens, labels in batches[1:]:
                step(tokens, labels)
            theirs = args.steps * tokens_per_step / (time.time() - started)
            print(f"| PyTorch {torch.__version__} eager, 2 threads | {theirs:.0f} tokens/s | "
                  f"first loss {torch_first:.4f} |")
            print(f"speed-up {ours / theirs:.2f}x; first-step losses differ by {abs(first - torch_first):.2e}")

        for length in (args.seq_len, 2 * args.seq_len, 4 * args.seq_len):
            script = PEAK_SCRIPT.format(python=str(ROOT / "python"), library=str(tmp / "model.so"),
                                        vocab=args.vocab, length=length)
            done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
            print(f"batch 1 x {length} tokens: peak RSS {int(done.stdout.strip()) // 1024} MiB")


if __name__ == "__main__":
    main()
