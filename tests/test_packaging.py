"""The built wheel is the whole product: installed into a fresh venv, away from the source
tree, it finds its presets, prompts and starter data and runs a tiny search. Offline: the
wheel is built without isolation and the fresh venv borrows this venv's dependencies (a
.pth file), so nothing is downloaded."""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh venv with only the built wheel installed into it (its bin folder)."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"  # a copy: building writes build/ and egg-info into the tree
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".venv*", ".git", "runs", "build", "dist", "*.egg-info", "__pycache__", ".*_cache"))
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir",
                    str(tmp / "dist"), str(source)], check=True, capture_output=True,
                   timeout=600)
    [wheel] = (tmp / "dist").glob("mosaic-*.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=300)
    [packages] = (venv / "lib").glob("python3*/site-packages")
    (packages / "borrowed.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"),
                    "install", "--quiet", "--no-deps", "--no-index", str(wheel)], check=True,
                   capture_output=True, timeout=600)
    return venv / "bin"


def test_the_wheel_ships_presets_prompts_and_starter_data(installed, tmp_path):
    probe = ("import json, mosaic, mosaic.config as c, mosaic.prompting as p; "
             "print(json.dumps([mosaic.__file__, str(c.CONFIGS_DIR), str(p.PROMPTS_DIR), "
             "c.preset_names()]))")
    result = subprocess.run([str(installed / "python"), "-c", probe], capture_output=True,
                            text=True, cwd=tmp_path, timeout=120, check=True)
    module, configs, prompts, presets = json.loads(result.stdout)
    venv = str(installed.parent)
    assert module.startswith(venv) and configs.startswith(venv) and prompts.startswith(venv)
    assert presets == ["demo", "paper", "tiny"]
    assert (Path(prompts) / "diagnoser.j2").is_file()


def test_the_installed_command_runs_a_tiny_search_and_a_preset_file_of_ones_own(installed,
                                                                                tmp_path):
    env = {**os.environ, "MOSAIC_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("MOSAIC_CONFIGS_DIR", None)
    env.pop("MOSAIC_PROMPTS_DIR", None)
    result = subprocess.run([str(installed / "mosaic"), "run", "--preset", "tiny", "--rounds",
                             "1", "--out", "runs/tiny", "eval.per_slice=1"],
                            capture_output=True, text=True, cwd=tmp_path, env=env,
                            timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    archive = json.loads((tmp_path / "runs" / "tiny" / "archive.json").read_text())
    assert [r["round"] for r in archive["records"]] == [0, 1]

    own = tmp_path / "mine.yaml"
    own.write_text((ROOT / "configs" / "tiny.yaml").read_text().replace(
        "budget: 10000", "budget: 6000"))
    result = subprocess.run([str(installed / "mosaic"), "run", "--config", str(own),
                             "--rounds", "1", "--out", "runs/mine", "eval.per_slice=1"],
                            capture_output=True, text=True, cwd=tmp_path, env=env,
                            timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    config = json.loads((tmp_path / "runs" / "mine" / "config.json").read_text())
    assert config["preset"] == "mine" and config["mixture"]["budget"] == 6000
