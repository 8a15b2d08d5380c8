"""The A/B report: the JSON written as is, one self-contained HTML page (every plot an
inline SVG drawn by matplotlib, no external file or script) and the terminal table.

Figures (each a ``<figure id=...>`` of the page): ``fig-deltas`` every metric's lift
B / A - 1 with its interval, coloured by verdict; ``fig-channels`` each channel's share
of the final lists and its recall; ``fig-curves`` the long-tail and coverage curves;
``fig-counterfactual`` the counterfactual estimates of the reward lift next to the
simulated-online truth and its interval.
"""

from __future__ import annotations

import html
import io
import json
from pathlib import Path
from typing import Any

COLOURS = {"better": "#1b7f3b", "worse": "#b3261e", "higher": "#1f5fa8", "lower": "#8a5a00"}
GREY = "#777777"
A_COLOUR, B_COLOUR = "#4c72b0", "#dd8452"


def rows(report: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(group, metric, comparison) for every compared metric, in report order."""
    out = [("replay", name, cmp) for name, cmp in report["replay"].items()]
    for name, row in report["channels"].items():
        out += [("channel " + name, key, cmp) for key, cmp in row.items()
                if isinstance(cmp, dict) and "verdict" in cmp]
    out.append(("simulated online", "complete plays (expected)", report["online"]["truth"]))
    out.append(("simulated online", "complete plays (sampled)", report["online"]["sampled"]))
    out.append(("interleaving", "team credit (expected)", report["online"]["interleaving"]["expected_credit"]))
    for outcome, block in report["counterfactual"].items():
        out += [(f"counterfactual {outcome}", est.upper(), cmp) for est, cmp in block["estimates"].items()]
    return out


def _svg(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "none", "font.size": 9})
    return plt


def deltas_plot(report: dict[str, Any]) -> str:
    plt = _figure()
    items = [(g, m, c) for g, m, c in rows(report)  # channels have their own figure
             if c.get("lift") is not None and c.get("lift_ci") and not g.startswith("channel")]
    fig, ax = plt.subplots(figsize=(8, 0.28 * len(items) + 1.2))
    for y, (_group, _metric, cmp) in enumerate(reversed(items)):
        low, high = cmp["lift_ci"]
        colour = COLOURS.get(cmp["verdict"], GREY)
        ax.errorbar([100 * cmp["lift"]], [y], xerr=[[100 * (cmp["lift"] - low)], [100 * (high - cmp["lift"])]],
                    fmt="o", color=colour, ms=4, capsize=2)
    ax.set_yticks(range(len(items)))
    ax.set_yticklabels([f"{g}: {m}" for g, m, _ in reversed(items)])
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel(f"B / A - 1 (%), {int(100 * report['settings']['ab']['confidence'])}% paired bootstrap interval")
    ax.set_title("Lift of B over A (green better, red worse, grey no detectable difference)")
    ax.grid(axis="x", alpha=0.3)
    return _svg(fig)


def channels_plot(report: dict[str, Any]) -> str:
    plt = _figure()
    names = list(report["channels"])
    ks = report["settings"]["evaluation"]["recall_ks"]
    key = f"recall@{max(ks)}"
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    x = range(len(names))
    for ax, what, title in ((axes[0], "share", "share of the final lists"),
                            (axes[1], key, f"channel {key} (held-out completes)")):
        if what == "share":
            va = [report["channels"][n]["share"]["a"] for n in names]
            vb = [report["channels"][n]["share"]["b"] for n in names]
        else:
            va = [report["channels"][n]["mean_" + what]["a"] or 0.0 for n in names]
            vb = [report["channels"][n]["mean_" + what]["b"] or 0.0 for n in names]
        ax.bar([i - 0.2 for i in x], va, 0.4, label="A", color=A_COLOUR)
        ax.bar([i + 0.2 for i in x], vb, 0.4, label="B", color=B_COLOUR)
        ax.set_xticks(list(x))
        ax.set_xticklabels(names, rotation=30, ha="right")
        ax.set_title(title)
        ax.legend()
    fig.suptitle("Per-channel contribution")
    return _svg(fig)


def curves_plot(report: dict[str, Any]) -> str:
    plt = _figure()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for side, colour in (("a", A_COLOUR), ("b", B_COLOUR)):
        name = report["arms"][side]["name"]
        curve = report["curves"][name]
        lt = curve["long_tail"]
        axes[0].plot([0] + lt["x"], [0] + lt["y"], color=colour, label=f"{side.upper()} ({name})")
        axes[1].plot(range(1, len(curve["coverage"]) + 1), curve["coverage"], color=colour,
                     label=f"{side.upper()} ({name})")
    axes[0].plot([0, 1], [0, 1], color=GREY, ls="--", lw=0.8, label="uniform over the catalogue")
    axes[0].set_xscale("symlog", linthresh=0.01)
    axes[0].set_xlabel("most played share of the catalogue")
    axes[0].set_ylabel("share of all listed slots")
    axes[0].set_title("Long tail: where the list slots go")
    axes[1].set_xlabel("list cut-off k")
    axes[1].set_ylabel("catalogue coverage@k")
    axes[1].set_title("Coverage")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend()
    return _svg(fig)


def counterfactual_plot(report: dict[str, Any]) -> str:
    plt = _figure()
    online = report["online"]
    truth = online["truth"]
    block = report["counterfactual"][online["outcome"]]
    items = [("simulated online (truth)", truth), ("simulated online (sampled)", online["sampled"])]
    items += [(f"counterfactual {est.upper()}", cmp) for est, cmp in block["estimates"].items()]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
    ax = axes[0]
    if truth.get("lift_ci"):
        ax.axvspan(100 * truth["lift_ci"][0], 100 * truth["lift_ci"][1], color="#cfe3cf", label="truth's interval")
    for y, (label, cmp) in enumerate(reversed(items)):
        if cmp.get("lift") is None or not cmp.get("lift_ci"):
            continue
        low, high = cmp["lift_ci"]
        ax.errorbar([100 * cmp["lift"]], [y], xerr=[[100 * (cmp["lift"] - low)], [100 * (high - cmp["lift"])]],
                    fmt="o", color="black" if "truth" in label else COLOURS.get(cmp["verdict"], GREY), capsize=2)
    ax.set_yticks(range(len(items)))
    ax.set_yticklabels([label for label, _ in reversed(items)])
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel("complete plays: B / A - 1 (%)")
    ax.set_title("Counterfactual vs simulated online: the lift")
    ax.legend(loc="lower right")
    ax = axes[1]
    labels = [label.replace("counterfactual ", "").replace("simulated online ", "online ") for label, _ in items]
    ax.bar([i - 0.2 for i in range(len(items))], [c["a"] for _, c in items], 0.4, color=A_COLOUR, label="A")
    ax.bar([i + 0.2 for i in range(len(items))], [c["b"] for _, c in items], 0.4, color=B_COLOUR, label="B")
    ax.set_xticks(range(len(items)))
    ax.set_xticklabels(labels, rotation=30, ha="right")
    ax.set_ylabel(f"complete plays in the first {online['reward_length']}")
    ax.set_title("The levels (the log records sessions that end)")
    ax.legend()
    return _svg(fig)


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return html.escape(str(value))


def _table(items: list[tuple[str, str, dict[str, Any]]]) -> str:
    head = ("<tr><th>group</th><th>metric</th><th>A</th><th>B</th><th>B - A</th><th>interval</th>"
            "<th>lift</th><th>verdict</th><th>listeners needed</th></tr>")
    body = []
    for group, metric, c in items:
        lift = f"{100 * c['lift']:+.1f}%" if c.get("lift") is not None else "-"
        body.append(
            f"<tr class='{c['verdict'].replace(' ', '-')}'><td>{html.escape(group)}</td><td>{html.escape(metric)}</td>"
            f"<td>{_fmt(c['a'])}</td><td>{_fmt(c['b'])}</td><td>{c['diff']:+.4f}</td>"
            f"<td>[{c['ci_low']:+.4f}, {c['ci_high']:+.4f}]</td><td>{lift}</td>"
            f"<td>{html.escape(c['verdict'])}</td><td>{_fmt(c.get('required_n'))}</td></tr>")
    return f"<table>{head}{''.join(body)}</table>"


STYLE = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;font-size:13px;margin:1em 0}td,th{border:1px solid #ddd;padding:3px 7px;text-align:right}
td:first-child,td:nth-child(2),th{text-align:left}tr.better td:nth-child(8){color:#1b7f3b;font-weight:bold}
tr.worse td:nth-child(8){color:#b3261e;font-weight:bold}.warn{background:#fff3cd;padding:.6em;border:1px solid #e0c36c}
figure{margin:1.5em 0}code{background:#f3f3f3;padding:1px 4px}svg{max-width:100%;height:auto}"""


def html_report(report: dict[str, Any]) -> str:
    """The self-contained page."""
    a, b = report["arms"]["a"], report["arms"]["b"]
    truth = report["online"]["truth"]
    level = int(100 * report["settings"]["ab"]["confidence"])
    inter = report["online"]["interleaving"]
    warnings = list(dict.fromkeys(blk["warning"] for blk in report["counterfactual"].values() if blk.get("warning")))
    block = report["counterfactual"][report["online"]["outcome"]]
    lvw = block.get("logged_vs_world", {})

    def arm(x: dict[str, Any]) -> str:
        return (f"<b>{html.escape(x['name'])}</b> (<code>{html.escape(x['config'] or '-')}</code>): channels "
                + ", ".join(f"{html.escape(n)} (k {c['k']}, quota {c['quota']})" for n, c in x["channels"].items())
                + f"; ranker <code>{html.escape(str(x['ranker']))}</code>; served as "
                + html.escape(", ".join(f"{k}: {v}" for k, v in x["model_versions"].items())))

    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Encore offline A/B: "
        f"{html.escape(a['name'])} vs {html.escape(b['name'])}</title><style>{STYLE}</style></head><body>",
        f"<h1>Offline A/B: {html.escape(a['name'])} (A) vs {html.escape(b['name'])} (B)</h1>",
        f"<p>A: {arm(a)}</p><p>B: {arm(b)}</p>",
        f"<p>World <code>{html.escape(report['world'])}</code>, held-out day(s) "
        f"{', '.join(report['held_out_days'])}, {report['data']['listeners']} listeners (paired: the same "
        f"requests, hours and random numbers for A and B), lists of {report['data']['list_length']}, reward on "
        f"the first {report['data']['reward_length']}. Intervals: {level}% paired bootstrap over listeners "
        f"({report['settings']['ab']['bootstrap_samples']} resamples).</p>",
        f"<h2>Verdict</h2><p id='verdict'>Simulated online (the world's expected complete plays): B - A = "
        f"<b>{truth['diff']:+.3f}</b> [{truth['ci_low']:+.3f}, {truth['ci_high']:+.3f}] "
        f"({100 * (truth['lift'] or 0):+.1f}%): <b>{html.escape(truth['verdict'])}</b>. Team-draft interleaving: "
        f"B preferred by {100 * inter['sampled']['preference_b']:.1f}% of listeners (sampled; wins {inter['sampled']['wins_b']}"
        f", losses {inter['sampled']['wins_a']}, ties {inter['sampled']['ties']}).</p>",
        *[f"<p class='warn'>{html.escape(w)}</p>" for w in warnings],
        "<h2>Metric deltas</h2>", f"<figure id='fig-deltas'>{deltas_plot(report)}</figure>",
        "<h2>Per-channel contribution</h2>", f"<figure id='fig-channels'>{channels_plot(report)}</figure>",
        "<h2>Long tail and coverage</h2>", f"<figure id='fig-curves'>{curves_plot(report)}</figure>",
        "<h2>Counterfactual vs simulated online</h2>",
        f"<figure id='fig-counterfactual'>{counterfactual_plot(report)}</figure>",
        "<p>IPS / SNIPS reweight the logging policy's exposures by 1 / inclusion propensity (clipped at "
        f"{report['settings']['ab']['weight_clip']}); DM and DR use the logistic reward model. Matched exposures "
        f"A {block['matched_exposures']['a']}, B {block['matched_exposures']['b']} of {block['logged_exposures']}; "
        f"effective sample size A {block['ess']['a']:.0f}, B {block['ess']['b']:.0f}. The world's reward is that "
        "of a listener who browses the whole list; the log records sessions that end: logged / world-expected "
        f"complete plays on the logging policy's own slates = {_fmt(lvw.get('ratio'))}, so compare lifts.</p>",
        "<h2>All metrics</h2>", _table(rows(report)),
        "<h2>Ranker</h2><pre>" + html.escape(json.dumps(report["ranker"], indent=1)) + "</pre>",
    ]
    if report.get("command"):
        parts.append(f"<p>Made by <code>{html.escape(report['command'])}</code></p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def render(json_path: Path, html_path: Path) -> None:
    """The page again from a written report.json (the page is a function of it)."""
    html_path.write_text(html_report(json.loads(json_path.read_text())))


def write(report: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, html_path = out_dir / "report.json", out_dir / "report.html"
    json_path.write_text(json.dumps(report, indent=2, sort_keys=True, default=str) + "\n")
    html_path.write_text(html_report(report))
    return json_path, html_path


def terminal_table(report: dict[str, Any], console: Any) -> None:
    """The short table: the headline metrics and the counterfactual estimates."""
    from rich.table import Table

    k = max(report["settings"]["evaluation"]["list_ks"])
    wanted = {f"hr@{k}", f"ndcg@{k}", "mrr", f"coverage@{k}", "long_tail_share", "novelty", "artist_diversity",
              "repeat_share"}
    items = [r for r in rows(report) if (r[0] == "replay" and r[1] in wanted) or not r[0].startswith(("replay",
                                                                                                      "channel"))]
    table = Table(title=f"{report['arms']['a']['name']} (A) vs {report['arms']['b']['name']} (B), "
                        f"{report['data']['listeners']} listeners")
    for col in ("group", "metric", "A", "B", "B - A", "interval", "verdict"):
        table.add_column(col, justify="left" if col in ("group", "metric", "verdict") else "right")
    for group, metric, c in items:
        style = {"better": "green", "worse": "red"}.get(c["verdict"], "")
        table.add_row(group, metric, _fmt(c["a"]), _fmt(c["b"]), f"{c['diff']:+.4f}",
                      f"[{c['ci_low']:+.4f}, {c['ci_high']:+.4f}]", f"[{style}]{c['verdict']}[/{style}]"
                      if style else c["verdict"])
    console.print(table)
    for warning in dict.fromkeys(blk["warning"] for blk in report["counterfactual"].values() if blk.get("warning")):
        console.print(f"[yellow]warning:[/yellow] {warning}")
