"""`lifa sweep` outputs and messages (report cells, flagged masks, resuming, config errors); cost-table paths."""

import io
import json
import re

import jax
import numpy as np
import pytest

from lifa_jax import pipeline
from lifa_jax.campaign import (
    CampaignConfig,
    campaign_dataset,
    campaign_records,
    chunk_bounds,
    chunk_path,
    collect_chunks,
    load_dataset,
    save_dataset,
    write_campaign_file,
)
from lifa_jax.cli import main
from lifa_jax.energy import load_cost_table
from lifa_jax.io import atomic_write_bytes, atomic_write_json, save_checkpoint
from lifa_jax.io.report import render_sweep_report
from lifa_jax.network import SpikingNetwork

OUTPUTS = ("sweep.nc", "summary.json", "report.md", "ft_vs_rate.png", "sensitivity.png")


def write_chunks(config: CampaignConfig, folder) -> None:
    """Write every chunk file of `config` with made-up accuracies."""
    rng = np.random.default_rng(0)
    for kind in config.faults:
        for r, rate in enumerate(config.rates):
            for c, (start, stop) in enumerate(chunk_bounds(config)):
                accuracy = rng.uniform(0.5, 0.9, stop - start).astype(np.float32)
                buffer = io.BytesIO()
                np.savez(
                    buffer,
                    accuracy_no_repair=accuracy,
                    accuracy_repair=accuracy,
                    status=np.zeros(stop - start, np.int32),
                    start=start,
                    stop=stop,
                    rate=rate,
                )
                atomic_write_bytes(chunk_path(folder, kind, r, c), buffer.getvalue())


def sweep_summary(config: CampaignConfig, arrays: dict, *, engine="dense", capacity=None) -> dict:
    """Return a summary.json of `lifa sweep`'s layout, filled without simulating."""
    return {
        "dataset": "digits",
        "topology": [64, 24, 10],
        "accuracy_fault_free": 0.9,
        "sweep": campaign_records(config, arrays, 0.9, key=jax.random.key(0), n_test=60),
        "repair": config.repair,
        "engine": engine,
        "capacity": capacity,
        "critical_neurons": [{"layer": 0, "neurons": [3, 1], "accuracy_drop": [0.1, 0.05]}],
        "model_source": "trained by lifa sweep",
        "timings_s": {"data": 0.5, "model": 2.0, "sweep": 3.0, "sensitivity_map": 1.0, "total": 7.0},
        "config": config.to_dict(),
        "dataset_file": "sweep.nc",
    }


@pytest.fixture
def finished_campaign(tmp_path, monkeypatch):
    """A campaign folder without repair whose chunks and outputs all exist, written without simulating.

    Loading data fails in this test, so a resume that recomputes anything fails.
    """
    folder = tmp_path / "campaign"
    config = CampaignConfig(faults=("synapse_dead",), rates=(0.0, 0.2), masks=3, chunk_size=2, repair=False)
    write_campaign_file(folder, config)
    write_chunks(config, folder)
    arrays = collect_chunks(config, folder)
    summary = sweep_summary(config, arrays)
    save_dataset(campaign_dataset(config, arrays, summary["accuracy_fault_free"]), folder / "sweep.nc")
    atomic_write_json(folder / "summary.json", summary)
    (folder / "report.md").write_text(render_sweep_report(summary))
    for name in ("ft_vs_rate.png", "sensitivity.png"):
        (folder / name).write_bytes(b"stored figure")

    def fail_on_load(*args, **kwargs):
        raise AssertionError("the resume loaded the data set")

    monkeypatch.setattr(pipeline, "prepare_data", fail_on_load)
    return folder, arrays


def test_sweep_report_names_engine():
    config = CampaignConfig(faults=("synapse_dead",), rates=(0.1,), masks=2, chunk_size=2, repair=False)
    arrays = {
        "accuracy_no_repair": np.array([[[0.8, 0.7]]], np.float32),
        "accuracy_repair": np.array([[[0.8, 0.7]]], np.float32),
        "status": np.zeros((1, 1, 2), np.int32),
    }
    dense = render_sweep_report(sweep_summary(config, arrays))
    assert "Engine: dense" in dense
    assert "Wall-clock time" in dense
    assert "sensitivity map 1.0 s" in dense
    shared = render_sweep_report(sweep_summary(config, arrays, engine="differential", capacity=4096))
    assert "Engine: differential, capacity 4096 changed spikes per mask in every hidden layer" in shared
    per_layer = render_sweep_report(sweep_summary(config, arrays, engine="differential", capacity=[4096, None]))
    assert "capacity 4096, none changed spikes per mask, one value per hidden layer" in per_layer
    unlimited = render_sweep_report(sweep_summary(config, arrays, engine="differential", capacity=None))
    assert "capacity none (a dense product" in unlimited
    # summary.json numbers layers from 0; the report names both numberings.
    assert "- layer 1 after the input (`layer` 0 in summary.json): 3 (10.0), 1 (5.0)" in dense


def test_sweep_report_lists_fault_fields():
    config = CampaignConfig(
        faults=("neuron_parametric",),
        rates=(0.1,),
        masks=2,
        chunk_size=2,
        repair=False,
        fault_options={"neuron_parametric": {"threshold_factor": 1.2}},
    )
    arrays = {
        "accuracy_no_repair": np.array([[[0.8, 0.7]]], np.float32),
        "accuracy_repair": np.array([[[0.8, 0.7]]], np.float32),
        "status": np.zeros((1, 1, 2), np.int32),
    }
    summary = sweep_summary(config, arrays)
    summary["fault_options"] = config.resolved_fault_options()
    report = render_sweep_report(summary)
    assert "- neuron_parametric: exact = true, layers = none, tau_factor = 1.0, threshold_factor = 1.2" in report
    assert "2 masks per kind and rate in one chunk; permanent faults; seed 0." in report
    # With more masks than one chunk holds, the report gives the chunk size.
    summary["config"]["masks"] = 8
    assert "8 masks per kind and rate in chunks of 2;" in render_sweep_report(summary)


def test_resume_finished_campaign_recomputes_nothing(finished_campaign, capsys):
    folder, _ = finished_campaign
    before = {name: (folder / name).stat().st_mtime_ns for name in OUTPUTS}
    # The campaign has repair off; a resume without --no-repair keeps the stored setting.
    assert main(["sweep", "--resume", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "is complete; nothing to recompute" in out
    assert "FT no repair" in out
    assert {name: (folder / name).stat().st_mtime_ns for name in OUTPUTS} == before


def test_resume_writes_only_missing_outputs(finished_campaign, capsys):
    folder, arrays = finished_campaign
    summary_before = (folder / "summary.json").read_bytes()
    for name in ("sweep.nc", "report.md", "ft_vs_rate.png"):
        (folder / name).unlink()
    assert main(["sweep", "--resume", str(folder)]) == 0
    assert "writing the missing sweep.nc, report.md, ft_vs_rate.png" in capsys.readouterr().err
    ds = load_dataset(folder / "sweep.nc")
    np.testing.assert_array_equal(ds["accuracy_no_repair"].values, arrays["accuracy_no_repair"])
    assert "Engine: dense" in (folder / "report.md").read_text()
    assert (folder / "ft_vs_rate.png").read_bytes().startswith(b"\x89PNG")
    assert (folder / "summary.json").read_bytes() == summary_before
    assert (folder / "sensitivity.png").read_bytes() == b"stored figure"


def test_resume_with_other_repair_rejected(tmp_path, capsys):
    folder = tmp_path / "campaign"
    write_campaign_file(folder, CampaignConfig(masks=6, chunk_size=2))
    assert main(["sweep", "--resume", str(folder), "--no-repair", "--masks", "4"]) == 2
    err = capsys.readouterr().err
    assert "started with other settings (masks, repair)" in err
    assert "masks: 6 stored, 4 requested" in err
    assert "repair: True stored, False requested" in err

    assert main(["sweep", "--resume", str(folder), "--quick"]) == 2
    err = capsys.readouterr().err
    assert "masks: 6 stored, 8 requested" in err
    assert "rates: " in err

    assert main(["sweep", "--resume", str(folder), "--out", str(tmp_path / "other")]) == 2
    assert "drop --out" in capsys.readouterr().err
    assert not (tmp_path / "other").exists()


def test_toml_bad_values_name_file(tmp_path, capsys):
    config = tmp_path / "config.toml"
    config.write_text("rates = [0, 1.5]\n")
    out = tmp_path / "o"
    assert main(["sweep", "--config", str(config), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert re.search(rf"rates in '{re.escape(str(config))}' must lie in \[0, 1\], got \[1.5\]", err), err
    assert "--rates" not in err

    # A value given on the command line keeps the option's name.
    assert main(["sweep", "--config", str(config), "--rates", "0,2", "--out", str(out)]) == 2
    assert re.search(r"--rates must lie in \[0, 1\], got \[2.0\]", capsys.readouterr().err)

    config.write_text('masks = "3"\n')
    assert main(["sweep", "--config", str(config), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"masks in '{config}'" in err
    assert "must be an integer, got '3'" in err

    config.write_text('repair = "no"\n')
    assert main(["sweep", "--config", str(config), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"repair in '{config}'" in err
    assert "must be true or false, got 'no'" in err
    assert not out.exists()


def test_missing_cost_table_file_named(tmp_path):
    for path in (tmp_path / "absent.json", tmp_path / "tables" / "absent"):
        with pytest.raises(ValueError, match=f"cost table file '{re.escape(str(path))}' not found") as error:
            load_cost_table(path)
        assert "loihi, horowitz-45nm, horowitz-45nm-dram" in str(error.value)
    with pytest.raises(ValueError, match="is a folder"):
        load_cost_table(tmp_path)
    with pytest.raises(ValueError, match="'no-such-table' is neither a built-in table"):
        load_cost_table("no-such-table")


@pytest.mark.slow
def test_sweep_records_engine_and_timings(tmp_path, capsys, monkeypatch):
    checkpoint = tmp_path / "model.eqx"
    save_checkpoint(checkpoint, SpikingNetwork.init([64, 24, 10], key=jax.random.key(0), domain_size=8))
    out = tmp_path / "run"
    args = ["sweep", "--checkpoint", str(checkpoint), "--faults", "synapse_dead", "--rates", "0.05", "--masks", "2"]
    args += ["--chunk-size", "2", "--max-test", "30", "--engine", "differential", "--capacity", "64", "--no-repair"]
    assert main([*args, "--out", str(out)]) == 0
    # The campaign's progress bar shows its total from the start: 1 kind x 1 rate x 1 chunk.
    assert "fault campaign:   0%|          | 0/1 [" in capsys.readouterr().err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["engine"] == "differential"
    assert summary["capacity"] == 64
    assert set(summary["timings_s"]) == {"data", "model", "sweep", "sensitivity_map", "total"}
    for name, seconds in summary["timings_s"].items():
        assert isinstance(seconds, float) and seconds >= 0.0, name
    assert "Engine: differential, capacity 64" in (out / "report.md").read_text()

    monkeypatch.setattr(pipeline, "prepare_data", lambda *a, **k: pytest.fail("the resume loaded the data set"))
    capsys.readouterr()
    assert main(["sweep", "--resume", str(out)]) == 0
    assert "is complete; nothing to recompute" in capsys.readouterr().out


def test_sweep_interrupt_names_the_resume_command(tmp_path, capsys, monkeypatch):
    checkpoint = tmp_path / "model.eqx"
    save_checkpoint(checkpoint, SpikingNetwork.init([64, 24, 10], key=jax.random.key(0), domain_size=8))
    out = tmp_path / "run"

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("lifa_jax.cli.sweep._execute", interrupted)
    args = ["sweep", "--checkpoint", str(checkpoint), "--faults", "synapse_dead", "--rates", "0.05", "--masks", "2"]
    assert main([*args, "--max-test", "30", "--no-repair", "--out", str(out)]) == 130
    err = capsys.readouterr().err
    assert f"Continue with: lifa sweep --resume {out}" in err
    assert (out / "campaign.json").is_file()


def test_sweep_prints_no_percent_sign_without_repair(tmp_path, capsys):
    from lifa_jax.cli.sweep import _print_results

    row = {"fault": "synapse_dead", "rate": 0.05, "ft_no_repair": {"mean": 97.5}, "ft_repair": None}
    _print_results({"accuracy_fault_free": 0.9, "sweep": [row]}, tmp_path)
    line = capsys.readouterr().out.splitlines()[1]
    assert line.endswith("FT repair n/a (no repair run)")
    assert "FT no repair   97.50 %" in line
    row["ft_repair"] = {"mean": 99.25}
    _print_results({"accuracy_fault_free": 0.9, "sweep": [row]}, tmp_path)
    assert capsys.readouterr().out.splitlines()[1].endswith("FT repair 99.25 %")


def test_sweep_report_no_repair_deviation():
    config = CampaignConfig(faults=("synapse_dead",), rates=(0.1,), masks=2, chunk_size=2, repair=False)
    arrays = {
        "accuracy_no_repair": np.array([[[0.81, 0.63]]], np.float32),
        "accuracy_repair": np.array([[[0.81, 0.63]]], np.float32),
        "status": np.zeros((1, 1, 2), np.int32),
    }
    summary = sweep_summary(config, arrays)
    record = summary["sweep"][0]
    assert record["deviation"] is None
    expected = f"{record['deviation_no_repair']['mean']:.2f} ± {record['deviation_no_repair']['ci95']:.2f} (no repair)"
    report = render_sweep_report(summary)
    row = next(line for line in report.splitlines() if line.startswith("| synapse_dead |"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[7] == expected
    assert cells[4] == cells[6] == cells[8] == "n/a (no repair run)"
    assert "undefined" not in row
    assert "Where repair was not run, D is 100 - FT no repair" in report


def test_sweep_report_repair_keeps_undefined():
    # With repair and no accuracy lost, D is 0 and R has no value.
    config = CampaignConfig(faults=("synapse_dead",), rates=(0.1,), masks=2, chunk_size=2, repair=True)
    arrays = {
        "accuracy_no_repair": np.full((1, 1, 2), 0.9, np.float32),
        "accuracy_repair": np.full((1, 1, 2), 0.9, np.float32),
        "status": np.zeros((1, 1, 2), np.int32),
    }
    report = render_sweep_report(sweep_summary(config, arrays))
    row = next(line for line in report.splitlines() if line.startswith("| synapse_dead |"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[7] == "0.00 ± 0.00"
    assert cells[8] == "undefined"
    assert "Where repair was not run" not in report


def test_sweep_prints_flagged_masks(tmp_path, capsys):
    from lifa_jax.cli.sweep import _print_results

    config = CampaignConfig(
        faults=("synapse_dead", "synapse_bitflip_float"), rates=(0.0, 0.05), masks=3, chunk_size=3, repair=False
    )
    status = np.zeros((2, 2, 3), np.int32)
    status[1, 1] = [0, 1 | 2, 1]
    arrays = {
        "accuracy_no_repair": np.full((2, 2, 3), 0.8, np.float32),
        "accuracy_repair": np.full((2, 2, 3), 0.8, np.float32),
        "status": status,
    }
    summary = sweep_summary(config, arrays)
    _print_results(summary, tmp_path)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 + 4 + 2
    assert lines[5] == (
        f"2 of 12 masks flagged (nonzero status); the flags of every mask are the status variable in "
        f"{tmp_path / 'sweep.nc'}:"
    )
    assert re.fullmatch(r"  synapse_bitflip_float +rate 0.05 +2 of 3 masks: .*", lines[6]), lines[6]
    assert "the mask holds infinite or NaN weights (2)" in lines[6]
    assert "some membrane was infinite or NaN at the end of a sample (1)" in lines[6]

    arrays["status"] = np.zeros((2, 2, 3), np.int32)
    _print_results(sweep_summary(config, arrays), tmp_path)
    out = capsys.readouterr().out
    assert "masks flagged" not in out
    assert len(out.splitlines()) == 1 + 4


def test_missing_cost_table_cli_exit_2(tmp_path, capsys):
    for path in (tmp_path / "tables" / "absent.json", tmp_path / "absent.JSON"):
        assert main(["energy", "--cost-table", str(path), "--out", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err
        assert f"cost table file '{path}' not found" in err
        assert "loihi, horowitz-45nm, horowitz-45nm-dram" in err
        assert "neither a built-in table" not in err
        assert "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_toml_bad_choices_name_file(tmp_path, capsys):
    config = tmp_path / "config.toml"
    out = tmp_path / "o"
    cases = {
        'faults = ["neuron_dead", "neuron_zombie"]\n': "faults in '{}': unknown fault kind 'neuron_zombie'",
        'engine = "sparse"\n': "engine in '{}' must be dense, differential or event, got 'sparse'",
        'dataset = "mnist"\n': "dataset in '{}' is 'mnist', which needs --data-path (or data_path in the TOML file)",
    }
    for text, expected in cases.items():
        config.write_text(text)
        assert main(["sweep", "--config", str(config), "--out", str(out)]) == 2
        assert expected.format(config) in capsys.readouterr().err
    assert main(["sweep", "--faults", "neuron_zombie", "--out", str(out)]) == 2
    assert "--faults: unknown fault kind 'neuron_zombie'" in capsys.readouterr().err
    assert not out.exists()


def test_resume_without_model_trains_again(tmp_path, capsys, monkeypatch):
    # A campaign interrupted during training has campaign.json and no model.eqx.
    folder = tmp_path / "campaign"
    config = CampaignConfig(faults=("synapse_dead",), rates=(0.1,), masks=2, chunk_size=2, repair=False)
    write_campaign_file(folder, config)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "train_network", interrupted)
    assert main(["sweep", "--resume", str(folder)]) == 130
    err = capsys.readouterr().err
    assert (
        f"lifa sweep: {folder} contains no model.eqx, which is saved only when training ends, so the model is "
        f"trained again (seed 0, {config.run.epochs} epochs)"
    ) in err
    assert "pass --checkpoint" not in err
    assert not (folder / "model.eqx").exists()


def test_recovery_cell_shows_asymmetric_interval():
    from lifa_jax.io.report import _fmt

    recovery = {"mean": 35.0, "ci95": 71.3, "low": -50.0, "high": 92.6, "n": 8}
    assert _fmt(recovery, 1) == "35.0 [-50.0, 92.6]"
    # Statistics without bounds keep the symmetric half-width.
    assert _fmt({"mean": 0.5, "ci95": 0.1}) == "0.50 ± 0.10"
