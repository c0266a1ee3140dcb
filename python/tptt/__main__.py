"""python3 -m tptt convert | export | card | compile — see `python3 -m tptt <command> --help`."""

import argparse
import sys

from . import card as card_module
from . import compiler, convert, reference_checkpoint, schema


def parse_bool(text):
    if text.lower() in ("1", "true", "yes"):
        return True
    if text.lower() in ("0", "false", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, not '{text}'")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python3 -m tptt", description="TPTT models with the tptt compiler")
    commands = parser.add_subparsers(dest="command", required=True)

    c = commands.add_parser("convert", help="a Hugging Face model directory, or a checkpoint saved by the "
                            "reference library (with --base), becomes a TPTT model directory")
    c.add_argument("hf_dir")
    c.add_argument("out_dir")
    c.add_argument("--base", help="the base model's directory of a reference checkpoint (its TpttConfig gives "
                   "the tptt object; the operator options below do not apply)")
    c.add_argument("--operator-mode")
    c.add_argument("--order", type=int)
    c.add_argument("--alpha-gate", choices=["c", "k", "v", "kv"])
    c.add_argument("--beta-gate", choices=["c", "k", "v", "kv"])
    c.add_argument("--trick", choices=["dt", "rot", "rdt"])
    c.add_argument("--linear", type=parse_bool)
    c.add_argument("--mag-weight", type=float, help="default 0.5")
    c.add_argument("--cross-gate", action="store_true")
    c.add_argument("--base-scale-attn", action="store_true")
    c.add_argument("--max-self-attn-length", type=int)
    c.add_argument("--max-chunk-size", type=int, help="default 64")
    c.add_argument("--semantics", choices=["recurrent", "tptt-0.12"],
                   help="default: recurrent; tptt-0.12 for a reference checkpoint")
    c.add_argument("--layers", type=lambda t: [int(x) for x in t.split(",")], help="e.g. 0,2,4")
    c.add_argument("--lora-r", type=int)
    c.add_argument("--lora-alpha", type=float)
    c.add_argument("--lora-dropout", type=float)
    c.add_argument("--target-modules", type=lambda t: t.split(","))
    c.add_argument("--copy", action="store_true", help="copy the weights instead of linking them")

    e = commands.add_parser("export", help="write a TPTT model and a LoRA adapter trained on it as the reference "
                            "library saves a checkpoint (TpttConfig + adapter_model.safetensors)")
    e.add_argument("model_dir")
    e.add_argument("adapter_dir", help="a PEFT adapter: EXE train's RUN/checkpoint or RUN/best")
    e.add_argument("out_dir")
    e.add_argument("--base-model-name", help="the base model the reference library loads (default: the "
                   "config's _name_or_path)")

    k = commands.add_parser("card", help="write MODEL_DIR/README.md, a model card")
    k.add_argument("model_dir")
    k.add_argument("--model-id", help="the card's title (default: the variant's name)")
    k.add_argument("--dataset", action="append", default=[], dest="datasets",
                   help="a dataset it was trained on (repeatable)")
    k.add_argument("--hardware", help="what it was trained on, e.g. '1x H100'")

    m = commands.add_parser("compile", help="tptt-compile a model directory")
    m.add_argument("model_dir")
    m.add_argument("-o", "--output")
    m.add_argument("--executable", action="store_true", help="an executable instead of a shared library")
    m.add_argument("--semantics", choices=["recurrent", "tptt-0.12"])

    args = parser.parse_args(argv)
    try:
        if args.command == "convert" and args.base:
            given = [k for k, v in vars(args).items()
                     if k not in ("command", "hf_dir", "out_dir", "copy", "base", "semantics")
                     and v != c.get_default(k)]
            if given:
                raise schema.ConfigError(f"--base converts a reference checkpoint, whose TpttConfig gives the "
                                         f"options; drop --{given[0].replace('_', '-')}")
            _, ignored = reference_checkpoint.convert(args.hf_dir, args.base, args.out_dir, copy=args.copy,
                                                      semantics=args.semantics)
            for key, why in ignored.items():
                print(f"ignored: {key} ({why})")
            print(f"wrote {args.out_dir}")
        elif args.command == "convert":
            options = {k: v for k, v in vars(args).items()
                       if k not in ("command", "hf_dir", "out_dir", "copy", "base") and v is not None}
            convert.convert(args.hf_dir, args.out_dir, copy=args.copy, **options)
            print(f"wrote {args.out_dir}")
        elif args.command == "export":
            exported, semantics = reference_checkpoint.export(args.model_dir, args.adapter_dir, args.out_dir,
                                                              base_model_name=args.base_model_name)
            if semantics != "tptt-0.12":
                print(f"note: the model was trained under the {semantics} semantics; the reference library "
                      "computes tptt-0.12's", file=sys.stderr)
            print(f"wrote {args.out_dir} (base model: {exported['base_model_name']})")
        elif args.command == "card":
            path = card_module.write_card(args.model_dir, model_id=args.model_id, datasets=args.datasets,
                                          hardware=args.hardware)
            print(f"wrote {path}")
        else:
            path = compiler.compile(args.model_dir, args.output, semantics=args.semantics,
                                    shared_library=not args.executable)
            print(f"wrote {path}")
    except (ValueError, OSError, compiler.CompileError) as error:
        print(f"tptt: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
