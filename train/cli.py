"""The `framing` command. Each subcommand calls one entry function; user errors exit 2 with no traceback."""

from __future__ import annotations

import argparse
import os
import sys

from .errors import UserError

EXAMPLES = """examples:
  framing train configs/frame-minilm.yaml
  framing train configs/frame-minilm.yaml training.epochs=3 run_name=frame-short
  framing evaluate models/frame-minilm data/paragraphs.jsonl --output models/frame-minilm/eval-full
  framing card models/frame-minilm
  framing data check data/paragraphs.jsonl
  framing data audit data/paragraphs.jsonl
  framing data agreement data/annotations/annotator1.jsonl data/annotations/annotator2.jsonl
"""


def _train(args) -> int:
    from .pipeline import run_training

    run_training(args.config, args.overrides, overwrite=args.overwrite)
    return 0


def _evaluate(args) -> int:
    from .evaluate_run import evaluate_run_dir

    evaluate_run_dir(args.run_dir, args.data, args.output, overwrite=args.overwrite, batch_size=args.batch_size)
    return 0


def _card(args) -> int:
    from .card import write_card

    path = write_card(args.run_dir)
    print(f"Wrote {path}")
    return 0


def _data_check(args) -> int:
    from .datacheck import check_corpus, format_stats

    stats = check_corpus(args.file)
    print(f"{args.file}: schema and codebook rules OK")
    print(format_stats(stats))
    return 0


def _data_audit(args) -> int:
    from .audit import audit, format_audit
    from .datacheck import check_corpus
    from .data import read_rows

    check_corpus(args.file)
    records = [row.record for row in read_rows(args.file)]
    print(format_audit(audit(records, folds=args.folds), folds=args.folds))
    return 0


def _data_agreement(args) -> int:
    from .agreement import agreement, format_agreement

    print(format_agreement(agreement(args.first, args.second)))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="framing", description="Train, evaluate and share framing and stance classifiers for news paragraphs.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="fine-tune a model from a YAML config, evaluate it, write the run directory and card")
    p.add_argument("config", help="YAML config, e.g. configs/frame-minilm.yaml")
    p.add_argument("overrides", nargs="*", metavar="key.sub=value", help="override any config field")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run directory of the same name")
    p.set_defaults(func=_train)

    p = sub.add_parser("evaluate", help="evaluate a run directory on a labelled JSONL/CSV file")
    p.add_argument("run_dir")
    p.add_argument("data", help="labelled paragraphs with the run's label field")
    p.add_argument("--output", required=True, help="folder for metrics.json, predictions.jsonl and plots")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--batch-size", type=int, default=64)
    p.set_defaults(func=_evaluate)

    p = sub.add_parser("card", help="(re)write the Hugging Face model card README.md of a run directory")
    p.add_argument("run_dir")
    p.set_defaults(func=_card)

    p = sub.add_parser("data", help="data utilities")
    data_sub = p.add_subparsers(dest="data_command", required=True)
    c = data_sub.add_parser("check", help="validate a corpus file against the schema and codebook rules; print counts")
    c.add_argument("file")
    c.set_defaults(func=_data_check)
    a = data_sub.add_parser("audit", help="can names alone predict the labels? purest tokens, names-only vs full-text CV")
    a.add_argument("file")
    a.add_argument("--folds", type=int, default=5)
    a.set_defaults(func=_data_audit)
    g = data_sub.add_parser("agreement", help="Cohen's kappa (frame, stance) and per-label F1 (frames) between annotators")
    g.add_argument("first", help="first annotation (e.g. data/annotations/annotator1.jsonl)")
    g.add_argument("second", help="second, blind annotation (e.g. data/annotations/annotator2.jsonl)")
    g.set_defaults(func=_data_agreement)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; nothing partial was left in place", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
