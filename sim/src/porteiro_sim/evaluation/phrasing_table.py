"""The README's table of phrasings, from `make eval` JSON reports.

For each phrasing the callers used ("intent:É uma visita.", "apartment:words+bloco"), the share of
its lines whose values were all found in what the recogniser wrote, per report and over all of
them:

    python -m porteiro_sim.evaluation.phrasing_table var/eval-sample.json var/eval-blocks.json
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from porteiro_sim.evaluation.scoring import Rate


@dataclass(frozen=True)
class Report:
    label: str  # "sample, seed 21"
    phrasings: dict[str, Rate]


def load_report(path: Path) -> Report:
    document = json.loads(path.read_text(encoding="utf-8"))
    settings = document.get("settings", {})
    data = Path(str(settings.get("data") or "sample condominium")).stem
    label = f"{data}, seed {settings.get('seed', '?')}, {settings.get('calls', '?')} calls"
    rates = document.get("summary", {}).get("phrasings", {})
    return Report(label, {name: Rate(rate["count"], rate["total"]) for name, rate in rates.items()})


def markdown_table(reports: Sequence[Report]) -> str:
    """One row per phrasing (grouped by the question it answers), a column per report and the total."""
    names = sorted({name for report in reports for name in report.phrasings}, key=_group_then_name)
    header = ["Phrasing", *(report.label for report in reports)] + (["all"] if len(reports) > 1 else [])
    rows = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name in names:
        rates = [report.phrasings.get(name) for report in reports]
        cells = [_cell(rate) for rate in rates]
        if len(reports) > 1:
            present = [rate for rate in rates if rate is not None]
            cells.append(
                _cell(Rate(sum(rate.count for rate in present), sum(rate.total for rate in present)))
            )
        rows.append(f"| {_readable(name)} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _group_then_name(name: str) -> tuple[str, str]:
    group, _, rest = name.partition(":")
    return group, rest


def _readable(name: str) -> str:
    """ "intent:É uma visita." -> 'intent: "É uma visita."'; structural names stay as they are."""
    group, _, rest = name.partition(":")
    if rest and (rest[-1] in ".?!" or "{" in rest):
        return f'{group}: "{rest}"'.replace("|", "\\|")
    return name.replace("|", "\\|")


def _cell(rate: Rate | None) -> str:
    return "—" if rate is None or not rate.total else str(rate)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("reports", nargs="+", type=Path, help="JSON reports of porteiro-eval --json")
    args = parser.parse_args(argv)
    print(markdown_table([load_report(path) for path in args.reports]))


if __name__ == "__main__":
    main()
