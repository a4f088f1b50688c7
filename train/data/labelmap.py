"""Their label names -> ours: the `--mapping` file of `framing data import`, and the default without one.

Only yaml.safe_load; every problem names the file and the line to fix. Labels resolve to codebook labels or fail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from train.errors import UserError
from train.labels import CODEBOOK_LABELS, CODEBOOK_PROBLEM_TYPE, MULTI_LABEL

MAPPING_KEYS = ("fields", "labels", "text")
EXAMPLE_MAPPING = "configs/mappings/label-studio-example.yaml"
MULTI_FIELDS = tuple(f for f, kind in CODEBOOK_PROBLEM_TYPE.items() if kind == MULTI_LABEL)


class UnknownLabel(Exception):
    """A label or control the mapping cannot place: the item is skipped and reported."""


def _normalise(name: str) -> str:
    # "Counter-terrorism", "Power projection", "NONE" are our names in another spelling: no mapping needed.
    return re.sub(r"[\s\-]+", "_", name.strip()).lower()


@dataclass
class Mapping:
    """Their names -> ours. The default (no file) accepts our names, in any case, with - or space for _."""

    fields: dict[str, str] = field(default_factory=dict)   # control name or label prefix -> our field
    labels: dict[str, str] = field(default_factory=dict)   # their label -> our label, or "field:label"
    text: str = "text"                                     # the data key that holds the paragraph

    def field_of(self, control: str) -> str | None:
        if control in self.fields:
            return self.fields[control]
        return next((f for f in (control, _normalise(control)) if f in CODEBOOK_LABELS), None)

    def resolve(self, raw: str, target: str | None = None) -> tuple[str, str]:
        """(our field, our label) of one of their labels. `target` None: a `field:` prefix or the label decides."""
        name = self.labels.get(raw, raw)
        if ":" in name:
            prefix, name = name.split(":", 1)
            target = self.field_of(prefix) or prefix
            name = self.labels.get(name, name)
        label = _normalise(name)
        if target is None:
            owners = [f for f, names in CODEBOOK_LABELS.items() if label in names]
            # A flat label list (doccano) names every frame present: that is `frames`; `frame` is derived later.
            target = next((f for f in MULTI_FIELDS if f in owners), owners[0] if owners else None)
        if target not in CODEBOOK_LABELS or label not in CODEBOOK_LABELS[target]:
            known = (f"for {target!r} (codebook: {', '.join(CODEBOOK_LABELS[target])})" if target in CODEBOOK_LABELS
                     else "(not a codebook label; write field:label, e.g. stance:oppose)")
            raise UnknownLabel(f"unknown label {raw!r} {known}; map it under `labels:` in a --mapping file")
        return target, label


def _yaml_line(node, *keys) -> int | None:
    """1-based line of a (nested) key in a composed YAML mapping, so problems point at the line to fix."""
    for key in keys:
        pairs = getattr(node, "value", None)
        if not isinstance(pairs, list):
            return None
        match = next(((k, v) for k, v in pairs if getattr(k, "value", None) == key), None)
        if match is None:
            return None
        key_node, node = match
    return key_node.start_mark.line + 1 if keys else None


def load_mapping(path: str | Path | None) -> Mapping:
    """A mapping file (yaml.safe_load only), checked key by key; None gives the default mapping."""
    import yaml

    if path is None:
        return Mapping()
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: mapping file not found; see {EXAMPLE_MAPPING} for an example")
    text = path.read_text(encoding="utf-8")
    try:
        node, data = yaml.compose(text, Loader=yaml.SafeLoader), yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        raise UserError(f"{path}: {where}not valid YAML ({getattr(exc, 'problem', exc)})") from None
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping with keys {', '.join(MAPPING_KEYS)}; see {EXAMPLE_MAPPING}")

    def fail(message: str, *keys) -> UserError:
        line = _yaml_line(node, *keys)
        return UserError(f"{path}: " + (f"line {line}: " if line else "") + message)

    for key in data:
        if key not in MAPPING_KEYS:
            raise fail(f"unknown key {key!r}; use {', '.join(MAPPING_KEYS)} (see {EXAMPLE_MAPPING})", key)
    sections = {}
    for key in ("fields", "labels"):
        section = data.get(key) or {}
        if not isinstance(section, dict) or not all(isinstance(v, str) for v in section.values()):
            raise fail(f"{key!r} must map names to names, e.g. `{key}: {{their_name: our_name}}`", key)
        sections[key] = {str(k): v for k, v in section.items()}
    for control, ours in sections["fields"].items():
        if ours not in CODEBOOK_LABELS:
            raise fail(f"fields.{control}: {ours!r} is not one of our fields ({', '.join(CODEBOOK_LABELS)})",
                       "fields", control)
    mapping = Mapping(fields=sections["fields"], labels=sections["labels"], text=str(data.get("text") or "text"))
    for theirs, ours in mapping.labels.items():
        try:
            Mapping(fields=mapping.fields).resolve(ours)
        except UnknownLabel:
            raise fail(f"labels.{theirs}: {ours!r} is not a codebook label (write `label` or `field:label`, "
                       f"e.g. frame:none)", "labels", theirs) from None
    return mapping
