"""`tptt.Model`: call a compiled model from Python.

A shared library made by ``tptt-compile --emit=shared-lib`` is loaded with ctypes and called
through its C API (include/tptt/Runtime/tptt.h), with no subprocess per call; an executable made
by tptt-compile also works, through its command line (one process per call):

    model = tptt.Model("model.so")
    logits = model.logits([1, 2, 3])                 # numpy float32 [3, vocab]
    text = model.generate("Once upon a time", max_new_tokens=32, greedy=True)
"""

import ctypes
import json
import pathlib
import subprocess
import tempfile

import numpy as np


class ModelError(RuntimeError):
    """A call of the compiled model failed; the message says why."""


class _Options(ctypes.Structure):
    _fields_ = [("max_new_tokens", ctypes.c_int64), ("temperature", ctypes.c_float),
                ("top_k", ctypes.c_int64), ("top_p", ctypes.c_float), ("seed", ctypes.c_uint64),
                ("greedy", ctypes.c_int), ("mag_weight", ctypes.c_float)]


_I64P = ctypes.POINTER(ctypes.c_int64)


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
