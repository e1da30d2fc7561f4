"""`make bench`: runs the benchmark scripts and prints ONE table, every figure of issue 10's
"Targets" table beside its target. Each script prints its figures as ``#row`` lines
(``_rows.py``); a script that measures another figure only has to be added to ``SCRIPTS``.

    .venv/bin/python benchmarks/targets.py [--quick] [--repeats N]

``--quick``: fewer accounts and repeats (a smoke run, not the figures of the targets).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from _rows import parse_rows  # noqa: E402

# The Targets table of issue 10, in its order; each figure is matched to a row by its prefix.
TARGETS = [
    ("full cycle", "<= 1.25x the reference client"),
    ("exporter CPU", "<= 40 ms"),
    ("resident memory", "< 200 MB"),
    ("/metrics p99", "< 50 ms"),
    ("AWS calls per account per hour", "<= 40"),
    ("discovery of", "< 30 s"),
]


def scripts(args: argparse.Namespace) -> list[list[str]]:
    if args.quick:
        scale = [
            "all",
            "--accounts",
            "100",
            "--repeats",
            "1",
            "--memory-accounts",
            "500",
            "--ous",
            "20",
            "--samples",
            "3",
            "--discovery-repeats",
            "1",
        ]
        scrape = ["--accounts", "500", "--runs", "1", "--scrapes", "50"]
    else:
        scale = ["all", "--repeats", str(args.repeats)]
        scrape = ["--runs", str(args.repeats)]
    return [
        ["bench_scale.py", *scale],
        ["bench_scrape_live.py", *scrape],
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat")
    parser.add_argument("--repeats", type=int, default=3, help="runs per timed figure (default 3; medians)")
    args = parser.parse_args()
    rows: list[dict] = []
    started = time.monotonic()
    for script in scripts(args):
        command = [sys.executable, os.path.join(HERE, script[0]), *script[1:]]
        print("$ " + " ".join(command[1:]), flush=True)
        process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=os.path.dirname(HERE))
        output = []
        for line in process.stdout:
            output.append(line)
            if not line.startswith("#row "):
                sys.stdout.write("  " + line)
        process.wait()
        if process.returncode:
            print(f"  {script[0]} exited with {process.returncode}", flush=True)
        rows += parse_rows("".join(output))
    print(
        f"\n== issue 10 targets ({time.monotonic() - started:.0f} s{', --quick: NOT the target sizes' if args.quick else ''})"
    )
    width = max(len(row["figure"]) for row in rows) if rows else 40
    print(f"| {'figure':<{width}} | measured | target | met |")
    print(f"|{'-' * (width + 2)}|---|---|---|")
    missing = 0
    for prefix, target in TARGETS:
        matching = [row for row in rows if row["figure"].startswith(prefix) or prefix in row["figure"]]
        if not matching:
            missing += 1
            print(f"| {prefix:<{width}} | not measured (its script failed?) | {target} | - |")
        for row in matching:
            met = {True: "yes", False: "NO", None: "-"}[row["met"]]
            note = f" ({row['note']})" if row.get("note") else ""
            print(f"| {row['figure']:<{width}} | {row['value']}{note} | {row['target']} | {met} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
