"""The `framing` command. Each subcommand calls one entry function; user errors exit 2 with no traceback."""

from __future__ import annotations

import argparse
import os
import sys

from .errors import UserError

EXAMPLES = """examples:
  framing train configs/frame-minilm.yaml
  framing train configs/frame-minilm.yaml training.epochs=3 run_name=frame-short
  framing train configs/frame-minilm.yaml --resume      # after an interruption
  torchrun --nproc_per_node 2 -m train.cli train configs/frame-minilm.yaml
  framing evaluate configs/eval-frame-minilm.yaml
  framing evaluate configs/eval-frame-minilm.yaml data_file=my_labelled.jsonl
  framing cv configs/frame-minilm.yaml --folds 5
  framing predict models/frame-minilm articles/ --output predictions.jsonl
  framing predict models/frame-minilm feed.jsonl --id-field url --shard 1/4 --output part1.jsonl
  framing export models/frame-minilm --onnx --int8
  framing card models/frame-minilm
  framing push models/frame-minilm --repo-id my-lab/frame-minilm --private
  framing data check data/paragraphs.jsonl
  framing data audit data/paragraphs.jsonl
  framing data agreement data/annotations/annotator1.jsonl data/annotations/annotator2.jsonl
  framing data ls-config -o labelling-config.xml
  framing data import --format label-studio project-1-export.json -o data/labelled.jsonl
  framing data import --format doccano all.jsonl -o data/labelled.jsonl --mapping my-mapping.yaml
  framing predict models/frame-minilm articles/ --format label-studio --output tasks.json
  framing select models/frame-minilm pool.jsonl --n 200 --per-article 2 --format label-studio -o next.json
"""


def _train(args) -> int:
    from .pipeline import run_training

    try:
        run_training(args.config, args.overrides, overwrite=args.overwrite, resume=args.resume)
    finally:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
    return 0


def _evaluate(args) -> int:
    from .config import EvalConfig, load_config
    from .evaluate_run import evaluate

    evaluate(load_config(args.config, args.overrides, schema=EvalConfig))
    return 0


def _cv(args) -> int:
    from .cv import run_cv

    run_cv(args.config, args.overrides, args.folds, overwrite=args.overwrite)
    return 0


def _predict(args) -> int:
    from pathlib import Path

    from .predict import PredictOptions, parse_shard, run_predict

    options = PredictOptions(output=Path(args.output), fmt=args.format, text_field=args.text_field,
                             id_field=args.id_field, batch_size=args.batch_size, buffer=args.buffer,
                             shard=parse_shard(args.shard), resume=args.resume, overwrite=args.overwrite,
                             on_error=args.on_error, backend=args.backend, threads=args.threads)
    run_predict(args.paths, options)
    return 0


def _export(args) -> int:
    from .onnx_export import export_onnx

    if not args.onnx:
        raise UserError("nothing to export: pass --onnx (optionally with --int8)")
    for path in export_onnx(args.run_dir, int8=args.int8):
        print(f"Wrote {path}")
    return 0


def _merge(args) -> int:
    from .predict import merge_outputs

    print(f"Wrote {merge_outputs(args.parts, args.output)}")
    return 0


def _card(args) -> int:
    from pathlib import Path

    from .card import write_card
    from .modeling import check_local_model_dir

    check_local_model_dir(Path(args.run_dir))  # no card for a run that predict and evaluate would refuse
    path = write_card(args.run_dir)
    print(f"Wrote {path}")
    return 0


def _push(args) -> int:
    from .push import push_run

    url = push_run(args.run_dir, args.repo_id, private=args.private)
    print(f"Pushed {args.run_dir} -> {url}")
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


def _data_import(args) -> int:
    from .interchange import import_export

    print(import_export(args.export, args.format, args.output, args.mapping, overwrite=args.overwrite).format())
    return 0


def _data_ls_config(args) -> int:
    from .interchange import label_studio_config

    if args.output is None:
        print(label_studio_config(), end="")
        return 0
    from pathlib import Path

    Path(args.output).write_text(label_studio_config(), encoding="utf-8")
    print(f"Wrote {args.output}; paste it into the project's Settings > Labeling Interface > Code")
    return 0


def _select(args) -> int:
    from pathlib import Path

    from .select import SelectOptions, run_select

    options = SelectOptions(output=Path(args.output), n=args.n, strategy=args.strategy, per_article=args.per_article,
                            seed=args.seed, fmt=args.format, text_field=args.text_field, id_field=args.id_field,
                            batch_size=args.batch_size, overwrite=args.overwrite)
    run_select([args.run_dir, *args.inputs], options)
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
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run (same config) from its newest complete checkpoint")
    p.set_defaults(func=_train)

    p = sub.add_parser("evaluate", help="score a run directory: CIs, baselines, calibration, error analysis, report.md")
    p.add_argument("config", help="evaluation config, e.g. configs/eval-frame-minilm.yaml")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="override any field, e.g. data_file=x.jsonl")
    p.set_defaults(func=_evaluate)

    p = sub.add_parser("predict", help="label paragraphs of new articles (txt folders, jsonl, csv, html), streaming")
    p.add_argument("paths", nargs="+", metavar="RUN_DIR... INPUT...",
                   help="one or more run directories, then input files or folders")
    p.add_argument("--output", "-o", required=True, help="paragraph records; summaries go to <stem>.articles<suffix>")
    p.add_argument("--format", default="jsonl", choices=["jsonl", "csv", "label-studio"],
                   help="label-studio: a JSON array of tasks with the predictions as pre-annotations")
    p.add_argument("--text-field", default="text", help="text column of .jsonl/.csv inputs")
    p.add_argument("--id-field", default=None, help="article-id column of .jsonl/.csv inputs")
    p.add_argument("--batch-size", type=int, default=16, help="paragraph windows per forward pass")
    p.add_argument("--buffer", type=int, default=1024, help="paragraphs read, sorted by length and written at a time")
    p.add_argument("--shard", default=None, metavar="I/N", help="process the I-th of N deterministic parts (1-based)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run from its last finished buffer")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--on-error", default="stop", choices=["stop", "skip"],
                   help="a bad input file stops the run (nothing written) or is reported and skipped")
    p.add_argument("--backend", default="torch", choices=["torch", "onnx", "onnx-int8"])
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores)")
    p.set_defaults(func=_predict)

    p = sub.add_parser("select", help="choose the paragraphs most worth labelling next (uncertainty sampling)")
    p.add_argument("run_dir", help="the run that scores the paragraphs")
    p.add_argument("inputs", nargs="+", metavar="UNLABELLED", help="unlabelled inputs, as for predict")
    p.add_argument("--n", type=int, default=200, help="how many paragraphs to choose")
    p.add_argument("--strategy", default="entropy", choices=["entropy", "margin", "random"],
                   help="entropy of the probabilities; margin: smallest top-2 gap first; random: a seeded sample")
    p.add_argument("--per-article", type=int, default=None, metavar="K", help="at most K paragraphs per article")
    p.add_argument("--seed", type=int, default=0, help="seeds the random strategy")
    p.add_argument("--format", default="jsonl", choices=["label-studio", "doccano", "jsonl"],
                   help="import format of the labelling tool (jsonl: our schema, without labels)")
    p.add_argument("--output", "-o", required=True)
    p.add_argument("--text-field", default="text", help="text column of .jsonl/.csv inputs")
    p.add_argument("--id-field", default="article_id", help="article-id column of .jsonl/.csv inputs")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=_select)

    p = sub.add_parser("export", help="export a run to ONNX (optionally int8-quantised) for `predict --backend onnx`")
    p.add_argument("run_dir")
    p.add_argument("--onnx", action="store_true", help="write RUN_DIR/onnx/model.onnx")
    p.add_argument("--int8", action="store_true", help="also write a dynamically int8-quantised model.int8.onnx")
    p.set_defaults(func=_export)

    p = sub.add_parser("merge", help="combine --shard outputs into one file")
    p.add_argument("parts", nargs="+")
    p.add_argument("--output", "-o", required=True)
    p.set_defaults(func=_merge)

    p = sub.add_parser("cv", help="grouped (by article) stratified K-fold cross-validation of the full recipe")
    p.add_argument("config", help="training config, e.g. configs/frame-minilm.yaml")
    p.add_argument("overrides", nargs="*", metavar="key.sub=value")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=_cv)

    p = sub.add_parser("card", help="(re)write the Hugging Face model card README.md of a run directory")
    p.add_argument("run_dir")
    p.set_defaults(func=_card)

    p = sub.add_parser("push", help="upload a run directory to the Hugging Face Hub")
    p.add_argument("run_dir")
    p.add_argument("--repo-id", required=True, help="ORG/NAME of the model repository")
    p.add_argument("--private", action="store_true", help="create the repository as private")
    p.set_defaults(func=_push)

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
    i = data_sub.add_parser("import", help="convert a Label Studio or doccano export into our JSONL, checked against "
                                           "the codebook; reports every skipped item")
    i.add_argument("export", help="Label Studio JSON / JSON-MIN export, or doccano JSONL export")
    i.add_argument("--format", required=True, choices=["label-studio", "doccano"])
    i.add_argument("--output", "-o", required=True, help="our JSONL, written only when complete")
    i.add_argument("--mapping", default=None,
                   help="YAML: their control and label names -> ours (configs/mappings/label-studio-example.yaml)")
    i.add_argument("--overwrite", action="store_true")
    i.set_defaults(func=_data_import)
    x = data_sub.add_parser("ls-config", help="write a Label Studio labelling config for frame, frames and stance")
    x.add_argument("--output", "-o", default=None, help="XML file (default: print it)")
    x.set_defaults(func=_data_ls_config)
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
