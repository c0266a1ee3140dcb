"""`python3 -m tptt.ptx FILE.mlir [--out DIR]`: the PTX of the kernels in MLIR text.

Reads the output of the CUDA pipeline's llvm stage (`tptt-opt --tptt-pipeline="target=cuda"`, or
`tptt-compile --target cuda --emit=llvm`), where every `gpu.binary` holds its kernels' PTX as an
escaped string (format isa). With --out, writes DIR/<binary>.ptx for each and prints one line per
file, `<binary>.ptx: <its .target line>`; without it, prints the PTX.
"""

import argparse
import pathlib
import re
import sys

BINARY = re.compile(r'gpu\.binary @([\w$.]+)\s+\[#gpu\.object<.*?assembly = "((?:[^"\\]|\\.)*)"')


def unescape(text):
    """MLIR prints a string attribute's `"` and `\\` and non-printable bytes as \\XX (hex)."""
    data = re.sub(rb"\\([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), text.encode("latin-1"))
    return data.decode("utf-8")


def kernels(mlir_text):
    """(binary name, PTX) of every gpu.binary with PTX, in order."""
    return [(m.group(1), unescape(m.group(2))) for m in BINARY.finditer(mlir_text)]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python3 -m tptt.ptx", description=__doc__.splitlines()[0])
    parser.add_argument("mlir", help="MLIR text after the CUDA pipeline's llvm stage")
    parser.add_argument("--out", help="write DIR/<binary>.ptx for each gpu.binary")
    args = parser.parse_args(argv)
    found = kernels(pathlib.Path(args.mlir).read_text())
    if not found:
        sys.exit(f"{args.mlir}: no gpu.binary with PTX (compile with target=cuda format=isa)")
    if not args.out:
        for name, ptx in found:
            print(f"// gpu.binary @{name}\n{ptx}")
        return
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, ptx in found:
        (out / f"{name}.ptx").write_text(ptx)
        target = next((line for line in ptx.splitlines() if line.startswith(".target")), "(no .target)")
        print(f"{name}.ptx: {target}")


if __name__ == "__main__":
    main()
