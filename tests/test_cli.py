"""The ``zarrdask`` command line: ``python -m zarrdask demo`` works end to end."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import zarrdask
from zarrdask.cli import demo, main

ROOT = Path(__file__).resolve().parents[1]


def test_demo_writes_a_readable_array(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The demo exits 0, prints the info table, and leaves a correct array behind."""
    path = tmp_path / "demo.zarr"
    assert main(["demo", str(path)]) == 0
    printed = capsys.readouterr().out
    assert "values match" in printed
    assert "Chunk shape" in printed and "(500, 500)" in printed
    z = zarrdask.open_array(str(path), mode="r")
    assert z.shape == (2000, 2000) and z.chunks == (500, 500) and z.dtype == np.dtype("int32")
    assert z[1999, 1999] == 2000 * 2000 - 1
    assert (path / ".zarray").is_file() and (path / "3.3").is_file()


def test_demo_default_path_is_relative(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a path the demo writes ./zarrdask-demo.zarr in the working directory."""
    monkeypatch.chdir(tmp_path)
    assert main(["demo"]) == 0
    assert (tmp_path / "zarrdask-demo.zarr" / ".zarray").is_file()


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    """No command: usage on stdout and exit code 2."""
    assert main([]) == 2
    assert "demo" in capsys.readouterr().out


def test_python_dash_m(tmp_path: Path) -> None:
    """``python -m zarrdask demo PATH`` runs as a separate process and exits 0."""
    proc = subprocess.run(
        [sys.executable, "-m", "zarrdask", "demo", str(tmp_path / "d.zarr")],
        capture_output=True, text=True, cwd=ROOT, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "values match" in proc.stdout


def test_demo_out_stream(tmp_path: Path) -> None:
    """``demo`` prints to the stream it is given."""
    buffer = io.StringIO()
    assert demo(str(tmp_path / "x.zarr"), out=buffer) == 0
    assert "zarrdask" in buffer.getvalue()
