"""Markdown tables of benchmark rows (see ``run.run_one`` for the fields)."""

from __future__ import annotations

from benchmarks.workloads import ME


def _time(row):
    if row["status"] == "ok" and row["time_s"] is not None:
        n = len(row["times"])
        return f"{row['time_s']:.3g} s" + ("" if n >= 3 else f" (n={n})")
    if row["impl"] == ME and row["status"] == "not implemented":
        return "pending"
    return row["status"]


def _num(x, fmt):
    return "" if x is None else format(x, fmt)


def _note(row):
    if row.get("flag"):
        return f"**llf differs by {row['dllf']:+.4g}**"
    if row["status"] != "ok":
        return row["message"].replace("|", "/")[:120]
    return ""


def ratio_rows(rows, keys):
    """Per workload: statsmodels_me time, best peer and their ratio."""
    out = []
    for key in keys:
        mine = [r for r in rows if r["workload"] == key and r["impl"] == ME
                and r["threads"] == 1]
        peers = [r for r in rows if r["workload"] == key and r["impl"] != ME
                 and r["status"] == "ok" and r["time_s"] is not None]
        best = min(peers, key=lambda r: r["time_s"]) if peers else None
        me_t = mine[0]["time_s"] if mine and mine[0]["status"] == "ok" else None
        ratio = me_t / best["time_s"] if (me_t is not None and best) else None
        out.append((key, me_t, best, ratio))
    return out


def markdown(rows, info, keys):
    """Render the results table, the ratio table and the machine line."""
    lines = [f"Measured {info['date']} on {info['nproc']} x {info['cpu']} "
             f"(Python {info['python']}; {info.get('r') or 'no R'}).",
             f"Command: `{info.get('command', '')}`"]
    for run in info.get("earlier_runs", []):
        lines.append(f"Merged with rows measured {run['date']}: `{run.get('command', '')}`")
    lines += ["",
             "| W | implementation | version | time (median) | peak MB | llf "
             "| llf - statsmodels_me | note |",
             "|---|---|---|---|---|---|---|---|"]
    for key in keys:
        for r in (r for r in rows if r["workload"] == key):
            lines.append(f"| {key} | {r['label']} | {r.get('version') or ''} | {_time(r)} "
                         f"| {_num(r['peak_mb'], '.0f')} | {_num(r['llf'], '.3f')} "
                         f"| {_num(r.get('dllf'), '+.2e')} | {_note(r)} |")
    lines += ["", "| W | statsmodels_me (s) | best peer | best peer (s) "
              "| statsmodels_me / best peer |", "|---|---|---|---|---|"]
    for key, me_t, best, ratio in ratio_rows(rows, keys):
        lines.append(f"| {key} | {'pending' if me_t is None else format(me_t, '.3g')} "
                     f"| {best['label'] if best else '-'} "
                     f"| {_num(best['time_s'] if best else None, '.3g')} "
                     f"| {_num(ratio, '.2f')} |")
    return "\n".join(lines)
