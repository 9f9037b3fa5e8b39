"""The `mosaic` command: help lists what exists, commands run the real API."""

from __future__ import annotations

import json
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
