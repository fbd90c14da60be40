"""The command: its JSON, its report file, its exit codes, its help, and the token unseen."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

import osai_import
from osai_import.upload.journal import locked_journal
from tests.run.support import make_folder_dataset
from tests.verify.support import (
    ApiOnlyProxy,
    image_id,
    new_server,
    quickstart,
    remote_config,
    server_db,
    verify_cli,
)

SECRET = "verify-secret-token-5d1e0c7a9b"


def test_json_and_report_file_hold_the_same_report_of_a_set_shape(tmp_path: Path) -> None:
    config = quickstart(tmp_path)
    sent = osai_import.upload(config, progress=False)
    with server_db(config.parent / ".osai-local") as db:
        db.execute("UPDATE images SET classify_category_id = NULL WHERE id = ?",
                   (image_id(db, "orange_02.jpg"),))
    written = tmp_path / "out" / "verify.json"
    result = verify_cli(config, "--json", "--report", str(written), cwd=config.parent)
    assert result.returncode == 1, result.stderr
    report = result.json()
    assert json.loads(written.read_text(encoding="utf-8")) == report
    assert list(report) == ["kind", "version", "tool_version", "config", "server", "dataset",
                            "read_by", "ok", "exit_code", "cannot_check", "counts",
                            "differing", "not_checked", "notes"]
    assert report["kind"] == "osai-import verify" and report["version"] == 1
    assert report["tool_version"] == osai_import.__version__
    assert report["dataset"] == {"id": sent.dataset_id, "name": "quickstart-fruit"}
    assert (report["read_by"], report["ok"], report["exit_code"]) == ("inspection", False, 1)
    assert report["counts"] == {
        "journal": 12, "server": 12, "source": 12, "matched": 11, "differing": 1,
        "missing": 0, "copies": 0, "bytes": 0, "category": 1, "boxes": 0, "answer_lost": 0,
        "flagged": 0, "source_changed": 0, "not_in_journal": 0, "not_sent": 0}
    assert report["differing"] == [{
        "name": "orange_02.jpg", "item": "orange/orange_02.jpg", "journal_state": "acked",
        "copies": 1,
        "findings": [{"kind": "category", "detail": "category none stored, 'orange' sent",
                      "sent": "orange", "stored": None}],
        "remedy": "OSAI's API cannot replace an image: correct it in OSAI's web app, or "
                  "upload into a new dataset (`osai-import run quickstart.yaml --restart`)"}]
    assert report["not_checked"] == [] and report["cannot_check"] is None


def test_the_token_never_shows_whatever_verify_prints(tmp_path: Path) -> None:
    make_folder_dataset(tmp_path / "data", 4)
    server = new_server(tmp_path / "server", token=SECRET)
    outputs: list[str] = []
    try:
        config = remote_config(tmp_path, server.base_url)
        sent = osai_import.upload(config, progress=False, token=SECRET)
        assert sent.exit_code == 0
        report = tmp_path / "report.json"
        for args in ((), ("--json",), ("--report", str(report))):
            done = verify_cli(config, *args, token=SECRET)
            assert done.returncode == 0, done.stderr
            outputs += [done.stdout, done.stderr]
        outputs.append(report.read_text(encoding="utf-8"))
        refused = verify_cli(config, token=SECRET[::-1])
        assert refused.returncode == 3 and "Traceback" not in refused.stderr
        assert "the server refused the access token" in refused.stderr
        outputs += [refused.stdout, refused.stderr]
        with ApiOnlyProxy(server.root_url) as proxy:
            # Another URL is another server to the journal: the dataset is named by id.
            (tmp_path / "hidden").mkdir()
            hidden = remote_config(tmp_path / "hidden", proxy.base_url, source="../data")
            settings = yaml.safe_load(hidden.read_text(encoding="utf-8"))
            settings["dataset"] = {"id": sent.dataset_id}
            hidden.write_text(yaml.safe_dump(settings), encoding="utf-8")
            unread = verify_cli(hidden, token=SECRET)
        assert unread.returncode == 4
        outputs += [unread.stdout, unread.stderr]
    finally:
        server.stop()
    for text in outputs:
        assert SECRET not in text and SECRET[::-1] not in text
        assert SECRET[:12] not in text


def test_usage_errors_exit_2_with_one_line(tmp_path: Path) -> None:
    config = quickstart(tmp_path)
    never_sent = verify_cli(config)
    assert never_sent.returncode == 2
    assert never_sent.stderr.count("\n") == 1 and "Traceback" not in never_sent.stderr
    assert "knows no dataset 'quickstart-fruit'" in never_sent.stderr
    assert f"`osai-import run {config}` sends it, then verify" in never_sent.stderr
    assert not (config.parent / ".osai-import").exists(), "verify created no journal"
    missing = verify_cli(tmp_path / "nowhere.yaml")
    assert missing.returncode == 2
    remote = remote_config(tmp_path, "http://127.0.0.1:9/api", source="configs/examples")
    no_token = verify_cli(remote, token=None)
    assert no_token.returncode == 2 and "OSAI_TOKEN is not set" in no_token.stderr


def test_a_run_holding_the_journal_keeps_verify_out(tmp_path: Path) -> None:
    config = quickstart(tmp_path)
    assert osai_import.upload(config, progress=False).exit_code == 0
    with locked_journal(config.parent / ".osai-import"):
        busy = verify_cli(config)
    assert busy.returncode == 3
    assert "an osai-import run is using this journal; verify once it has ended" in busy.stderr
    assert verify_cli(config).returncode == 0


def test_help_documents_every_exit_code() -> None:
    from click.testing import CliRunner

    from osai_import.cli import cli

    shown = CliRunner().invoke(cli, ["verify", "--help"])
    assert shown.exit_code == 0
    for line in ("0  every image checked, and all match",
                 "1  some image differs, or something could not be checked",
                 "2  usage or config error", "3  the server or the journal cannot be",
                 "4  the server offers no way to read a dataset back"):
        assert line in shown.output
    assert "--json" in shown.output and "--report" in shown.output


def test_verify_is_public_and_wins_over_its_stage_package() -> None:
    import importlib

    from osai_import import api
    from osai_import.verify.report import VerifyReport

    importlib.import_module("osai_import.verify.verifier")  # sets the package attribute, or would
    assert {"verify", "VerifyReport"} <= set(osai_import.__all__)
    assert osai_import.verify is api.verify
    assert osai_import.VerifyReport is VerifyReport


def test_the_python_api_doc_shows_verify_with_its_exact_signature() -> None:
    from tests.api.test_python_api_doc import DOC, _shown

    text = DOC.read_text(encoding="utf-8")
    assert f"`{_shown(osai_import.verify)}`" in text
    assert "## 3b. Verify what arrived" in text and "`VerifyReport`" in text
