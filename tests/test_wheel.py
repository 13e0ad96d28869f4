"""The package as a user installs it: build the wheel, install it into a fresh virtual environment and run
enumerate → search → export (and the exported file) from an empty directory.

The fresh environment gets the wheel alone (``--no-deps``, no index); the dependencies come from the test's
own environment through a ``.pth`` file (what ``--system-site-packages`` does for a system Python), so nothing
is downloaded, and ``pip check`` proves that the wheel's declared requirements are met by them. The wheel's
archsearch is the one that runs: the test checks where it is imported from.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import time
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("archsearch", "pyproject.toml", "README.md", "LICENSE")
TINY = ("--trials", "2", "--steps", "5", "--batch-size", "8", "--space", "width=8", "--space", "depth=1",
        "--task-option", "d=2", "--no-baseline")


def _build_wheel(tmp: Path) -> Path:
    """``pip wheel`` of a copy of the sources (the build writes build/ and *.egg-info next to them)."""
    src = tmp / "src"
    src.mkdir()
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, src / name)
    out = tmp / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                    "-q", "-w", str(out), str(src)], check=True, capture_output=True, text=True, timeout=600)
    (wheel,) = out.glob("archsearch-*.whl")
    return wheel


def _fresh_env(tmp: Path, wheel: Path) -> Path:
    """A new venv with the wheel installed alone, the test environment's packages visible through a .pth."""
    env_dir = tmp / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    (Path(purelib) / "archsearch_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # --ignore-installed: the test environment's own archsearch (an editable install, or an egg-info on
    # PYTHONPATH) is visible through the .pth and must not count as "already installed"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
                    "--ignore-installed", "-q", str(wheel)], check=True, capture_output=True, text=True, timeout=300,
                   env=_clean_env())
    return env_dir


def _clean_env() -> dict[str, str]:
    drop = ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
    return {k: v for k, v in os.environ.items() if k not in drop} | {"COLUMNS": "80"}


@pytest.mark.slow
def test_the_wheel_installs_and_runs_from_an_empty_directory(tmp_path):
    started = time.monotonic()
    wheel = _build_wheel(tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    assert "archsearch/grammars/paper.toml" in names and "archsearch/py.typed" in names
    assert any(n.endswith("licenses/LICENSE") or n.endswith("/LICENSE") for n in names), names
    env_dir = _fresh_env(tmp_path, wheel)
    bin_dir = env_dir / "bin"
    work = tmp_path / "empty"
    work.mkdir()
    env = _clean_env()

    def run(*args: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
        res = subprocess.run(list(args), cwd=work, env=env, capture_output=True, text=True, timeout=timeout)
        assert res.returncode == 0, f"{' '.join(args)}\n{res.stdout[-2000:]}\n{res.stderr[-3000:]}"
        return res

    where = run(str(bin_dir / "python"), "-c", "import archsearch; print(archsearch.__file__)").stdout
    assert where.startswith(str(env_dir)), where  # the wheel's archsearch, not the checkout's
    check = subprocess.run([sys.executable, "-m", "pip", "--python", str(bin_dir / "python"), "check"], cwd=work,
                           env=env, capture_output=True, text=True, timeout=300)
    assert "archsearch" not in check.stdout, check.stdout  # its requirements are met (others' are not our business)
    cli = str(bin_dir / "archsearch")
    assert "paper" in run(cli, "grammars").stdout
    listed = run(cli, "enumerate", "--grammar", "paper").stdout
    assert listed.splitlines()[0].startswith("id\torder") and "linear attention" in listed
    run(cli, "search", "--study", "w", *TINY)
    assert (work / "results" / "w" / "journal.log").is_file()
    run(cli, "export", "--study", "w", "-o", "winner.py", "--weights", "winner.safetensors")
    loaded = run(str(bin_dir / "python"), "-c", "from winner import load_model; print(type(load_model()).__name__)")
    assert loaded.stdout.strip()
    assert sorted(p.name for p in work.iterdir()) == ["config.json", "results", "winner.py", "winner.safetensors"]
    took = time.monotonic() - started
    print(f"wheel test: {took:.1f} s")
