"""The headless main job: ``streamlab run`` prints windows as they fire and can write files."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from streamlab.cli import main


def test_run_demo_prints_windows_as_they_fire():
    proc = subprocess.run(
        [sys.executable, "-m", "streamlab.cli", "run", "--source", "demo:sensors", "--window", "tumble:1s",
         "--by", "sensor", "--agg", "avg:temp", "--agg", "count", "--for", "3s", "--rate", "300", "--keys", "3"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.startswith("sensor-")]
    assert len(lines) >= 6  # several windows for 3 sensors
    assert "avg_temp" in proc.stdout and "window_end" in proc.stdout
    assert "events in" in proc.stderr


def test_run_over_a_csv_writes_parquet(tmp_path, capsys):
    df = pd.DataFrame({"ts": pd.date_range("2024-01-01", periods=100, freq="100ms"), "k": ["a", "b"] * 50, "v": range(100)})
    df.to_csv(tmp_path / "in.csv", index=False)
    rc = main(["run", "--source", f"csv:{tmp_path / 'in.csv'}", "--window", "hop:2s:1s", "--by", "k",
               "--agg", "sum:v", "--out", str(tmp_path / "out.parquet"), "--quiet", "--speed", "max"])
    assert rc == 0
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert list(out.columns) == ["k", "window_start", "window_end", "sum_v"]
    assert out["sum_v"].sum() == 2 * sum(range(100))  # every row is in two hop windows


@pytest.mark.parametrize("args, message", [
    (["run", "--window", "tumble"], "tumble takes 1 duration"),
    (["run", "--window", "hop:10s:3s"], "must be a multiple of slide"),
    (["run", "--agg", "avgg:temp"], "unknown function 'avgg'"),
])
def test_bad_arguments_are_explained(args, message, capsys):
    with pytest.raises(SystemExit):
        main(args)
    assert message in capsys.readouterr().err


def test_endless_demo_needs_for(capsys):
    assert main(["run", "--source", "demo:sensors"]) == 2
    assert "add --for" in capsys.readouterr().err
