"""The README's phrasing table is built from eval JSON reports."""

from __future__ import annotations

import json
from pathlib import Path

from porteiro_sim.evaluation.phrasing_table import load_report, markdown_table


def _report(path: Path, data: str | None, seed: int, phrasings: dict[str, tuple[int, int]]) -> Path:
    document = {
        "settings": {"calls": 2, "seed": seed, "data": data},
        "summary": {
            "phrasings": {
                name: {"count": c, "total": t, "percent": 0.0} for name, (c, t) in phrasings.items()
            }
        },
    }
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_rows_per_phrasing_columns_per_report_and_their_total(tmp_path: Path) -> None:
    sample = _report(
        tmp_path / "a.json", None, 21, {"intent:É uma visita.": (1, 4), "apartment:digits": (0, 2)}
    )
    blocks = _report(
        tmp_path / "b.json",
        "tests/directory/data/condominio_blocos.yaml",
        21,
        {"intent:É uma visita.": (3, 4)},
    )
    table = markdown_table([load_report(sample), load_report(blocks)]).splitlines()
    assert table[0] == (
        "| Phrasing | sample condominium, seed 21, 2 calls | condominio_blocos, seed 21, 2 calls | all |"
    )
    assert table[2] == "| apartment:digits | 0/2 (0%) | — | 0/2 (0%) |"  # grouped: apartment before intent
    assert table[3] == '| intent: "É uma visita." | 1/4 (25%) | 3/4 (75%) | 4/8 (50%) |'


def test_one_report_has_no_total_column(tmp_path: Path) -> None:
    report = _report(tmp_path / "a.json", None, 5, {"confirmation:Sim.": (2, 2)})
    table = markdown_table([load_report(report)]).splitlines()
    assert table[0] == "| Phrasing | sample condominium, seed 5, 2 calls |"
    assert table[2] == '| confirmation: "Sim." | 2/2 (100%) |'
