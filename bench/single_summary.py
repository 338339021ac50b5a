"""The summary of a bench/single.sh run (its output directory as the argument): per round, the
single-log rates and latencies of the peer, A (and B), PostgreSQL's per-row ceiling and the
ratios, then the median of each ratio and its range over the rounds."""
from __future__ import annotations

import json
import re
import statistics
import sys
from pathlib import Path


def main(out: Path) -> None:
    pattern = re.compile(r"^run \d+: single on \d+ connection\(s\), [\d.]+ s: ([\d,]+) logs/s", re.M)
    ceilings = [float(m.group(1).replace(",", "")) for m in pattern.finditer((out / "ceiling.txt").read_text())]
    groups: dict[tuple[int, str], float] = {}
    for line in (out / "groups.txt").read_text().splitlines():
        round_, scenario, rows0, commits0, rows1, commits1 = line.split()
        commits = int(commits1) - int(commits0)
        groups[int(round_), scenario] = (int(rows1) - int(rows0)) / commits if commits else 0.0
    by_round = {}
    for path in sorted(out.glob("round*.json")):
        round_ = int(re.match(r"round(\d+)", path.name).group(1))
        by_round.setdefault(round_, []).extend(json.loads(path.read_text())["runs"])
    targets = sorted({run["target"] for runs in by_round.values() for run in runs},
                     key=lambda name: {"peer": 0, "A": 1, "B": 2}.get(name, 3))
    ratios: dict[str, list[float]] = {}
    lines = ["| round | c16 req/s (" + " / ".join(targets) + ") | ceiling logs/s | A ÷ peer | A ÷ ceiling"
             + (" | A ÷ B" if "B" in targets else "") + " | c16 p99 ms (" + " / ".join(targets)
             + ") | c1 mean ms (" + " / ".join(targets) + ") | A rows per commit c16 / c1 |",
             "|---" * (8 + ("B" in targets)) + "|"]
    for index, round_ in enumerate(sorted(by_round)):
        c16 = {t: next(r for r in by_round[round_] if r["target"] == t and r["scenario"] == "post_single@c16")
               for t in targets}
        c1 = {t: next(r for r in by_round[round_] if r["target"] == t and r["scenario"] == "post_single@c1")
              for t in targets}
        ceiling = ceilings[index] if index < len(ceilings) else float("nan")
        row = {"A ÷ peer": c16["A"]["req_s"] / c16["peer"]["req_s"], "A ÷ ceiling": c16["A"]["req_s"] / ceiling}
        if "B" in targets:
            row["A ÷ B"] = c16["A"]["req_s"] / c16["B"]["req_s"]
            row["c1 mean A − B ms"] = c1["A"]["mean_ms"] - c1["B"]["mean_ms"]
        for name, value in row.items():
            ratios.setdefault(name, []).append(value)
        lines.append(
            f"| {round_} | " + " / ".join(f"{c16[t]['req_s']:,.0f}" for t in targets) + f" | {ceiling:,.0f} | "
            + " | ".join(f"{row[k]:.2f}" for k in ("A ÷ peer", "A ÷ ceiling", "A ÷ B") if k in row)
            + " | " + " / ".join(f"{c16[t]['p99_ms']:.1f}" for t in targets)
            + " | " + " / ".join(f"{c1[t]['mean_ms']:.2f}" for t in targets)
            + f" | {groups.get((round_, 'post_single'), 0):.1f} / {groups.get((round_, 'post_single@c1'), 0):.2f} |")
    lines.append("")
    for name, values in ratios.items():
        lines.append(f"- {name}: median {statistics.median(values):.2f} (range {min(values):.2f}–{max(values):.2f})")
    print("\n".join(lines))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
