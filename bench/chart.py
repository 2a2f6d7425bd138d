"""Charts of a benchmark run (matplotlib, pinned by scripts/bench.sh).

    python bench/chart.py RESULTS_JSON OUT_DIR

throughput.png: ops/s of every row, grouped by scenario, baselines hatched, log scale.
latency.png:    p50 and p99 of every row, log scale.
checks.png:     each target's measured ratio against its goal, with its 95 % interval where it has one.
"""
import json
import textwrap
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

MODE_COLORS = {"batch": "#2b7bb9", "single": "#d9822b", None: "#6a6a6a"}


def label(row):
    mode = f" [{row['mode']}]" if row.get("mode") else ""
    text = f"{row['scenario'][:2]} {row['variant']}{mode}"
    return text if len(text) <= 78 else text[:75] + "…"


def throughput_chart(rows, machine, out):
    rows = [r for r in rows if r.get("throughput", 0) > 0]
    fig, ax = plt.subplots(figsize=(13, 0.32 * len(rows) + 1.8))
    ys = list(range(len(rows)))[::-1]
    for y, r in zip(ys, rows):
        ax.barh(y, r["throughput"], color=MODE_COLORS.get(r.get("mode")), hatch="//" if r.get("baseline") else None,
                edgecolor="black" if r.get("baseline") else "none", linewidth=0.5)
        ax.text(r["throughput"] * 1.05, y, f"{r['throughput']:,.0f}", va="center", fontsize=7)
    ax.set_yticks(ys)
    ax.set_yticklabels([label(r) for r in rows], fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("operations per second (log scale); hatched = baseline; blue = batch cluster, orange = single, grey = no cluster")
    ax.set_title(f"Throughput — {machine['cpu']}, {machine['cores']} cores, node {machine['node']}, Envoy {machine['envoy']}", fontsize=9)
    ax.grid(axis="x", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "throughput.png", dpi=110)
    plt.close(fig)


def latency_chart(rows, out):
    rows = [r for r in rows if r.get("p50_ms") is not None and r.get("p50_ms") == r.get("p50_ms") and r.get("p50_ms", 0) > 0]
    fig, ax = plt.subplots(figsize=(13, 0.32 * len(rows) + 1.8))
    ys = list(range(len(rows)))[::-1]
    h = 0.38
    ax.barh([y + h / 2 for y in ys], [r["p50_ms"] for r in rows], height=h, color="#4c9f70", label="p50")
    ax.barh([y - h / 2 for y in ys], [r["p99_ms"] for r in rows], height=h, color="#c44e52", label="p99")
    ax.set_yticks(ys)
    ax.set_yticklabels([label(r) for r in rows], fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("milliseconds (log scale); for 07-lag: replication lag; for raw SQLite: per commit")
    ax.set_title("Latency p50 / p99", fontsize=9)
    ax.grid(axis="x", which="both", alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(out / "latency.png", dpi=110)
    plt.close(fig)


def checks_chart(checks, out):
    if not checks:
        return
    fig, ax = plt.subplots(figsize=(12, 0.6 * len(checks) + 1.4))
    ys = list(range(len(checks)))[::-1]
    for y, c in zip(ys, checks):
        goal = float(c["goal"].split()[-1])
        interval = c.get("interval")
        # A ratio of p99s carries its 95 % bootstrap interval, drawn as an error bar.
        xerr = [[c["ratio"] - interval[0]], [interval[1] - c["ratio"]]] if interval else None
        ax.barh(y, c["ratio"], color="#4c9f70" if c["met"] else "#c44e52", xerr=xerr, capsize=3)
        ax.plot([goal, goal], [y - 0.4, y + 0.4], color="black", linewidth=1.5)
        right = max(c["ratio"], goal, interval[1] if interval else 0)
        label = f"{c['ratio']:.2f}" + (f" ({interval[0]:.2f}–{interval[1]:.2f})" if interval else "")
        ax.text(right * 1.08, y, f"{label} (goal {c['goal']})", va="center", fontsize=7)
    ax.set_yticks(ys)
    ax.set_yticklabels([textwrap.fill(c["target"], 48) for c in checks], fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("measured ratio (log scale); black tick = goal; green = met, red = missed; error bar = 95 % bootstrap interval")
    ax.set_title("Targets", fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "checks.png", dpi=110)
    plt.close(fig)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    results = json.loads(Path(sys.argv[1]).read_text())
    out = Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    throughput_chart(results["rows"], results["machine"], out)
    latency_chart(results["rows"], out)
    checks_chart(results["checks"], out)
    print(f"chart: wrote {out}/throughput.png, latency.png, checks.png")


if __name__ == "__main__":
    main()
