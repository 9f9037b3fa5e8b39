"""The `mosaic` command: help lists what exists, commands run the real API."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from mosaic.cli import main


def test_help_lists_the_commands_and_loads_no_torch():
    code = ("import sys; from mosaic.cli import build_parser; build_parser().print_help(); "
            "print('TORCH', 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    for command in ("objectives", "schema", "model", "data"):
        assert command in out
    assert "TORCH False" in out
    help_run = subprocess.run([sys.executable, "-m", "mosaic.cli", "--help"],
                              capture_output=True, text=True)
    assert help_run.returncode == 0 and "examples:" in help_run.stdout


def test_objectives_command_lists_slices_and_focus_keys(capsys):
    assert main(["objectives"]) == 0
    out = capsys.readouterr().out
    assert "xguard (v1)" in out and "complexity_1, complexity_2" in out
    assert "boundary_4" in out and "pc_patterns" in out and "instruction_ids" in out


def test_schema_action_prints_the_json_schema(capsys, tmp_path):
    assert main(["schema", "action"]) == 0
    assert json.loads(capsys.readouterr().out)["title"] == "DataAction"
    target = tmp_path / "schema.json"
    assert main(["schema", "action", "--out", str(target)]) == 0
    assert json.loads(target.read_text())["required"] == ["ratios"]


def test_data_check_reports_rows_and_tokens(capsys, fixtures):
    code = main(["data", "check", "chat-sft", str(fixtures / "xguard_train_sharegpt.jsonl"),
                 "--objective", "xguard", "--model", "tiny", "--max-tokens", "64"])
    out = capsys.readouterr().out
    assert code == 0 and "3 rows from" in out
    assert "tokens (tiny chat template): total" in out
    assert "exceed 64 tokens ->" in out


def test_data_check_names_bad_rows_and_exits_2(capsys, fixtures):
    code = main(["data", "check", "chat-sft", str(fixtures / "malformed_chat.jsonl"),
                 "--objective", "xguard"])
    err = capsys.readouterr().err
    assert code == 2 and "row 1, field 'messages[0].role'" in err
    assert main(["data", "check", "chat-sft", str(fixtures / "malformed_chat.jsonl"),
                 "--objective", "xguard", "--lenient"]) == 0
    assert "4 malformed rows skipped" in capsys.readouterr().out


def test_data_check_tulu_notes_unverifiable_constraints(capsys, fixtures):
    assert main(["data", "check", "instruction-sft",
                 str(fixtures / "tulu_personas_if.jsonl")]) == 0
    assert "not checkable" in capsys.readouterr().out


def test_model_prepare_tiny(capsys):
    assert main(["model", "prepare", "tiny"]) == 0
    out = capsys.readouterr().out
    assert "LlamaForCausalLM" in out and "M parameters" in out


def test_eval_writes_report_samples_and_summary(tmp_path, capsys):
    out = tmp_path / "eval"
    code = main(["eval", "--model", "tiny", "--limit", "2", "--max-new-tokens", "8",
                 "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0 and "| objective | mean |" in printed
    report = json.loads((out / "report.json").read_text())
    assert set(report["objectives"]) == {"xguard", "orbench", "ifeval"}
    assert all(r["count"] + r["n_unscored"] == 2 for r in report["objectives"].values())
    assert len((out / "samples.jsonl").read_text().splitlines()) == 6
    assert (out / "summary.md").read_text().startswith("# Evaluation of `tiny`")


def test_eval_rejects_a_bad_data_argument(capsys):
    assert main(["eval", "--model", "tiny", "--data", "orbench"]) == 2
    assert "OBJECTIVE=PATH" in capsys.readouterr().err


def test_eval_reports_an_invalid_setting_without_a_traceback(capsys):
    assert main(["eval", "--model", "tiny", "--batch-size", "0", "--limit", "1"]) == 2
    captured = capsys.readouterr()
    assert "invalid setting: batch_size" in captured.err and "eval sets" not in captured.out


def test_mix_builds_a_valid_action_and_refuses_an_invalid_one_unless_repaired(
        tmp_path, capsys):
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"ratios": {"xguard": 0.5, "orbench": 0.25, "ifeval": 0.25},
                                "objectives": {"xguard": {"bucket_weights": {
                                    "complexity_4": 0.5, "complexity_5": 0.5}}}}))
    assert main(["mix", "--action", str(good), "--preset", "tiny", "--budget", "6000",
                 "--out", str(tmp_path / "mix")]) == 0
    out = capsys.readouterr().out
    assert "budget 6,000 tokens (templated:tiny" in out and "complexity_5" in out
    manifest = json.loads((tmp_path / "mix" / "manifest.json").read_text())
    assert 0.99 * 6000 <= manifest["realised_tokens"] <= 6000
    lines = (tmp_path / "mix" / "train.jsonl").read_text().splitlines()
    assert len(lines) == sum(len(ids) for ids in manifest["row_ids"].values())

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"ratios": {"xguard": 0.8, "orbench": 0.4}}))
    assert main(["mix", "--action", str(bad), "--preset", "tiny", "--out",
                 str(tmp_path / "bad-mix")]) == 2
    err = capsys.readouterr().err
    assert "ratios_sum" in err and "--repair" in err
    assert not (tmp_path / "bad-mix").exists()
    assert main(["mix", "--action", str(bad), "--preset", "tiny", "--repair", "--out",
                 str(tmp_path / "bad-mix")]) == 0
    assert "repair: ratios.xguard: 0.8 -> 0.666667" in capsys.readouterr().out
    (tmp_path / "broken.json").write_text("{not json")
    assert main(["mix", "--action", str(tmp_path / "broken.json"), "--preset", "tiny"]) == 2
    assert "malformed" in capsys.readouterr().err


def test_train_command_trains_an_adapter_on_a_mixture_folder(tmp_path, capsys):
    action = tmp_path / "action.json"
    action.write_text(json.dumps({"ratios": {"orbench": 1.0}}))
    assert main(["mix", "--action", str(action), "--preset", "tiny", "--budget", "1500",
                 "--out", str(tmp_path / "mix")]) == 0
    capsys.readouterr()
    assert main(["train", "--mixture", str(tmp_path / "mix"), "--model", "tiny",
                 "--lora-r", "4", "--epochs", "1", "--pack-tokens", "512"]) == 0
    out = capsys.readouterr().out
    assert "r 4" in out and "tokens/s" in out
    card = json.loads((tmp_path / "mix-lora" / "mosaic_card.json").read_text())
    assert card["settings"]["lora_r"] == 4 and card["steps"] >= 1
    assert main(["train", "--mixture", str(tmp_path / "mix"), "--model", "tiny",
                 "--lr", "-1"]) == 2
    assert "lr" in capsys.readouterr().err


def _mosaic(*args: str, cwd, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mosaic.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120, **kwargs)


def test_an_existing_file_as_out_is_one_line_without_a_traceback_unless_debug(tmp_path):
    (tmp_path / "taken").write_text("not a folder")
    (tmp_path / "action.json").write_text(json.dumps(
        {"ratios": {"xguard": 0.4, "orbench": 0.3, "ifeval": 0.3}}))
    for command in (["run", "--preset", "tiny", "--rounds", "1", "--out", "taken"],
                    ["mix", "--preset", "tiny", "--action", "action.json", "--out", "taken"]):
        done = _mosaic(*command, cwd=tmp_path)
        errors = [line for line in done.stderr.splitlines() if "error" in line]
        assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr
        assert done.returncode == 1
        assert errors == ["mosaic: error: taken: it already exists (rerun with --debug "
                          "for the traceback)"]
    debug = _mosaic("--debug", "run", "--preset", "tiny", "--out", "taken", cwd=tmp_path)
    assert "Traceback" in debug.stderr and "FileExistsError" in debug.stderr
    env = {**os.environ, "MOSAIC_DEBUG": "1"}
    assert "Traceback" in _mosaic("run", "--preset", "tiny", "--out", "taken", cwd=tmp_path,
                                  env=env).stderr


def test_a_reader_that_goes_away_ends_the_output_quietly(tmp_path):
    """`mosaic schema action | head -c0`: the pipe closes before mosaic writes."""
    buffered = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    process = subprocess.Popen([sys.executable, "-m", "mosaic.cli", "schema", "action"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path,
                               env=buffered)
    process.stdout.close()
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 141 and stderr == ""


def test_a_damaged_json_file_of_a_run_is_named_in_one_line(tmp_path, capsys):
    """A config.json or archive.json cut short: status says which file, no traceback."""
    from mosaic.config import apply_overrides, load_preset
    from mosaic.loop.context import RunContext

    config, _ = apply_overrides(load_preset("tiny"), [f"cache={tmp_path / 'cache'}"])
    RunContext.create(config, tmp_path / "run", progress=False)
    (tmp_path / "run" / "archive.json").write_text('{"records": [{"round": 0, "mea')
    assert main(["status", str(tmp_path / "run")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"mosaic: error: {tmp_path / 'run' / 'archive.json'}: not valid "
                            "JSON at line 1") and "\n" not in error
    config_json = tmp_path / "run" / "config.json"
    config_json.write_text(config_json.read_text()[:200])
    assert main(["status", str(tmp_path / "run")]) == 2
    assert str(config_json) in capsys.readouterr().err


def test_read_json_names_the_file_and_what_is_wrong(tmp_path):
    import pytest

    from mosaic.errors import DamagedFile
    from mosaic.schema import RoundRecord
    from mosaic.store import read_json

    path = tmp_path / "record.json"
    path.write_text('{"round": -1}')
    with pytest.raises(DamagedFile, match=r"record\.json: not a valid RoundRecord: round"):
        read_json(path, RoundRecord)
    path.write_text('{"round": 1')
    with pytest.raises(DamagedFile, match=r"record\.json: not valid JSON"):
        read_json(path, RoundRecord)
    path.write_text('{"round": 1}')
    assert read_json(path, RoundRecord).round == 1 and read_json(path) == {"round": 1}


def test_operating_system_errors_read_as_one_line_naming_the_path():
    import errno

    from mosaic.cli.errors import os_error_line

    full = OSError(errno.ENOSPC, "No space left on device", "/runs/r/rounds/001/train.jsonl")
    assert os_error_line(full) == "/runs/r/rounds/001/train.jsonl: the disk is full"
    assert os_error_line(OSError(errno.EROFS, "Read-only file system", "/ro")) == \
        "/ro: the file system is read-only"
    moved = OSError(errno.EXDEV, "Invalid cross-device link", "/a", None, "/b")
    assert os_error_line(moved) == "/a -> /b: Invalid cross-device link"
    assert os_error_line(OSError("no errno")) == "no errno"


def test_an_archive_with_a_bad_record_or_the_wrong_shape_is_named(tmp_path):
    import pytest

    from mosaic.errors import DamagedFile
    from mosaic.loop.rounds import load_records

    archive = tmp_path / "archive.json"
    archive.write_text('{"records": [{"round": "first"}]}')
    with pytest.raises(DamagedFile, match=r"archive\.json: not a list of valid RoundRecord: "
                                          r"round"):
        load_records(archive)
    archive.write_text('{"records": {"round": 0}}')
    with pytest.raises(DamagedFile, match=r"archive\.json: expected a list under 'records'"):
        load_records(archive)
    archive.write_bytes(b'{"records": [\xff]}')
    with pytest.raises(DamagedFile, match="not UTF-8 text"):
        load_records(archive)


def test_a_write_that_fails_names_the_file_it_was_writing(tmp_path, monkeypatch):
    """A full disk shows up on write, through a descriptor that names no file."""
    import errno

    import pytest

    import mosaic.store as store

    real_fdopen = store.os.fdopen

    class FullDisk:
        def __init__(self, *args, **kwargs):
            self.handle = real_fdopen(*args, **kwargs)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

        def write(self, _text):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store.os, "fdopen", FullDisk)
    target = tmp_path / "run" / "archive.json"
    with pytest.raises(OSError) as raised:
        store.write_json_atomic(target, {"records": []})
    assert raised.value.filename == str(target) and raised.value.errno == errno.ENOSPC
    assert list((tmp_path / "run").iterdir()) == []  # the temporary file is gone


def test_eval_reads_an_eval_set_by_config_from_a_folder_of_several(tmp_path, capsys,
                                                                   fixtures):
    """An OR-Bench download holds several CSVs: `--data` names the one by its config."""
    folder = tmp_path / "or-bench"
    folder.mkdir()
    (folder / "or-bench-hard-1k.csv").write_text((fixtures / "orbench.csv").read_text())
    (folder / "or-bench-toxic.csv").write_text("prompt,category\nSomething else,toxic\n")
    out = tmp_path / "eval"
    assert main(["eval", "--model", "tiny", "--objectives", "orbench", "--limit", "2",
                 "--max-new-tokens", "4", "--out", str(out),
                 "--data", f"orbench={{path: {folder}, config: hard-1k}}"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["objectives"]["orbench"]["count"] + report["objectives"]["orbench"][
        "n_unscored"] == 2
    capsys.readouterr()
    assert main(["eval", "--model", "tiny", "--data", "orbench={path: x, colour: red}"]) == 2
    assert "not an eval set" in capsys.readouterr().err
