"""CPU benchmark of a compiled TPTT model against the same model in PyTorch eager.

Writes a random-weight Llama-family model with LiZA on every layer (default: hidden 512, 8
layers, 8 heads of 64, 4 KV heads, vocabulary 8192, `delta_rule`, recurrent semantics), compiles
it with tptt-compile and, in one run, times:

* `EXE generate` at batch 1 (greedy): prefill and decode tokens/s as the executable reports them;
* the same model written in PyTorch eager (Debian's python3-torch), with a KV cache for the
  softmax branch and the recurrent state for the linear one: a full-sequence prefill and
  one-token decode steps. Its greedy tokens are checked against the executable's first, so both
  compute the same thing;
* decode memory with `max_self_attn_length` set: the executable's cache size and peak RSS after
  N and 4N generated tokens (flat when the ring buffer works).

    /usr/bin/python3 bench/run_model.py [--build build] [--prompt-tokens 32] [--new-tokens 128]
"""

import argparse
import json
import pathlib
import re
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))

from tptt import random_model  # noqa: E402


def write_model(directory, args, window=None):
    """A random-weight LlamaForCausalLM with LiZA (delta_rule) on every layer
    (`tptt.random_model`); returns its config and float32 tensors."""
    config = random_model.make_config(
        hidden=args.hidden, intermediate=args.intermediate, layers=args.layers, heads=args.heads,
        kv_heads=args.kv_heads, vocab=args.vocab,
        tptt={"operator_mode": "delta_rule", "mag_weight": 0.5, "max_chunk_size": 64,
              "max_self_attn_length": window, "semantics": "recurrent"},
        max_position_embeddings=4096, eos_token_id=None)
    tensors = random_model.random_weights(config, seed=0)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(config, indent=1))
    random_model.save_weights(directory, tensors)
    return config, tensors


class TorchModel:
    """The same model in PyTorch eager: Llama + LiZA delta_rule, recurrent semantics, f32."""

    def __init__(self, torch, config, tensors):
        self.t = torch
        self.c = config
        self.w = {k: torch.from_numpy(v) for k, v in tensors.items()}
        d = config["head_dim"]
        inv = 1.0 / (config["rope_theta"] ** (np.arange(0, d, 2) / d))
        self.inv_freq = torch.from_numpy(inv.astype(np.float64))

    def rope(self, x, positions):
        t = self.t
        angle = positions[:, None].double() * self.inv_freq[None, :]
        cos = t.cat([angle.cos(), angle.cos()], -1).float()
        sin = t.cat([angle.sin(), angle.sin()], -1).float()
        half = x.shape[-1] // 2
        rotated = t.cat([-x[..., half:], x[..., :half]], -1)
        return x * cos + rotated * sin

    def rms(self, x, w):
        return x * self.t.rsqrt((x * x).mean(-1, keepdim=True) + self.c["rms_norm_eps"]) * w

    def features(self, x, heads):
        t = self.t
        x = x.view(x.shape[0], heads, -1)
        s = t.nn.functional.silu(x)
        return s / s.norm(dim=-1, keepdim=True).clamp_min(1e-6)

    def new_cache(self):
        c = self.c
        return [{"k": [], "v": [], "raw_k": [],
                 "state": self.t.zeros(c["num_attention_heads"], c["head_dim"], c["head_dim"])}
                for _ in range(c["num_hidden_layers"])]

    def step(self, token, position, cache):
        """Logits [vocab] after one token, updating the caches."""
        t, c, w = self.t, self.c, self.w
        heads, kv, d = c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
        group, mu = heads // kv, c["tptt"]["mag_weight"]
        x = w["model.embed_tokens.weight"][token][None]
        pos = t.tensor([position])
        for i, layer in enumerate(cache):
            p = f"model.layers.{i}."
            h = self.rms(x, w[p + "input_layernorm.weight"])
            q = h @ w[p + "self_attn.q_proj.weight"].T
            k = h @ w[p + "self_attn.k_proj.weight"].T
            v = h @ w[p + "self_attn.v_proj.weight"].T
            # Softmax branch with the KV cache.
            qh = self.rope(q.view(heads, d), pos)
            layer["k"].append(self.rope(k.view(kv, d), pos))
            layer["v"].append(v.view(kv, d))
            keys, values = t.stack(layer["k"], 1), t.stack(layer["v"], 1)
            keys = keys.repeat_interleave(group, 0)
            values = values.repeat_interleave(group, 0)
            scores = (keys @ qh[:, :, None])[..., 0] / np.sqrt(d)
            soft = (t.softmax(scores, -1)[:, None, :] @ values)[:, 0]
            wo = w[p + "self_attn.o_proj.weight"]
            soft = soft.reshape(1, -1) @ wo.T
            # Linear branch: beta = sigmoid(causal mean of the raw k), the delta rule.
            layer["raw_k"] = (layer["raw_k"] + [k[0]])[-3:]
            rows = layer["raw_k"]
            pooled = (sum(rows) + (3 - len(rows)) * rows[0]) / 3
            beta = t.sigmoid(pooled).view(kv, d).repeat_interleave(group, 0)
            qf = self.features(q, heads)[0]
            kf = self.features(k, kv)[0].repeat_interleave(group, 0)
            vf = (v.view(kv, d) / np.sqrt(d)).repeat_interleave(group, 0)
            s = layer["state"]
            u = beta * vf - (s.transpose(1, 2) @ (beta * kf)[:, :, None])[..., 0]
            s = s + kf[:, :, None] * u[:, None, :]
            layer["state"] = s
            y = (s.transpose(1, 2) @ qf[:, :, None])[..., 0].reshape(1, -1)
            y = y / t.sqrt((y * y).mean() + 1e-6)
            lin = y @ wo.T
            x = x + (1 - mu) * soft + mu * lin
            h = self.rms(x, w[p + "post_attention_layernorm.weight"])
            gate = t.nn.functional.silu(h @ w[p + "mlp.gate_proj.weight"].T)
            x = x + (gate * (h @ w[p + "mlp.up_proj.weight"].T)) @ w[p + "mlp.down_proj.weight"].T
        x = self.rms(x, w["model.norm.weight"])
        return (x @ w["lm_head.weight"].T)[0]


def run_exe(exe, prompt, new_tokens):
    done = subprocess.run([str(exe), "generate", "--tokens", ",".join(map(str, prompt)), "--greedy",
                           "--max-new-tokens", str(new_tokens)], capture_output=True, text=True, check=True)
    tokens = [int(x) for x in done.stdout.strip().split(",")]
    stats = re.search(r"prefill: \d+ tokens, ([0-9.]+) tokens/s; decode: \d+ tokens, ([0-9.]+) tokens/s"
                      r"(?:, cache (\d+) KiB)?", done.stderr)
    return tokens, float(stats.group(1)), float(stats.group(2)), int(stats.group(3) or 0)


def peak_rss_kib(command):
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run(command, capture_output=True, check=True)
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default=str(ROOT / "build"))
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--intermediate", type=int, default=1408)
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--kv-heads", type=int, default=4)
    parser.add_argument("--vocab", type=int, default=8192)
    parser.add_argument("--prompt-tokens", type=int, default=32)
    parser.add_argument("--new-tokens", type=int, default=128)
    args = parser.parse_args()
    compiler = pathlib.Path(args.build) / "bin" / "tptt-compile"
    prompt = list(np.random.default_rng(1).integers(3, args.vocab, args.prompt_tokens))

    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        config, tensors = write_model(tmp / "model", args)
        started = time.time()
        subprocess.run([str(compiler), str(tmp / "model"), "-o", str(tmp / "exe")], check=True,
                       capture_output=True)
        print(f"model: hidden {args.hidden}, {args.layers} layers, {args.heads} heads "
              f"({args.kv_heads} KV), vocab {args.vocab}, delta_rule; compiled in {time.time() - started:.1f} s")
        tokens, prefill, decode, _ = run_exe(tmp / "exe", prompt, args.new_tokens)
        print(f"| tptt EXE (batch 1) | {prefill:.1f} | {decode:.1f} |")

        try:
            import torch
        except ImportError:
            print("PyTorch is not installed (apt-get install python3-torch): no peer figures")
            torch = None
        if torch is not None:
            torch.set_num_threads(2)
            model = TorchModel(torch, config, tensors)
            with torch.no_grad():
                cache = model.new_cache()
                started = time.time()
                for position, token in enumerate(prompt):
                    logits = model.step(token, position, cache)
                torch_prefill = len(prompt) / (time.time() - started)
                generated = [int(logits.argmax())]
                started = time.time()
                for n in range(1, args.new_tokens):
                    logits = model.step(generated[-1], len(prompt) + n - 1, cache)
                    generated.append(int(logits.argmax()))
                torch_decode = (args.new_tokens - 1) / (time.time() - started)
            agree = sum(a == b for a, b in zip(tokens, generated))
            print(f"| PyTorch {torch.__version__} eager, 2 threads | {torch_prefill:.1f} | {torch_decode:.1f} |")
            print(f"greedy tokens equal for {agree} of {len(tokens)} steps; "
                  f"decode speed-up {decode / torch_decode:.2f}x")

        write_model(tmp / "windowed", args, window=64)
        subprocess.run([str(compiler), str(tmp / "windowed"), "-o", str(tmp / "windowed-exe")], check=True,
                       capture_output=True)
        for count in (args.new_tokens, 4 * args.new_tokens):
            _, _, speed, cache_kib = run_exe(tmp / "windowed-exe", prompt, count)
            command = [str(tmp / "windowed-exe"), "generate", "--tokens", ",".join(map(str, prompt)),
                       "--greedy", "--max-new-tokens", str(count)]
            done = subprocess.run(["/usr/bin/time", "-f", "%M"] + command, capture_output=True, text=True,
                                  check=True)
            rss = int(done.stderr.strip().splitlines()[-1])
            print(f"max_self_attn_length 64, {count} new tokens: cache {cache_kib} KiB, "
                  f"peak RSS {rss} KiB, decode {speed:.1f} tokens/s")


if __name__ == "__main__":
    main()
