"""The `lifa route` command line: quick run, valid JSON, and rejected input."""

import json
import math

import pytest

from lifa_jax.cli.route import replace_non_finite


def lifa(argv, monkeypatch):
    """Run `lifa` with the energy and route commands registered; return the exit status."""
    from lifa_jax import cli

    missing = tuple(name for name in ("energy", "route") if name not in cli.COMMAND_MODULES)
    monkeypatch.setattr(cli, "COMMAND_MODULES", cli.COMMAND_MODULES + missing)
    return cli.main([str(a) for a in argv])


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--fault-rates", "0.1,1.5"], "--fault-rates must lie in [0, 1], got 1.5"),
        (["--fault-rates", "-0.1"], "--fault-rates must lie in [0, 1], got -0.1"),
        (["--fault-rates", "0.1,x"], "--fault-rates must be comma-separated numbers"),
        (["--mesh", "3x3", "--n-max", "16"], "does not fit a 3x3 mesh"),
        (["--mesh", "none"], "--mesh must be WIDTHxHEIGHT such as 4x4 or auto"),
        (["--n-max", "0"], "--n-max must be at least 1"),
        (["--maps", "0"], "--maps must be at least 1"),
        (["--routings", "xy,zigzag"], "--routings must name routings"),
    ],
)
def test_route_cli_rejects_bad_input(extra, message, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"

    status = lifa(["route", "--quick", "--out", out, *extra], monkeypatch)

    error = capsys.readouterr().err
    assert status == 2
    assert message in error
    assert error.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_route_cli_rejects_non_empty_out(tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("old results")

    status = lifa(["route", "--quick", "--mesh", "1x1", "--n-max", "16", "--out", out], monkeypatch)

    assert status == 2
    assert "does not fit a 1x1 mesh" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


def test_replace_non_finite_paths():
    replaced = []
    value = {"a": [1.0, math.inf], "b": {"c": math.nan, "d": "text"}, "e": -math.inf, "f": 2}

    clean = replace_non_finite(value, "", replaced)

    assert clean == {"a": [1.0, None], "b": {"c": None, "d": "text"}, "e": None, "f": 2}
    assert replaced == ["/a/1", "/b/c", "/e"]
    json.dumps(clean, allow_nan=False)


def read_json_strict(path):
    def reject(constant):
        raise ValueError(f"{path} holds the non-JSON constant {constant}")

    return json.loads(path.read_text(), parse_constant=reject)


@pytest.mark.slow
def test_route_cli_quick_run(tmp_path, monkeypatch):
    out = tmp_path / "route"

    status = lifa(["route", "--quick", "--out", out], monkeypatch)

    assert status == 0
    names = {p.name for p in out.iterdir()}
    for name in ("summary.json", "report.md", "schemes.png", "routing_comparison.png", "link_load_xy_multicast.png"):
        assert name in names, name
    summary = read_json_strict(out / "summary.json")
    study = summary["study"]
    for routing in ("xy", "up_down"):
        for scheme in ("unicast", "multicast", "broadcast"):
            assert study["fault_free"][routing][scheme]["delivered_fraction"] == 1.0
            faulty = study["faults"][0]["results"][routing][scheme]["delivered_fraction"]["mean"]
            assert faulty < 1.0
    unicast = study["fault_free"]["xy"]["unicast"]
    multicast = study["fault_free"]["xy"]["multicast"]
    assert multicast["link_traversals"] <= unicast["link_traversals"]
    assert summary["network"]["accuracy"] > 0.8
    assert "## Dead links 0.1, dead routers 0.1" in (out / "report.md").read_text()


def test_route_cli_checks_checkpoint_topology(tmp_path, monkeypatch, capsys):
    import jax

    from lifa_jax.io import save_checkpoint
    from lifa_jax.network import SpikingNetwork

    digits_like = tmp_path / "digits.eqx"
    other = tmp_path / "other.eqx"
    save_checkpoint(digits_like, SpikingNetwork.init([64, 32, 10], key=jax.random.key(0)))
    save_checkpoint(other, SpikingNetwork.init([64, 32, 3], key=jax.random.key(0)))

    # Any hidden size is accepted; the 1x1 mesh then fails, before any output.
    status = lifa(["route", "--checkpoint", digits_like, "--mesh", "1x1", "--out", tmp_path / "a"], monkeypatch)
    assert status == 2
    assert "a network of 106 neurons does not fit a 1x1 mesh" in capsys.readouterr().err

    status = lifa(["route", "--checkpoint", other, "--out", tmp_path / "b"], monkeypatch)
    assert status == 2
    assert "checkpoint topology [64, 32, 3] does not match the digits data" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["digits.eqx", "other.eqx"]
