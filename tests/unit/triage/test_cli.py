"""`emsync triage evaluate` and `emsync risk evaluate` on small slices in the original formats."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

from typer.testing import CliRunner

from emsync.triage.cli import risk_app, triage_app
from tests.shared_data import shared_data_dir

runner = CliRunner()


def ktas_slice(tmp_path: Path, rows: int = 120) -> Path:
    raw = (shared_data_dir() / "ktas" / "ktas_train.csv").read_bytes()
    lines = raw.split(b"\r\n")
    path = tmp_path / "slice.csv"
    path.write_bytes(b"\r\n".join(lines[: rows + 1]) + b"\r\n")
    return path


def physionet_slice(tmp_path: Path, records: int = 80) -> Path:
    source = shared_data_dir() / "physionet2012"
    target = tmp_path / "held-out"
    folder = target / "set-x"
    folder.mkdir(parents=True)
    kept: list[str] = []
    with tarfile.open(source / "set-a.tar.gz", "r:gz") as tar:
        for member in tar:
            if member.isfile() and member.name.endswith(".txt"):
                handle = tar.extractfile(member)
                assert handle is not None
                (folder / Path(member.name).name).write_bytes(handle.read())
                kept.append(Path(member.name).stem)
                if len(kept) == records:
                    break
    outcomes = (source / "Outcomes-a.txt").read_text().splitlines()
    wanted = set(kept)
    lines = [outcomes[0], *(o for o in outcomes[1:] if o.split(",")[0] in wanted)]
    (target / "Outcomes-x.txt").write_text("\n".join(lines) + "\n")
    return target


def test_triage_evaluate_writes_json_and_plot(tmp_path: Path) -> None:
    data = ktas_slice(tmp_path)
    out, plot = tmp_path / "report.json", tmp_path / "plot.png"
    result = runner.invoke(
        triage_app,
        [
            "evaluate",
            "--data",
            str(data),
            "--mode",
            "review",
            "--json",
            str(out),
            "--plot",
            str(plot),
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["mode"] == "review"
    assert report["metrics"]["n"] == 120
    assert sum(map(sum, report["metrics"]["confusion_matrix"])) == 120
    assert 0 <= report["metrics"]["under_triage_rate"] <= 1
    assert report["in_sample"] is False
    assert plot.read_bytes().startswith(b"\x89PNG")


def test_triage_evaluate_rejects_a_file_in_another_format(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("x;y\r\n1;2\r\n")
    result = runner.invoke(triage_app, ["evaluate", "--data", str(path)])
    assert result.exit_code == 2


def test_risk_evaluate_on_a_held_out_folder(tmp_path: Path) -> None:
    data = physionet_slice(tmp_path)
    out, plot = tmp_path / "risk.json", tmp_path / "risk.png"
    result = runner.invoke(
        risk_app, ["evaluate", "--data", str(data), "--json", str(out), "--plot", str(plot)]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    windows = {w["window_hours"]: w for w in report["windows"]}
    assert set(windows) == {6.0, 12.0, 24.0, 48.0}
    assert 0.0 <= windows[48.0]["model"]["auroc"] <= 1.0
    assert windows[48.0]["news2_mean"]["n"] == windows[48.0]["model"]["n"]
    assert plot.read_bytes().startswith(b"\x89PNG")


def test_risk_evaluate_reads_a_tarball_too(tmp_path: Path) -> None:
    folder = physionet_slice(tmp_path, records=40)
    with tarfile.open(folder / "set-x.tar.gz", "w:gz") as tar:
        tar.add(folder / "set-x", arcname="set-x")
    for path in (folder / "set-x").iterdir():
        path.unlink()
    (folder / "set-x").rmdir()
    result = runner.invoke(risk_app, ["evaluate", "--data", str(folder)])
    assert result.exit_code == 0, result.output


def test_risk_evaluate_refuses_a_folder_without_outcomes(tmp_path: Path) -> None:
    result = runner.invoke(risk_app, ["evaluate", "--data", str(tmp_path)])
    assert result.exit_code == 2
