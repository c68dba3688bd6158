"""Regenerate every README.md block that carries figures from the stamped artifacts: the
performance and soak tables from the newest bench results, the threshold and tiers tables and
the model's figures from models/current (bench/docs.py).

    python -m bench.report [--check]      # or: make docs

Each block sits between `<!-- NAME:begin -->` and `<!-- NAME:end -->` (bench, soak, tiers,
thresholds, model); nothing else in the README is touched. `--check` exits 1 when the README
is not what the artifacts give (a stale block); tests/test_readme.py runs the same check.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from bench import docs

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
README = ROOT / "README.md"


def newest(kind: str) -> tuple[Path, dict[str, Any]] | None:
    """The newest stamped result of a kind ('bench': has rows; 'soak': has outcomes)."""
    found = []
    for path in RESULTS.glob("*.json"):
        doc = json.loads(path.read_text())
        if "commit" in doc and ("rows" in doc if kind == "bench" else "outcomes" in doc):
            found.append((doc["date"], path.name, path, doc))
    if not found:
        return None
    _, _, path, doc = max(found)
    return path, doc


def _header(path: Path, r: dict[str, Any]) -> str:
    m = r["machine"]
    return (
        f"`{path.relative_to(ROOT)}`: commit `{r['commit'][:12]}`, model `{r['model_version']}`,"
        f" tier {r['tier']} on {r['device']}, {m['cpus']} cores ({m['cpu_model']}),"
        f" {m['memory_gib']} GiB, {r['date'][:10]}."
    )


def bench_table(path: Path, r: dict[str, Any]) -> str:
    c, st = r["ceiling"], r["stages_s"]
    lines = [
        _header(path, r),
        "",
        "| scenario | snippets/s | × ceiling | p50 / p95 / p99 ms |",
        "|---|---|---|---|",
        f"| ceiling: in-process Scorer, best batch | {c['best']:.1f} | 1.00 | |",
    ]
    for row in r["rows"]:
        lat = (
            f"{row['p50_ms']:.0f} / {row['p95_ms']:.0f} / {row['p99_ms']:.0f}"
            if "p50_ms" in row
            else ""
        )
        lines.append(f"| {row['scenario']} | {row['per_s']:.1f} | {row['ratio']:.2f} | {lat} |")
    lines += [
        "",
        f"Per stage over the set (in-process, batch 64, best of 3): encoder {st['encoder']:.2f} s,"
        f" signals {st['signals']:.2f} s (parsers included), lexical estimate"
        f" {st.get('lexical', 0.0):.3f} s, head {st['head']:.3f} s: the whole"
        f" scorer costs {st['total_over_encoder']:.3f}× the encoder's forward passes. Idle single"
        f" snippet: {r['single_p50_ms']:.1f} ms served vs {c['single_p50_ms']:.1f} ms in-process."
        f" The same set sent twice: {r['cache']['speedup']:.0f}× (the result cache). Server peak"
        f" RSS {r['server_peak_rss_mib']:.0f} MiB."
        + (
            f" The ceiling measured again after the served runs: {c['after_served']:.1f}/s"
            " (the VM's own drift between phases)."
            if "after_served" in c
            else ""
        ),
    ]
    return "\n".join(lines + tiers_table(r))


def tiers_table(r: dict[str, Any]) -> list[str]:
    """The tiers side by side (in-process, same set), as ratios to the full tier's ceiling."""
    t = r.get("tiers")
    if not t:
        return []
    best = r["ceiling"]["best"]
    lines = [
        "",
        "| tier (in-process, same set) | snippets/s | × full ceiling | grouped-CV F1 | Spearman |"
        " sent to the encoder |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in t["in_process"].items():
        cv = t["cv"].get(name, {})
        lines.append(
            f"| {name} | {row['per_s']:.1f} | {row['per_s'] / best:.2f} |"
            f" {cv.get('f1_keep', float('nan')):.3f} | {cv.get('spearman', float('nan')):.3f} |"
            f" {row['escalated_share']:.1%} |"
        )
    st = t["fast_stages_s"]
    lines += ["", "Fast tier per stage over the set: " + ", ".join(
        f"{k} {v:.3f} s" for k, v in st.items())]  # fmt: skip
    if "fast_server" in t:
        f = t["fast_server"]
        band = t["cv"].get("cascade", {}).get("band", ["?", "?"])
        where = (
            f" in {f['processes']} processes together (the server's own {f['server_rss_mib']:.0f})"
            if "processes" in f
            else ""
        )
        lines[-1] += (
            f". A server started `--tier fast` was SERVING {f['ready_s']:.1f} s after launch"
            f" (process start to health SERVING), peak RSS {f['peak_rss_mib']:.0f} MiB{where},"
            f" PyTorch {'mapped' if f['torch_loaded'] else 'never loaded'}. The cascade sends"
            f" fast scores in [{band[0]}, {band[1]}) to the encoder at the default threshold."
        )
    return lines + cascade_lines(t, best)


def cascade_lines(t: dict[str, Any], best: float) -> list[str]:
    """The cascade at the thresholds users set: its band, speed and out-of-fold fidelity."""
    rows = t.get("cascade_lines")
    if not rows:
        return []
    lines = [
        "",
        "| cascade at threshold | band | in-process × full ceiling | served × | escalated"
        " (this set / out of fold) | keep decisions as `full`, out of fold |",
        "|---|---|---|---|---|---|",
    ]
    for line, c in rows.items():
        served = c.get("served_per_s")
        lines.append(
            f"| {line} | [{c['band'][0]:g}, {c['band'][1]:g}) | {c['per_s'] / best:.2f} |"
            f" {'' if served is None else f'{served / best:.2f}'} | {c['escalated_share']:.1%}"
            f" / {c['oof_escalated_share']:.1%} | {c['oof_agreement']:.2%} |"
        )
    return lines


def soak_table(path: Path, r: dict[str, Any]) -> str:
    rss, out = r["rss_mib"], r["outcomes"]
    slope = rss.get("second_half_slope_mib_per_min") or float("nan")
    refused = ", ".join(f"{v} {k}" for k, v in sorted(out.items()) if k != "OK") or "none"
    return "\n".join(
        [
            _header(path, r),
            "",
            "| seconds | clients (unary/batch/stream) | requests | OK | refused | scored |"
            " crossed | RSS start → max MiB | late slope MiB/min |",
            "|---|---|---|---|---|---|---|---|---|",
            f"| {r['seconds']:.0f} | {r['clients']['unary']}/{r['clients']['batch']}/"
            f"{r['clients']['stream']} | {sum(r['requests'].values())} | {out.get('OK', 0)} |"
            f" {refused} | {r['items_scored']} | {r['mismatched']} | {rss['start']:.0f} →"
            f" {rss['max']:.0f} | {slope:+.2f} |",
            "",
            f"Healthy afterwards: {r['healthy_after']}; unexplained errors:"
            f" {r['unexplained_errors'] or 'none'}.",
        ]
    )


def blocks() -> dict[str, str]:
    """Every generated block of the README, by marker name."""
    bench, soak = newest("bench"), newest("soak")
    out = {
        "bench": bench_table(*bench) if bench else "(no stamped bench result yet)",
        "soak": soak_table(*soak) if soak else "(no stamped soak result yet)",
    }
    return {**out, **docs.blocks(bench[1] if bench else None)}


def render(text: str) -> str:
    for name, body in blocks().items():
        pattern = re.compile(rf"(<!-- {name}:begin -->\n).*?(<!-- {name}:end -->)", re.S)
        text = pattern.sub(lambda m, b=body: m.group(1) + b + "\n" + m.group(2), text)
    return text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if the README is stale")
    args = ap.parse_args(argv)
    text = README.read_text()
    new = render(text)
    if args.check:
        return 0 if new == text else 1
    README.write_text(new)
    print("README.md tables regenerated" if new != text else "README.md already up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
