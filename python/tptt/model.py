"""`tptt.Model`: call a compiled model from Python.

A shared library made by ``tptt-compile --emit=shared-lib`` is loaded with ctypes and called
through its C API (include/tptt/Runtime/tptt.h), with no subprocess per call; an executable made
by tptt-compile also works, through its command line (one process per call):

    model = tptt.Model("model.so")
    logits = model.logits([1, 2, 3])                 # numpy float32 [3, vocab]
    text = model.generate("Once upon a time", max_new_tokens=32, greedy=True)

A library compiled with ``tptt-compile --train`` also trains, one compiled AdamW step per call,
or a whole loop over your batches with a progress line:

    model.train_begin(seed=42)
    loss, grad_norm = model.train_step(tokens, labels, lr=5e-4, mag_weight=0.3)
    history = model.train(batches, lr=5e-4, steps=100, mag_weight=lambda step: min(0.5, step / 200))
"""

import ctypes
import json
import pathlib
import math
import subprocess
import sys
import tempfile
import time

import numpy as np


class ModelError(RuntimeError):
    """A call of the compiled model failed; the message says why."""


class _Options(ctypes.Structure):
    _fields_ = [("max_new_tokens", ctypes.c_int64), ("temperature", ctypes.c_float),
                ("top_k", ctypes.c_int64), ("top_p", ctypes.c_float), ("seed", ctypes.c_uint64),
                ("greedy", ctypes.c_int), ("mag_weight", ctypes.c_float)]


class _TrainOptions(ctypes.Structure):
    _fields_ = [("beta1", ctypes.c_float), ("beta2", ctypes.c_float), ("eps", ctypes.c_float),
                ("weight_decay", ctypes.c_float), ("max_grad_norm", ctypes.c_float),
                ("seed", ctypes.c_uint64)]


_I64P = ctypes.POINTER(ctypes.c_int64)
_FP = ctypes.POINTER(ctypes.c_float)
_U8P = ctypes.POINTER(ctypes.c_uint8)


class Model:
    """One compiled model (a shared library with the tptt C API) and its weights."""

    def __init__(self, library, weights=None):
        path = pathlib.Path(library)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such file")
        self._exe = None
        try:
            self._lib = ctypes.CDLL(str(path.resolve()))
            self._lib.tptt_model_open
        except (OSError, AttributeError) as error:
            if self._open_executable(path, weights):
                return
            raise ModelError(f"{path}: not a model library made by tptt-compile --emit=shared-lib "
                             f"({error})") from None
        lib = self._lib
        lib.tptt_model_open.restype = ctypes.c_void_p
        lib.tptt_model_open.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t]
        lib.tptt_model_close.argtypes = [ctypes.c_void_p]
        lib.tptt_model_last_error.restype = ctypes.c_char_p
        lib.tptt_model_last_error.argtypes = [ctypes.c_void_p]
        lib.tptt_model_info_json.restype = ctypes.c_char_p
        lib.tptt_model_info_json.argtypes = [ctypes.c_void_p]
        lib.tptt_model_vocab_size.restype = ctypes.c_int64
        lib.tptt_model_vocab_size.argtypes = [ctypes.c_void_p]
        lib.tptt_model_encode.argtypes = [ctypes.c_void_p, ctypes.c_char_p, _I64P, ctypes.c_int64, _I64P]
        lib.tptt_model_decode.argtypes = [ctypes.c_void_p, _I64P, ctypes.c_int64, ctypes.c_char_p,
                                          ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t)]
        lib.tptt_model_logits.argtypes = [ctypes.c_void_p, _I64P, ctypes.c_int64, ctypes.c_float,
                                          ctypes.POINTER(ctypes.c_float)]
        lib.tptt_generate_defaults.argtypes = [ctypes.POINTER(_Options)]
        lib.tptt_model_generate.argtypes = [ctypes.c_void_p, _I64P, ctypes.c_int64, ctypes.POINTER(_Options),
                                            _I64P, ctypes.c_int64, _I64P]
        lib.tptt_train_defaults.argtypes = [ctypes.POINTER(_TrainOptions)]
        lib.tptt_model_train_begin.argtypes = [ctypes.c_void_p, ctypes.POINTER(_TrainOptions)]
        lib.tptt_model_train_step.argtypes = [ctypes.c_void_p, _I64P, _I64P, _U8P, ctypes.c_int64,
                                              ctypes.c_int64, ctypes.c_float, ctypes.c_float, _FP, _FP]
        lib.tptt_model_eval_loss.argtypes = [ctypes.c_void_p, _I64P, _I64P, _U8P, ctypes.c_int64,
                                             ctypes.c_int64, ctypes.c_float, _FP]
        error = ctypes.create_string_buffer(1024)
        handle = lib.tptt_model_open(str(weights).encode() if weights else None, error, len(error))
        if not handle:
            raise ModelError(error.value.decode(errors="replace"))
        self._handle = handle
        self.info = json.loads(lib.tptt_model_info_json(handle).decode())
        self.vocab_size = lib.tptt_model_vocab_size(handle)

    def _open_executable(self, path, weights):
        """Uses `path` as an executable made by tptt-compile, if it is one."""
        try:
            done = subprocess.run([str(path.resolve()), "info", "--json"], capture_output=True, text=True)
            info = json.loads(done.stdout) if done.returncode == 0 else None
        except (OSError, ValueError):
            info = None
        if not isinstance(info, dict) or "vocab_size" not in info:
            return False
        self._exe, self._weights, self._handle = path.resolve(), weights, None
        self.info, self.vocab_size = info, info["vocab_size"]
        return True

    def _run(self, *args):
        command = [str(self._exe), *map(str, args)]
        if self._weights:
            command += ["--weights", str(self._weights)]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise ModelError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else
                             f"{self._exe} exited with {done.returncode}")
        return done.stdout

    def close(self):
        if getattr(self, "_handle", None):
            self._lib.tptt_model_close(self._handle)
            self._handle = None

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _check(self, status):
        if status != 0:
            raise ModelError(self._lib.tptt_model_last_error(self._handle).decode(errors="replace"))

    @staticmethod
    def _ids(token_ids):
        ids = np.ascontiguousarray(np.asarray(token_ids, dtype=np.int64).reshape(-1))
        return ids, ids.ctypes.data_as(_I64P)

    def encode(self, text):
        """Token ids of ``text`` with the model's tokenizer (BOS included)."""
        if self._exe:
            raise ModelError("encode needs the model library (tptt-compile --emit=shared-lib)")
        count = ctypes.c_int64(0)
        data = text.encode()
        capacity = len(data) + 8
        ids = np.zeros(capacity, dtype=np.int64)
        self._check(self._lib.tptt_model_encode(self._handle, data, ids.ctypes.data_as(_I64P), capacity,
                                                ctypes.byref(count)))
        return ids[: count.value].tolist()

    def decode(self, token_ids):
        """The text of ``token_ids`` (special tokens left out)."""
        if self._exe:
            raise ModelError("decode needs the model library (tptt-compile --emit=shared-lib)")
        ids, pointer = self._ids(token_ids)
        length = ctypes.c_size_t(0)
        capacity = 16 * len(ids) + 16
        text = ctypes.create_string_buffer(capacity)
        self._check(self._lib.tptt_model_decode(self._handle, pointer, len(ids), text, capacity,
                                                ctypes.byref(length)))
        return text.raw[: length.value].decode(errors="replace")

    def logits(self, token_ids, mag_weight=None):
        """The full-sequence forward: float32 [S, vocab]. ``mag_weight`` overrides μ."""
        ids, pointer = self._ids(token_ids)
        if self._exe:
            with tempfile.TemporaryDirectory() as tmp:
                out = pathlib.Path(tmp) / "logits.safetensors"
                args = ["logits", "--tokens", ",".join(map(str, ids.tolist())), "--out", out]
                self._run(*args, *(["--mag-weight", mag_weight] if mag_weight is not None else []))
                from . import safetensors
                return safetensors.load(str(out))[0]["logits"]
        out = np.zeros((len(ids), self.vocab_size), dtype=np.float32)
        mu = -1.0 if mag_weight is None else float(mag_weight)
        self._check(self._lib.tptt_model_logits(self._handle, pointer, len(ids), mu,
                                                out.ctypes.data_as(ctypes.POINTER(ctypes.c_float))))
        return out

    def generate(self, prompt, max_new_tokens=32, temperature=1.0, top_k=0, top_p=1.0, seed=0,
                 greedy=False, mag_weight=None):
        """Continues ``prompt``: text (encoded with the model's tokenizer; returns the new text) or
        token ids (returns the new ids). Stops at an EOS token."""
        text = isinstance(prompt, str)
        if self._exe:
            args = ["generate", "--prompt", prompt] if text else \
                ["generate", "--tokens", ",".join(str(int(t)) for t in prompt)]
            args += ["--max-new-tokens", max_new_tokens, "--temperature", temperature, "--top-k", top_k,
                     "--top-p", top_p, "--seed", seed] + (["--greedy"] if greedy else []) + \
                (["--mag-weight", mag_weight] if mag_weight is not None else [])
            out = self._run(*args).rstrip("\n")
            return out if text else [int(t) for t in out.split(",") if t]
        ids, pointer = self._ids(self.encode(prompt) if text else prompt)
        options = _Options()
        self._lib.tptt_generate_defaults(ctypes.byref(options))
        options.max_new_tokens, options.temperature = max_new_tokens, temperature
        options.top_k, options.top_p, options.seed, options.greedy = top_k, top_p, seed, int(greedy)
        options.mag_weight = -1.0 if mag_weight is None else mag_weight
        out = np.zeros(max(max_new_tokens, 1), dtype=np.int64)
        count = ctypes.c_int64(0)
        self._check(self._lib.tptt_model_generate(self._handle, pointer, len(ids), ctypes.byref(options),
                                                  out.ctypes.data_as(_I64P), len(out), ctypes.byref(count)))
        new = out[: count.value].tolist()
        return self.decode(new) if text else new

    def _need_library(self, what):
        if self._exe:
            raise ModelError(f"{what} needs the model library (tptt-compile --emit=shared-lib --train)")

    def train_begin(self, seed=42, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
                    max_grad_norm=1.0):
        """Starts a training run (LoRA adapters initialised as PEFT does, AdamW moments zero)."""
        self._need_library("train_begin")
        options = _TrainOptions()
        self._lib.tptt_train_defaults(ctypes.byref(options))
        options.beta1, options.beta2, options.eps = beta1, beta2, eps
        options.weight_decay, options.max_grad_norm, options.seed = weight_decay, max_grad_norm, seed
        self._check(self._lib.tptt_model_train_begin(self._handle, ctypes.byref(options)))
        self._training = True

    @staticmethod
    def _batch(tokens, labels, mask):
        tokens = np.ascontiguousarray(np.atleast_2d(np.asarray(tokens, dtype=np.int64)))
        labels = np.ascontiguousarray(np.asarray(labels, dtype=np.int64).reshape(tokens.shape))
        mask = np.ones(tokens.shape, np.uint8) if mask is None else \
            np.ascontiguousarray(np.asarray(mask, dtype=np.uint8).reshape(tokens.shape))
        return tokens, labels, mask

    def train_step(self, tokens, labels, lr, mag_weight=None, mask=None):
        """One compiled AdamW step on a [B, S] batch (``labels``: the next token, -100 for none;
        ``mask``: 1 for real tokens). Returns (loss before the update, gradient norm)."""
        self._need_library("train_step")
        tokens, labels, mask = self._batch(tokens, labels, mask)
        loss, norm = ctypes.c_float(0), ctypes.c_float(0)
        mu = -1.0 if mag_weight is None else float(mag_weight)
        self._check(self._lib.tptt_model_train_step(
            self._handle, tokens.ctypes.data_as(_I64P), labels.ctypes.data_as(_I64P),
            mask.ctypes.data_as(_U8P), tokens.shape[0], tokens.shape[1], lr, mu,
            ctypes.byref(loss), ctypes.byref(norm)))
        return loss.value, norm.value

    def train(self, batches, lr, steps=None, mag_weight=None, eval_batch=None, eval_every=None,
              progress=True):
        """Trains on ``batches`` (an iterable of ``(tokens, labels)`` or ``(tokens, labels, mask)``,
        as for `train_step`) for ``steps`` steps or until they run out, starting a run with
        `train_begin`'s defaults unless one was started. ``lr`` and ``mag_weight`` are numbers or
        functions of the step (1, 2, ...); ``eval_batch`` is evaluated every ``eval_every`` steps
        and after the last. A progress line (loss, gradient norm, μ, lr, tokens/s) goes to stderr
        unless ``progress`` is false. Returns one dict per step: step, loss, grad_norm, lr,
        mag_weight, tokens_per_s, and eval_loss where evaluated. A NaN or infinite loss stops
        with a ModelError naming the step."""
        self._need_library("train")
        if not getattr(self, "_training", False):
            self.train_begin()

        def value(setting, step):
            return setting(step) if callable(setting) else setting

        history, start, tokens_seen = [], time.perf_counter(), 0
        for step, batch in enumerate(batches, 1):
            if steps is not None and step > steps:
                break
            tokens, labels, mask = (tuple(batch) + (None,))[:3]
            step_lr, mu = float(value(lr, step)), value(mag_weight, step)
            loss, norm = self.train_step(tokens, labels, step_lr, mag_weight=mu, mask=mask)
            if not math.isfinite(loss):
                if progress:
                    sys.stderr.write("\n")
                raise ModelError(f"train: step {step}: the loss is {loss}; stopped")
            tokens_seen += np.asarray(tokens).size
            record = {"step": step, "loss": loss, "grad_norm": norm, "lr": step_lr,
                      "mag_weight": self.info["mag_weight"] if mu is None else float(mu),
                      "tokens_per_s": tokens_seen / max(time.perf_counter() - start, 1e-9)}
            last = steps is not None and step == steps
            if eval_batch is not None and (last or (eval_every and step % eval_every == 0)):
                record["eval_loss"] = self.eval_loss(*eval_batch, mag_weight=mu)
            history.append(record)
            if progress:
                total = f"/{steps}" if steps is not None else ""
                evaluated = f"  eval {record['eval_loss']:.4f}" if "eval_loss" in record else ""
                sys.stderr.write(f"\rstep {step}{total}  loss {loss:.4f}{evaluated}  grad-norm {norm:.3g}  "
                                 f"μ {record['mag_weight']:.3f}  lr {step_lr:.2e}  "
                                 f"{record['tokens_per_s']:.0f} tokens/s")
                sys.stderr.flush()
        if eval_batch is not None and history and "eval_loss" not in history[-1]:
            history[-1]["eval_loss"] = self.eval_loss(*eval_batch, mag_weight=value(mag_weight, len(history)))
        if progress and history:
            sys.stderr.write("\n")
        return history

    def eval_loss(self, tokens, labels, mag_weight=None, mask=None):
        """The mean loss of a [B, S] batch with the current trained tensors (no update)."""
        self._need_library("eval_loss")
        tokens, labels, mask = self._batch(tokens, labels, mask)
        loss = ctypes.c_float(0)
        mu = -1.0 if mag_weight is None else float(mag_weight)
        self._check(self._lib.tptt_model_eval_loss(
            self._handle, tokens.ctypes.data_as(_I64P), labels.ctypes.data_as(_I64P),
            mask.ctypes.data_as(_U8P), tokens.shape[0], tokens.shape[1], mu, ctypes.byref(loss)))
        return loss.value
