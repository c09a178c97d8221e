"""The `lifa` command line: the quick main job and bad input."""

import argparse
import json
import pathlib
import pickle
import struct
import subprocess
import sys

import pytest

from lifa_jax.cli import main


def run_cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "lifa_jax.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=900
    )


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("quick") / "run"
    result = run_cli("run", "--quick", "--out", str(out))
    return out, result


def test_quick_run_writes_outputs(quick_run):
    out, result = quick_run
    assert result.returncode == 0, result.stderr
    for name in ("summary.json", "report.md", "ft_vs_rate.png", "raster.png", "model.eqx", "masks.json"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text())
    for key in (
        "dataset",
        "topology",
        "neurons",
        "synapses",
        "synapses_paper_convention",
        "astrocytes",
        "accuracy_fault_free",
        "sweep",
        "avg_spike_frequency_hz",
        "macs_per_step",
        "latency_s_per_sample",
        "throughput_neurons_per_s",
        "seed",
        "versions",
    ):
        assert key in summary, key
    assert summary["topology"] == [64, 128, 10]
    assert summary["synapses"] == 64 * 128 + 128 * 10
    assert summary["synapses_paper_convention"] == 2 * summary["synapses"]
    entry = summary["sweep"][0]
    for key in (
        "fault",
        "rate",
        "masks",
        "accuracy_no_repair",
        "accuracy_repair",
        "ft_no_repair",
        "ft_repair",
        "deviation",
        "recovery",
    ):
        assert key in entry, key
    assert set(entry["accuracy_repair"]) >= {"mean", "ci95"}
    assert {e["fault"] for e in summary["sweep"]} == {"neuron_dead", "synapse_dead"}
    assert "fault-free accuracy" in result.stdout
    report = (out / "report.md").read_text()
    assert "Table I" in report
    assert "| fault | rate |" in report


@pytest.mark.slow
def test_checkpoint_reuse_gives_same_fault_free_accuracy(quick_run, tmp_path):
    out, _ = quick_run
    again = tmp_path / "again"
    result = run_cli(
        "run", "--quick", "--checkpoint", str(out / "model.eqx"), "--masks", "2", "--rates", "0", "--out", str(again)
    )
    assert result.returncode == 0, result.stderr
    first = json.loads((out / "summary.json").read_text())
    second = json.loads((again / "summary.json").read_text())
    assert second["accuracy_fault_free"] == first["accuracy_fault_free"]


def test_existing_output_folder_is_refused(quick_run):
    out, _ = quick_run
    before = sorted(p.name for p in out.iterdir())
    code = main(["run", "--quick", "--out", str(out)])
    assert code == 2
    assert sorted(p.name for p in out.iterdir()) == before


def write_idx(path: pathlib.Path, magic: bytes, dims: list[int], payload: bytes) -> None:
    path.write_bytes(magic + struct.pack(f">{len(dims)}I", *dims) + payload)


BAD_INPUTS = [
    (["--steps", "0"], "--steps must be positive, got 0"),
    (["--tau-n", "-5"], "--tau-n must be positive, got -5.0"),
    (["--tau-c", "0"], "--tau-c must be positive"),
    (["--rates", "0,1.5"], r"--rates must lie in \[0, 1\], got \[1.5\]"),
    (["--rates", "0,abc"], "--rates must be comma-separated numbers"),
    (["--topology", "64,100,5"], "does not match the digits data"),
    (["--masks", "0"], "--masks must be positive, got 0"),
    (["--faults", "neuron_zombie"], "unknown fault kind 'neuron_zombie'"),
    (["--dataset", "mnist"], "--dataset mnist needs --data-path"),
]


@pytest.mark.parametrize("args, message", BAD_INPUTS, ids=[a[0] for a, _ in BAD_INPUTS])
def test_bad_input_exits_2_without_output(tmp_path, capsys, args, message):
    out = tmp_path / "out"
    code = main(["run", "--quick", "--out", str(out), *args])
    err = capsys.readouterr().err
    assert code == 2
    assert pytest.importorskip("re").search(message, err), err
    assert "Traceback" not in err
    assert not out.exists()
    assert not any(p.name.endswith(".partial") for p in tmp_path.iterdir())


def test_wrong_idx_magic(tmp_path, capsys):
    data = tmp_path / "mnist"
    data.mkdir()
    for name, count in (("train", 3), ("t10k", 2)):
        write_idx(data / f"{name}-images-idx3-ubyte", b"\x00\x00\x09\x03", [count, 2, 2], bytes(4 * count))
        write_idx(data / f"{name}-labels-idx1-ubyte", b"\x00\x00\x08\x01", [count], bytes(count))
    code = main(["run", "--quick", "--dataset", "mnist", "--data-path", str(data), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2
    assert "train-images-idx3-ubyte" in err
    assert len(err.strip().splitlines()) <= 2  # the one-line error (and at most a progress line)
    assert not (tmp_path / "o").exists()


def test_truncated_cifar_pickle(tmp_path, capsys):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    blob = pickle.dumps({b"data": bytes(3072), b"fine_labels": [0]}, protocol=2)
    (folder / "train").write_bytes(blob[: len(blob) // 2])
    (folder / "test").write_bytes(blob)
    code = main(["run", "--quick", "--dataset", "cifar100", "--data-path", str(folder), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2
    assert "train" in err
    assert "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_missing_data_folder(tmp_path, capsys):
    code = main(["run", "--dataset", "mnist", "--data-path", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")])
    assert code == 2
    assert "nowhere" in capsys.readouterr().err


def test_help_names_units(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "(ms)" in text
    assert "[0, 1]" in text
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "run" in capsys.readouterr().out


def test_module_entry_point_prints_help():
    top = run_cli("--help")
    assert top.returncode == 0
    assert "sweep" in top.stdout


def test_staged_output_publishes_on_success(tmp_path):
    from lifa_jax.cli.common import staged_output

    out = tmp_path / "results"
    with staged_output(out, overwrite=False) as staging:
        (staging / "summary.json").write_text("{}")
    assert (out / "summary.json").read_text() == "{}"
    assert [p.name for p in tmp_path.iterdir()] == ["results"]


def test_staged_output_failure_keeps_old_results(tmp_path):
    from lifa_jax.cli.common import staged_output

    out = tmp_path / "results"
    out.mkdir()
    (out / "summary.json").write_text("old")
    with pytest.raises(RuntimeError, match="boom"):
        with staged_output(out, overwrite=True) as staging:
            (staging / "half.txt").write_text("half")
            raise RuntimeError("boom")
    assert [p.name for p in out.iterdir()] == ["summary.json"]
    assert [p.name for p in tmp_path.iterdir()] == ["results"]


def test_staged_output_rejects_non_empty_folder(tmp_path):
    from lifa_jax.cli.common import UserError, staged_output

    (tmp_path / "old.txt").write_text("old")
    with pytest.raises(UserError, match="not empty; choose another --out or pass --overwrite"):
        with staged_output(tmp_path, overwrite=False):
            pass
    assert [p.name for p in tmp_path.iterdir()] == ["old.txt"]


@pytest.mark.parametrize("overwrite", [False, True])
def test_staged_output_rejects_current_folder(tmp_path, monkeypatch, overwrite):
    from lifa_jax.cli.common import UserError, staged_output

    monkeypatch.chdir(tmp_path)
    for out in (pathlib.Path("."), pathlib.Path("..")):
        with pytest.raises(UserError, match="is the current folder or contains it"):
            with staged_output(out, overwrite=overwrite):
                pass
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "argv, expected, hint",
    [
        (["sweep", "--dataset", "foo"], "argument --dataset: invalid choice: 'foo'", "lifa sweep --help"),
        (["sweep", "--masks", "abc"], "argument --masks: invalid int value: 'abc'", "lifa sweep --help"),
        (["sweep", "--rates", "-0.1,0.2"], "write --rates=VALUE for a value that starts with '-'", "lifa sweep --help"),
        # An option the subcommand does not define points to the subcommand's help.
        (["run", "--no-such-option"], "lifa run: error: unrecognized arguments: --no-such-option", "lifa run --help"),
        (["energy", "--max-train", "30"], "unrecognized arguments: --max-train 30", "lifa energy --help"),
        (["--no-such-option"], "lifa: error: unrecognized arguments: --no-such-option", "lifa --help"),
    ],
    ids=["choice", "type", "negative-value", "unknown-option", "other-command-option", "top-level"],
)
def test_usage_errors_are_one_line(argv, expected, hint, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert expected in err
    assert f"run '{hint}' for the options" in err


def test_help_names_each_default_once(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: None)" not in text
    assert text.count("runs/run-<timestamp>") == 1


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["sweep", "--rates", "0,0.1,0.1"], "--rates repeats [0.1]"),
        (["sweep", "--faults", "neuron_dead,neuron_dead"], "--faults repeats ['neuron_dead']"),
        (["run", "--rates", "0,0.1,0.1"], "--rates repeats [0.1]"),
    ],
    ids=["sweep-rates", "sweep-faults", "run-rates"],
)
def test_repeated_rates_or_faults_rejected(argv, expected, tmp_path, capsys):
    out = tmp_path / "out"
    assert main([*argv, "--quick", "--out", str(out)]) == 2
    assert expected in capsys.readouterr().err
    assert not out.exists()


def test_dataset_choices_match_loaders():
    from lifa_jax.cli import build_parser
    from lifa_jax.data import DATASET_NAMES

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    for name in ("run", "sweep"):
        option = next(a for a in commands[name]._actions if "--dataset" in a.option_strings)
        assert sorted(option.choices) == sorted(DATASET_NAMES), name


def test_overwrite_keeps_foreign_folder(tmp_path, capsys):
    out = tmp_path / "thesis"
    out.mkdir()
    (out / "thesis.tex").write_text("chapter 1")
    for command in (["run", "--quick"], ["sweep", "--quick"], ["memory", "--quick"]):
        assert main([*command, "--out", str(out), "--overwrite"]) == 2, command
        err = capsys.readouterr().err
        assert "--overwrite replaces only a folder of earlier results" in err, command
        assert "Traceback" not in err
        assert [p.name for p in out.iterdir()] == ["thesis.tex"], command
        assert (out / "thesis.tex").read_text() == "chapter 1"


def test_overwrite_replaces_earlier_results(tmp_path):
    from lifa_jax.cli.common import staged_output

    out = tmp_path / "results"
    out.mkdir()
    (out / "summary.json").write_text("old")
    (out / "plot.png").write_bytes(b"old")
    with staged_output(out, overwrite=True) as staging:
        (staging / "summary.json").write_text("new")
    assert sorted(p.name for p in out.iterdir()) == ["summary.json"]
    assert (out / "summary.json").read_text() == "new"


def test_out_folder_under_a_file(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    out = tmp_path / "afile" / "sub"
    for command in (["run", "--quick"], ["sweep", "--quick"]):
        assert main([*command, "--out", str(out)]) == 2, command
        err = capsys.readouterr().err
        assert f"cannot create output folder {str(out)!r} ({tmp_path / 'afile'} is a file)" in err, command
        assert "Traceback" not in err
    assert (tmp_path / "afile").read_text() == "x"


def test_default_out_dir_skips_existing(tmp_path, monkeypatch):
    from lifa_jax.cli.common import default_out_dir

    monkeypatch.chdir(tmp_path)
    first = default_out_dir("fit")
    first.mkdir(parents=True)
    second = default_out_dir("fit")
    assert second != first
    # Within the same second the name gets a counter; in the next second a new timestamp.
    assert second.name.startswith("fit-")
    assert not second.exists()
