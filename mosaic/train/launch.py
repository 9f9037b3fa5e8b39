"""The training step across several processes of one machine (`train.processes > 1`).

    train(mixture, model, TrainSettings(processes=8), out)   # sft.train calls this:
    train_in_processes(mixture, model, settings, out)         # runs, waits, raises on failure

The step launches itself: `python -m torch.distributed.run --standalone --nproc_per_node N
-m mosaic.cli train --settings SETTINGS.json ...`, one process per GPU (on the CPU, gloo),
and waits. `train.loop.train_lora` gives each process every n-th packed row through
accelerate, the main process writes the adapter, and this process reads its card. The
child's output streams through (progress bars, errors); a failed launch raises
`TrainingError` with the end of what it printed. torchrun is part of torch, so nothing more
needs installing; `--standalone` picks a free rendezvous port, so two runs on one machine
do not collide.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import deque
from pathlib import Path

from mosaic.config import TrainSettings
from mosaic.errors import ConfigError, MosaicError
from mosaic.redact import redact, redact_bytes
from mosaic.store import write_text_atomic

LAUNCHED = "LOCAL_RANK"
"""Set by torchrun (and accelerate launch) in the processes they start. (RANK and
WORLD_SIZE alone are not proof: cluster schedulers set them in every pod.)"""


class TrainingError(MosaicError):
    """A training run in other processes failed; the message ends with what they printed."""


def launched() -> bool:
    """Whether this process was started by a launcher (it trains its share, no launching)."""
    return LAUNCHED in os.environ


def launch_command(mixture: Path, model_spec: str, settings_file: Path, out: Path, *,
                   processes: int, progress: bool) -> list[str]:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc_per_node", str(processes), "-m", "mosaic.cli", "train",
               "--mixture", str(mixture), "--model", model_spec, "--out", str(out),
               "--settings", str(settings_file)]
    return command + ([] if progress else ["--quiet"])


def train_in_processes(mixture: Path, model_spec: str, settings: TrainSettings, out: Path, *,
                       progress: bool = True) -> None:
    """Train under torchrun with `settings.processes` processes into `out` (the main one
    writes the adapter there); TrainingError when the launch fails."""
    import torch

    if torch.cuda.is_available() and settings.processes > torch.cuda.device_count():
        raise ConfigError(f"train.processes is {settings.processes} but this machine has "
                          f"{torch.cuda.device_count()} GPU(s): one process per GPU")
    out.mkdir(parents=True, exist_ok=True)
    settings_file = out / "launch_settings.json"
    write_text_atomic(settings_file, settings.model_dump_json(indent=2) + "\n")
    env = dict(os.environ)
    if "OMP_NUM_THREADS" not in env:  # processes sharing the cores must not each take all
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // settings.processes))
    command = launch_command(mixture, model_spec, settings_file, out,
                             processes=settings.processes, progress=progress)
    out_stream = getattr(sys.stdout, "buffer", None)  # None: a notebook's or a StringIO
    tail: deque[bytes] = deque(maxlen=256)  # the last 256 reads, ~1 MB at most
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT) as child:
        assert child.stdout is not None
        pipe = child.stdout.fileno()
        # Bytes passed on as they come: a progress bar's carriage returns redraw one line.
        for chunk in iter(lambda: os.read(pipe, 65536), b""):
            tail.append(chunk)
            if progress:  # masked here: these bytes pass by the console's masking stream
                if out_stream is not None:
                    out_stream.write(redact_bytes(chunk))
                else:
                    sys.stdout.write(redact(chunk.decode("utf-8", "replace")))
                sys.stdout.flush()
    settings_file.unlink(missing_ok=True)
    if child.returncode != 0:
        lines = redact(b"".join(tail).decode("utf-8", "replace")).replace("\r", "\n").split("\n")
        raise TrainingError(f"training in {settings.processes} processes failed (exit "
                            f"{child.returncode}); its last lines:\n" + _what_failed(lines))


_LAUNCHER_LINE = re.compile(r"^[WE]\d{4} .*torch/distributed/elastic")


def _what_failed(lines: list[str]) -> str:
    """The processes' own last lines, before torchrun's report of their failure (a traceback
    of its own, the same for every cause); each line once."""
    end = next((i for i, line in enumerate(lines) if _LAUNCHER_LINE.match(line)), len(lines))
    own = list(dict.fromkeys(line.rstrip() for line in lines[:end] if line.strip()))
    return "\n".join(own[-20:] or [line.rstrip() for line in lines[-20:]])
