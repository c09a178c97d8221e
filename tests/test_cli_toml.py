"""`lifa sweep --config FILE.toml`: paths, keys and messages; interrupted and resumed campaigns."""

import io
import json
import re
import struct

import jax
import numpy as np
import pytest

from lifa_jax import pipeline
from lifa_jax.campaign import CampaignConfig, chunk_path, write_campaign_file
from lifa_jax.cli import main
from lifa_jax.io import atomic_write_bytes, save_checkpoint
from lifa_jax.network import SpikingNetwork

SMALL = 'faults = "synapse_dead"\nrates = [0.1]\nmasks = 2\nchunk_size = 2\nmax_test = 30\nrepair = false\n'


def save_small_network(path) -> None:
    save_checkpoint(path, SpikingNetwork.init([64, 24, 10], key=jax.random.key(0), domain_size=8))


def interrupted(*args, **kwargs):
    raise KeyboardInterrupt


@pytest.fixture
def no_campaign(monkeypatch):
    """Replace the campaign itself with a stub, so a test stops after the checks and campaign.json."""
    calls = []

    def record(config, folder, network, data, source, **kwargs):
        calls.append({"config": config, "network": network, "source": source})
        return 0

    monkeypatch.setattr("lifa_jax.cli.sweep._execute", record)
    return calls


def test_toml_checkpoint_relative_to_file(tmp_path, monkeypatch, no_campaign):
    folder = tmp_path / "configs"
    folder.mkdir()
    save_small_network(folder / "model.eqx")
    (folder / "sweep.toml").write_text('checkpoint = "model.eqx"\n' + SMALL)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    assert main(["sweep", "--config", "../configs/sweep.toml", "--out", "run"]) == 0
    expected = "../configs/model.eqx"
    assert no_campaign[0]["source"] == expected
    assert no_campaign[0]["network"] is not None
    stored = json.loads((elsewhere / "run" / "campaign.json").read_text())
    assert stored["config"]["checkpoint"] == expected


def test_toml_checkpoint_absolute_unchanged(tmp_path, monkeypatch, no_campaign):
    checkpoint = tmp_path / "models" / "model.eqx"
    checkpoint.parent.mkdir()
    save_small_network(checkpoint)
    config = tmp_path / "configs" / "sweep.toml"
    config.parent.mkdir()
    config.write_text(f"checkpoint = {json.dumps(str(checkpoint))}\n" + SMALL)
    monkeypatch.chdir(tmp_path)

    assert main(["sweep", "--config", str(config), "--out", "run"]) == 0
    assert no_campaign[0]["source"] == str(checkpoint)


def test_toml_checkpoint_missing_names_resolved_path(tmp_path, capsys):
    config = tmp_path / "configs" / "sweep.toml"
    config.parent.mkdir()
    config.write_text('checkpoint = "absent.eqx"\n' + SMALL)
    out = tmp_path / "run"
    assert main(["sweep", "--config", str(config), "--out", str(out)]) == 2
    assert str(config.parent / "absent.eqx") in capsys.readouterr().err
    assert not out.exists()


def write_small_mnist(folder) -> None:
    """Write a 12-image MNIST training set and a 5-image test set of 4 x 3 pixels in IDX format."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name, count in (("train", 12), ("t10k", 5)):
        images = rng.integers(0, 256, (count, 4, 3), dtype=np.uint8)
        labels = rng.integers(0, 10, count, dtype=np.uint8)
        (folder / f"{name}-images-idx3-ubyte").write_bytes(
            bytes([0, 0, 8, 3]) + struct.pack(">3I", count, 4, 3) + images.tobytes()
        )
        (folder / f"{name}-labels-idx1-ubyte").write_bytes(
            bytes([0, 0, 8, 1]) + struct.pack(">I", count) + labels.tobytes()
        )


def test_toml_data_path_relative_to_file(tmp_path, monkeypatch, no_campaign):
    folder = tmp_path / "configs"
    write_small_mnist(folder / "mnist")
    (folder / "sweep.toml").write_text('dataset = "mnist"\ndata_path = "mnist"\nbatch_size = 4\n' + SMALL)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    assert main(["sweep", "--config", "../configs/sweep.toml", "--out", "run"]) == 0
    assert no_campaign[0]["config"].run.data_path == "../configs/mnist"
    stored = json.loads((elsewhere / "run" / "campaign.json").read_text())
    assert stored["config"]["run"]["data_path"] == "../configs/mnist"


def test_toml_data_path_missing_names_resolved_path(tmp_path, monkeypatch, capsys):
    config = tmp_path / "configs" / "sweep.toml"
    config.parent.mkdir()
    config.write_text('dataset = "mnist"\ndata_path = "absent"\n' + SMALL)
    monkeypatch.chdir(tmp_path)
    assert main(["sweep", "--config", str(config), "--out", "run"]) == 2
    err = capsys.readouterr().err
    assert str(config.parent / "absent") in err
    assert "Traceback" not in err
    assert not (tmp_path / "run").exists()


def test_batch_larger_than_training_set(tmp_path, capsys):
    data = tmp_path / "mnist"
    write_small_mnist(data)
    out = tmp_path / "run"
    for command in ("run", "sweep"):
        code = main([command, "--dataset", "mnist", "--data-path", str(data), "--out", str(out)])
        err = capsys.readouterr().err
        assert code == 2, command
        assert "--batch-size must be at most the 12 training samples of the mnist data, got 64; pass 12 or less." in err
        assert "Traceback" not in err
        assert not out.exists(), command


def test_sweep_batch_size_option_and_key(tmp_path, no_campaign):
    data = tmp_path / "mnist"
    write_small_mnist(data)
    base = ["sweep", "--dataset", "mnist", "--data-path", str(data)] + ["--faults", "synapse_dead", "--no-repair"]
    assert main([*base, "--batch-size", "12", "--out", str(tmp_path / "a")]) == 0
    assert no_campaign[-1]["config"].run.batch_size == 12
    config = tmp_path / "sweep.toml"
    config.write_text('dataset = "mnist"\ndata_path = "mnist"\nbatch_size = 8\n' + SMALL)
    assert main(["sweep", "--config", str(config), "--out", str(tmp_path / "b")]) == 0
    assert no_campaign[-1]["config"].run.batch_size == 8
    stored = json.loads((tmp_path / "b" / "campaign.json").read_text())
    assert stored["config"]["run"]["batch_size"] == 8


def test_unreadable_config_file(tmp_path, capsys):
    folder = tmp_path / "configs"
    folder.mkdir()
    binary = tmp_path / "sweep.toml"
    binary.write_bytes(b"\xff\xfe masks = 2\n")
    for path in (folder, binary):
        out = tmp_path / "run"
        assert main(["sweep", "--config", str(path), "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert f"config file {str(path)!r} cannot be read" in err
        assert "pass a TOML file to --config" in err
        assert "Traceback" not in err
        assert not out.exists()


def test_toml_quick_key(tmp_path, no_campaign):
    config = tmp_path / "sweep.toml"
    checkpoint = tmp_path / "model.eqx"
    save_small_network(checkpoint)
    cases = {
        "quick = true\n": (8, (0.0, 0.1, 0.3), 12),
        "quick = true\nmasks = 4\n": (4, (0.0, 0.1, 0.3), 12),
        "quick = false\n": (100, (0.0, 0.05, 0.1, 0.2, 0.3, 0.5), 30),
    }
    for index, (text, (masks, rates, epochs)) in enumerate(cases.items()):
        config.write_text(text + 'faults = "synapse_dead"\nrepair = false\nmax_test = 30\ncheckpoint = "model.eqx"\n')
        assert main(["sweep", "--config", str(config), "--out", str(tmp_path / f"run{index}")]) == 0, text
        campaign = no_campaign[-1]["config"]
        assert campaign.masks == masks, text
        assert campaign.rates == rates, text
        assert campaign.run.epochs == epochs, text

    # --quick on the command line wins over quick = false in the file.
    assert main(["sweep", "--config", str(config), "--quick", "--out", str(tmp_path / "run-cli")]) == 0
    assert no_campaign[-1]["config"].masks == 8


def test_toml_quick_wrong_type(tmp_path, capsys):
    config = tmp_path / "sweep.toml"
    out = tmp_path / "run"
    for value, printed in (('"yes"', "'yes'"), ("1", "1")):
        config.write_text(f"quick = {value}\n")
        assert main(["sweep", "--config", str(config), "--out", str(out)]) == 2
        assert f"quick in '{config}' must be true or false, got {printed}" in capsys.readouterr().err
    assert not out.exists()


def test_toml_run_settings_name_file(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(pipeline, "prepare_data", lambda *a, **k: pytest.fail("the data were loaded"))
    config = tmp_path / "sweep.toml"
    out = tmp_path / "run"
    cases = {
        "max_test = 0\n": f"max_test in '{config}' must be at least 1, got 0; omit it to use all samples.",
        "max_test = -5\n": f"max_test in '{config}' must be at least 1, got -5",
        "steps = 0\n": f"steps in '{config}' must be positive, got 0",
        "epochs = -1\n": f"epochs in '{config}' must be positive, got -1",
    }
    for text, expected in cases.items():
        config.write_text(text)
        assert main(["sweep", "--config", str(config), "--out", str(out)]) == 2, text
        err = capsys.readouterr().err
        assert expected in err, err
        assert "--max-test" not in err
    assert not out.exists()

    # A value given as an option keeps the option's name.
    config.write_text("steps = 10\n")
    assert main(["sweep", "--config", str(config), "--max-test", "0", "--out", str(out)]) == 2
    assert "--max-test must be at least 1, got 0" in capsys.readouterr().err
    assert not out.exists()


def test_run_config_rejects_max_samples():
    for field, flag in (("max_test", "--max-test"), ("max_train", "--max-train")):
        for value in (0, -1, True, 2.5):
            with pytest.raises(ValueError, match=f"{flag} must be at least 1"):
                pipeline.RunConfig(**{field: value}).validate()
        pipeline.RunConfig(**{field: 1}).validate()
        pipeline.RunConfig(**{field: np.int64(3)}).validate()


ENGINE_CASES = {
    "repair-default": (
        'engine = "event"\nfaults = "synapse_dead"\n',
        [],
        "engine = \"event\" in '{0}' does not evaluate repair; set repair = false or engine = \"dense\" in '{0}'.",
    ),
    "repair-toml": (
        'faults = "synapse_dead"\nrepair = true\n',
        ["--engine", "differential"],
        "--engine differential does not evaluate repair (repair = true in '{0}'); set repair = false in '{0}' "
        "or pass --engine dense.",
    ),
    "faults-default": (
        'engine = "event"\nrepair = false\n',
        [],
        "engine = \"event\" in '{0}' does not support fault kind 'neuron_dead'; it supports synapse_dead, "
        'synapse_saturated, synapse_bitflip_fixed, synapse_bitflip_float. Set faults = ["synapse_dead"] or '
        "engine = \"dense\" in '{0}'.",
    ),
    "faults-option": (
        'engine = "event"\nrepair = false\n',
        ["--faults", "neuron_dead,synapse_dead"],
        "engine = \"event\" in '{0}' does not support fault kind 'neuron_dead'; it supports synapse_dead, "
        "synapse_saturated, synapse_bitflip_fixed, synapse_bitflip_float. Remove the kind from --faults or "
        "set engine = \"dense\" in '{0}'.",
    ),
    "faults-toml": (
        'faults = ["synapse_dead", "astrocyte_dead"]\nrepair = false\n',
        ["--engine", "event"],
        "--engine event does not support fault kind 'astrocyte_dead'; it supports synapse_dead, "
        'synapse_saturated, synapse_bitflip_fixed, synapse_bitflip_float. Set faults = ["synapse_dead"] in '
        "'{0}' or pass --engine dense.",
    ),
    "transient-toml": (
        'engine = "event"\nfaults = "synapse_dead"\nrepair = false\ntransient = true\n',
        [],
        "engine = \"event\" in '{0}' does not support transient faults (transient = true in '{0}'); "
        "set transient = false or engine = \"dense\" in '{0}'.",
    ),
    "transient-option": (
        'engine = "event"\nfaults = "synapse_dead"\nrepair = false\n',
        ["--transient"],
        "engine = \"event\" in '{0}' does not support --transient faults; set engine = \"dense\" in '{0}'.",
    ),
    "devices-toml": (
        'faults = "synapse_dead"\nrepair = false\ndevices = 2\n',
        ["--engine", "event"],
        "--engine event runs on one device (devices = 2 in '{0}'); set devices = 1 in '{0}' or pass --engine dense.",
    ),
    "devices-option": (
        'engine = "differential"\nfaults = "synapse_dead"\nrepair = false\n',
        ["--devices", "2"],
        "engine = \"differential\" in '{0}' runs on one device; pass --devices 1 or set engine = \"dense\" in '{0}'.",
    ),
}


@pytest.mark.parametrize("text, options, expected", ENGINE_CASES.values(), ids=ENGINE_CASES.keys())
def test_toml_engine_checks_name_keys(tmp_path, capsys, text, options, expected):
    config = tmp_path / "sweep.toml"
    config.write_text(text)
    out = tmp_path / "run"
    assert main(["sweep", "--config", str(config), *options, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"lifa sweep: error: {expected.format(config)}"
    assert not out.exists()


def test_engine_checks_keep_option_wording(tmp_path, capsys):
    out = tmp_path / "run"
    base = ["sweep", "--faults", "synapse_dead", "--engine", "event", "--out", str(out)]
    cases = {
        (): "--engine event does not evaluate repair; add --no-repair or pass --engine dense.",
        ("--no-repair", "--transient"): "--engine event does not support --transient faults; pass --engine dense.",
        ("--no-repair", "--devices", "2"): "--engine event runs on one device; pass --devices 1 or --engine dense.",
        ("--no-repair", "--faults", "neuron_dead"): (
            "--engine event does not support fault kind 'neuron_dead'; it supports synapse_dead, synapse_saturated, "
            "synapse_bitflip_fixed, synapse_bitflip_float. Remove the kind from --faults or pass --engine dense."
        ),
    }
    for extra, expected in cases.items():
        assert main([*base, *extra]) == 2, extra
        assert capsys.readouterr().err.strip() == f"lifa sweep: error: {expected}"
    assert not out.exists()


def test_toml_unknown_dataset(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(pipeline, "prepare_data", lambda *a, **k: pytest.fail("the data were loaded"))
    config = tmp_path / "sweep.toml"
    out = tmp_path / "run"
    for text in ('dataset = "cifar10"\n', 'dataset = "cifar10"\ndata_path = "data"\n', 'dataset = "Digits"\n'):
        config.write_text(text)
        assert main(["sweep", "--config", str(config), "--out", str(out)]) == 2, text
        err = capsys.readouterr().err
        value = re.search(r'dataset = "(.*)"', text).group(1)
        assert (
            f"dataset in '{config}': unknown data set {value!r}; use one of: cifar100, digits, fashion-mnist, mnist."
            in err
        )
    assert not out.exists()


def test_interrupt_in_training_says_model_unsaved(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(pipeline, "train_network", interrupted)
    out = tmp_path / "run"
    args = ["sweep", "--faults", "synapse_dead", "--rates", "0.1", "--masks", "2", "--chunk-size", "2"]
    assert main([*args, "--no-repair", "--max-test", "30", "--epochs", "3", "--out", str(out)]) == 130
    err = capsys.readouterr().err
    assert (
        "lifa sweep: interrupted before the trained model was saved (model.eqx is written when training ends), "
        f"so --resume trains it again (seed 0, 3 epochs). Continue with: lifa sweep --resume {out}"
    ) in err
    assert (out / "campaign.json").is_file()
    assert not (out / "model.eqx").exists()


def test_interrupt_with_checkpoint_keeps_message(tmp_path, capsys, monkeypatch):
    checkpoint = tmp_path / "model.eqx"
    save_small_network(checkpoint)
    monkeypatch.setattr("lifa_jax.cli.sweep._execute", interrupted)
    out = tmp_path / "run"
    args = ["sweep", "--checkpoint", str(checkpoint), "--faults", "synapse_dead", "--rates", "0.1", "--masks", "2"]
    assert main([*args, "--no-repair", "--max-test", "30", "--out", str(out)]) == 130
    err = capsys.readouterr().err
    assert f"interrupted; finished chunks, if any, are kept in {out}. Continue with" in err
    assert "trains it again" not in err


def test_resume_chunks_without_model_warns(tmp_path, capsys, monkeypatch):
    folder = tmp_path / "campaign"
    config = CampaignConfig(faults=("synapse_dead",), rates=(0.1, 0.2), masks=2, chunk_size=2, repair=False)
    write_campaign_file(folder, config)
    buffer = io.BytesIO()
    accuracy = np.array([0.8, 0.7], np.float32)
    np.savez(buffer, accuracy_no_repair=accuracy, accuracy_repair=accuracy, status=np.zeros(2, np.int32))
    atomic_write_bytes(chunk_path(folder, "synapse_dead", 0, 0), buffer.getvalue())
    monkeypatch.setattr(pipeline, "train_network", interrupted)

    assert main(["sweep", "--resume", str(folder)]) == 130
    lines = capsys.readouterr().err.splitlines()
    warning = [line for line in lines if "warning" in line]
    assert warning == [
        f"lifa sweep: warning: {folder} contains 1 chunk file but no model.eqx, so the model is trained again "
        "from the stored seed 0; the chunks already written were computed with the earlier model, so delete "
        f"{folder / 'chunks'} to recompute them with the new one"
    ]
    assert not any("which is saved only when training ends" in line for line in lines)


def test_resume_relative_checkpoint_elsewhere(tmp_path, monkeypatch):
    (tmp_path / "models").mkdir()
    save_small_network(tmp_path / "models" / "model.eqx")
    monkeypatch.chdir(tmp_path)
    args = ["sweep", "--checkpoint", "models/model.eqx", "--faults", "synapse_dead", "--rates", "0.1", "--masks", "2"]
    assert main([*args, "--no-repair", "--max-test", "30", "--out", "run"]) == 0
    folder = tmp_path / "run"
    before = (folder / "sweep.nc").read_bytes()
    summary = json.loads((folder / "summary.json").read_text())
    # An interrupted campaign: its last chunk and the outputs are missing.
    chunks = sorted((folder / "chunks").rglob("*.npz"))
    chunks[-1].unlink()
    (folder / "sweep.nc").unlink()

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert main(["sweep", "--resume", str(folder)]) == 0
    assert (folder / "sweep.nc").read_bytes() == before
    assert json.loads((folder / "summary.json").read_text())["model_source"] == summary["model_source"]


def test_overwrite_ignores_old_model(tmp_path, monkeypatch, no_campaign):
    folder = tmp_path / "run"
    write_campaign_file(folder, CampaignConfig(faults=("synapse_dead",), rates=(0.1,), masks=2, repair=False))
    save_checkpoint(folder / "model.eqx", SpikingNetwork.init([64, 8, 10], key=jax.random.key(1), domain_size=4))
    args = ["sweep", "--faults", "synapse_dead", "--rates", "0.1", "--masks", "2", "--no-repair", "--max-test", "30"]
    assert main([*args, "--out", str(folder), "--overwrite"]) == 0
    # A new campaign trains its own model instead of reading the model.eqx it replaces.
    assert no_campaign[-1]["network"] is None
    assert no_campaign[-1]["source"] is None


def test_overwrite_keeps_checkpoint_inside_out(tmp_path, capsys):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "summary.json").write_text("{}")
    save_small_network(folder / "model.eqx")
    for command in (["sweep", "--faults", "synapse_dead", "--no-repair"], ["run", "--quick"]):
        code = main([*command, "--checkpoint", str(folder / "model.eqx"), "--out", str(folder), "--overwrite"])
        assert code == 2, command
        err = capsys.readouterr().err
        assert f"--overwrite would delete {str(folder / 'model.eqx')!r}" in err, command
        assert sorted(p.name for p in folder.iterdir()) == ["model.eqx", "summary.json"]


def test_resume_without_model_names_start_folder(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "run"
    config = CampaignConfig(
        faults=("synapse_dead",), rates=(0.1,), masks=2, chunk_size=2, repair=False, checkpoint="models/model.eqx"
    )
    write_campaign_file(folder, config)
    monkeypatch.chdir(tmp_path)
    assert main(["sweep", "--resume", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "checkpoint 'models/model.eqx' not found" in err
    assert "relative to the folder the campaign was started from; resume from that folder" in err


def test_toml_command_line_only_key(tmp_path, capsys):
    config = tmp_path / "sweep.toml"
    for key, value in (("out", '"x"'), ("overwrite", "true"), ("resume", '"x"')):
        config.write_text(f"{key} = {value}\n" + SMALL)
        assert main(["sweep", "--config", str(config), "--out", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err
        assert f"{key} in {str(config)!r} is a command-line option only; drop it and pass --{key} instead." in err
    assert not (tmp_path / "o").exists()


def test_batch_message_names_max_train(tmp_path, capsys):
    data = tmp_path / "mnist"
    write_small_mnist(data)
    args = ["run", "--dataset", "mnist", "--data-path", str(data), "--max-train", "10", "--out", str(tmp_path / "o")]
    assert main(args) == 2
    assert (
        "--batch-size must be at most the 10 training samples of the mnist data, got 64; pass 10 or less or raise --max-train."
        in capsys.readouterr().err
    )


def test_run_checkpoint_for_other_data(tmp_path, capsys):
    data = tmp_path / "mnist"
    write_small_mnist(data)
    save_small_network(tmp_path / "model.eqx")
    args = [
        "run",
        "--quick",
        "--dataset",
        "mnist",
        "--data-path",
        str(data),
        "--checkpoint",
        str(tmp_path / "model.eqx"),
    ]
    assert main([*args, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "has topology [64, 24, 10], which does not match the mnist data (12 inputs, 10 classes)" in err
    assert "--topology" not in err
    assert not (tmp_path / "o").exists()


def test_batch_message_names_toml_key(tmp_path, capsys):
    folder = tmp_path / "configs"
    write_small_mnist(folder / "mnist")
    config = folder / "sweep.toml"
    config.write_text('dataset = "mnist"\ndata_path = "mnist"\nbatch_size = 32\n' + SMALL)
    assert main(["sweep", "--config", str(config), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert (
        f"batch_size in {str(config)!r} must be at most the 12 training samples of the mnist data, got 32; pass 12 or less."
        in err
    )
    assert not (tmp_path / "o").exists()
