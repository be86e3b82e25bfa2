"""The class page: ``OUTDIR/index.html``, written by ``grade`` beside the gradebook.

One self-contained page (no script, no image, no address outside the output folder:
its policy forbids loading anything): the assignment and the run; the score
distribution; the diagnoses most often met, with the number of submissions each
was met in; and a table of the students against the assignment's systems, each
cell the verdict, the points and the diagnosis codes, each name a link to that
submission's report (``NAME/report.html``, a relative link within the folder).
"""
from __future__ import annotations

import html
from collections import Counter
from pathlib import Path
from urllib.parse import quote

from backprop_harness import write_atomically

__all__ = ["render", "write", "BINS", "TOP_DIAGNOSES"]

BINS = 10              # bars of the score distribution (tenths of the maximum), and one for full marks
TOP_DIAGNOSES = 20     # rows of the diagnoses table; the rest are counted in one line
_BADGE = {"pass": "pass", "fail": "fail", "not provided": "np"}


def _e(x) -> str:
    return html.escape("" if x is None else str(x), quote=True)


def _num(x) -> str:
    return f"{float(x):g}"


def bins(records: list, max_score: float) -> list:
    """[(label, count)]: scores in tenths of the maximum, full marks apart."""
    counts = [0] * (BINS + 1)
    for r in records:
        share = float(r.get("score", 0)) / max_score if max_score else 0.0
        counts[BINS if share >= 1 else min(BINS - 1, int(share * BINS))] += 1
    labels = [f"{_num(max_score * i / BINS)} – {_num(max_score * (i + 1) / BINS)}" for i in range(BINS)]
    labels.append(f"{_num(max_score)} (full marks)")
    return list(zip(labels, counts))


def _distribution(records: list, max_score: float) -> str:
    counted = bins(records, max_score)
    top = max((c for _, c in counted), default=0) or 1
    rows = "".join(f'<tr><th scope="row">{_e(label)}</th><td class="bar"><span style="width:{100 * c / top:.1f}%">'
                   f'</span></td><td class="count">{c}</td></tr>' for label, c in reversed(counted))
    scores = sorted(float(r.get("score", 0)) for r in records)
    mean = sum(scores) / len(scores) if scores else 0.0
    median = (scores[len(scores) // 2] if len(scores) % 2 else
              (scores[len(scores) // 2 - 1] + scores[len(scores) // 2]) / 2) if scores else 0.0
    return (f'<section id="distribution"><h2>Score distribution</h2><p class="note">mean {mean:.2f}, median '
            f'{median:g} of {_num(max_score)}; {sum(s >= max_score for s in scores)} of {len(scores)} with full '
            f'marks</p><table class="hist"><thead><tr><th>score</th><th>submissions</th><th></th></tr></thead>'
            f'<tbody>{rows}</tbody></table></section>')


def _diagnoses(records: list, course) -> str:
    try:
        from backprop_harness.diagnosis import CODES as words
    except Exception:                       # noqa: BLE001 - the page is made without the words
        words = {}
    met = Counter()
    where = {}
    for r in records:
        for system in course.systems:
            s = (r.get("systems") or {}).get(system) or {}
            if s.get("status") == "fail":
                for code in s.get("diagnosis") or ["unknown"]:
                    met[(system, code)] += 1
                    where.setdefault((system, code), []).append(r["name"])
    problems = Counter(r.get("status") for r in records if r.get("status") != "graded")
    if not met and not problems:
        return '<section id="diagnoses"><h2>Most common diagnoses</h2><p class="note">No failure.</p></section>'
    ranked = sorted(met.items(), key=lambda kv: (-kv[1], kv[0]))
    rows = "".join(f'<tr><td class="count">{n}</td><td><code class="chip">{_e(system)}</code></td>'
                   f'<td><code class="chip">{_e(code)}</code></td><td>{_e(words.get(code, ""))}'
                   f'<small>{_e(", ".join(where[(system, code)][:8]))}'
                   f'{" …" if len(where[(system, code)]) > 8 else ""}</small></td></tr>'
                   for (system, code), n in ranked[:TOP_DIAGNOSES])
    rest = ranked[TOP_DIAGNOSES:]
    if rest:
        rows += (f'<tr><td class="count">{sum(n for _, n in rest)}</td><td colspan="3" class="note">{len(rest)} '
                 f'other diagnoses, met once or a few times each: '
                 + _e(", ".join(f"{system} {code}" for (system, code), _ in rest)) + "</td></tr>")
    runs = "".join(f'<li><b>{n}</b> {_e(status)}</li>' for status, n in problems.most_common())
    return ('<section id="diagnoses"><h2>Most common diagnoses</h2><table class="diag"><thead><tr><th>submissions'
            '</th><th>system</th><th>code</th><th>the mistake</th></tr></thead><tbody>' + rows + '</tbody></table>'
            + (f'<p class="note">Runs not graded to their end:</p><ul class="runs">{runs}</ul>' if runs else "")
            + '</section>')


def _cell(r: dict, system: str) -> str:
    s = (r.get("systems") or {}).get(system) or {}
    points = (r.get("points") or {}).get(system) or {}
    verdict = s.get("status", "error")
    codes = " ".join(s.get("diagnosis") or []) if verdict == "fail" else ""
    worth = (f'<span class="pts">{_num(points["points"])}/{_num(points["max_points"])}</span>'
             if "points" in points else "")
    return (f'<td class="c-{_BADGE.get(verdict, "err")}"><span class="badge {_BADGE.get(verdict, "err")}">'
            f'{_e(verdict)}</span>{worth}' + (f'<small>{_e(codes)}</small>' if codes else "") + "</td>")


def _table(records: list, course) -> str:
    head = "".join(f'<th>{_e(s)}<small>{_num(w)} pt</small></th>' for s, w in course.systems.items())
    rows = []
    for r in records:
        name = _e(r["name"])
        if "report" in (r.get("files") or {}):
            name = f'<a href="{_e(quote(r["name"]))}/report.html">{name}</a>'
        status = "" if r.get("status") == "graded" else (f'<small class="bad">{_e(r.get("status"))}: '
                                                          f'{_e((r.get("note") or "")[:160])}</small>')
        full = float(r.get("score", 0)) >= float(r.get("max_score", 0)) > 0
        rows.append(f'<tr><th scope="row" class="who">{name}{status}</th>'
                    + "".join(_cell(r, s) for s in course.systems)
                    + f'<td class="score{" full" if full else ""}">{_num(r.get("score", 0))}'
                      f'<small>of {_num(r.get("max_score", 0))}</small></td>'
                      f'<td class="secs">{float(r.get("seconds", 0)):.0f} s</td></tr>')
    return ('<section id="students"><h2>Students × systems</h2><div class="scroll"><table class="grid"><thead><tr>'
            f'<th>submission</th>{head}<th>score</th><th>time</th></tr></thead><tbody>{"".join(rows)}</tbody>'
            '</table></div><p class="note">A name links to its report (the failures, heat maps and reproducers); '
            'each cell: the verdict, the points earned and the diagnosis codes.</p></section>')


CSS = """
:root{--pass:#1a7f37;--pass-bg:#dafbe1;--fail:#c4122f;--fail-bg:#ffebe9;--np:#59636e;--np-bg:#eef1f4;
--err:#7d4e00;--err-bg:#fff5c2;--ink:#1f2328;--muted:#636c76;--line:#d0d7de;--warm:#c2410c}
*{box-sizing:border-box}
body{margin:0;background:#f4f6f8;color:var(--ink);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,
"Liberation Sans","DejaVu Sans",Arial,sans-serif}
main{max-width:1180px;margin:0 auto;padding:24px 24px 64px}
h1{font-size:1.55em;margin:.1em 0 .4em}h2{font-size:1.25em;margin:1.6em 0 .6em}
code{font-family:ui-monospace,"DejaVu Sans Mono","Liberation Mono",Menlo,Consolas,monospace;font-size:.9em}
.banner{background:#fff;border:1px solid var(--line);border-left:8px solid var(--warm);border-radius:8px;
padding:16px 22px}
.kicker{margin:0;color:var(--muted);font-size:.85em;text-transform:uppercase;letter-spacing:.06em}
.facts th{text-align:left;font-weight:600;color:var(--muted);padding:2px 18px 2px 0;vertical-align:top}
.facts td{padding:2px 0}
table{border-collapse:collapse}
.scroll{overflow-x:auto}
.grid,.diag,.hist{background:#fff;border:1px solid var(--line);border-radius:8px;font-size:.9em}
.grid,.diag{width:100%}
.grid th,.grid td,.diag th,.diag td,.hist th,.hist td{border-bottom:1px solid var(--line);padding:6px 9px;
vertical-align:middle}
.grid td{text-align:center;white-space:nowrap}
.grid thead th,.diag thead th,.hist thead th{color:var(--muted);font-weight:600;font-size:.88em}
.grid small,.diag small{display:block;color:var(--muted);font-size:.8em;white-space:normal}
.grid th.who{text-align:left;font-weight:600;min-width:14em;max-width:22em;overflow-wrap:anywhere}
.grid td.score{font-weight:700}.grid td.score.full{color:var(--pass)}
.grid td.secs{color:var(--muted)}
td.c-fail{background:var(--fail-bg)}td.c-err{background:var(--err-bg)}
.pts{display:block;font-variant-numeric:tabular-nums}
.badge{display:inline-block;border-radius:999px;padding:0 9px;font-size:.8em;font-weight:700;
text-transform:uppercase;letter-spacing:.03em}
.badge.pass{background:var(--pass-bg);color:var(--pass)}.badge.fail{background:#fff;color:var(--fail)}
.badge.np{background:var(--np-bg);color:var(--np)}.badge.err{background:#fff;color:var(--err)}
.hist{min-width:30em}
.hist th{text-align:right;font-weight:400;white-space:nowrap;font-variant-numeric:tabular-nums}
.hist td.bar{width:28em}
.hist td.bar span{display:block;height:14px;background:#4f7cac;border-radius:3px}
.hist td.count,.diag td.count{text-align:right;font-weight:700;font-variant-numeric:tabular-nums}
.chip{display:inline-block;background:#fff;border:1px solid #e8b28f;color:var(--warm);border-radius:4px;
padding:0 6px;font-weight:600}
.note{color:var(--muted);font-size:.88em;margin:.5em 0}.bad{color:var(--fail)}
a{color:#0b5cad}
footer{color:var(--muted);font-size:.82em;margin-top:3em}
"""


def render(records: list, course, summary: dict | None = None) -> str:
    """The class page of ``records`` (grade's, in the gradebook's order) under ``course``
    (an ``Assignment``); ``summary`` is results.json's (the run's facts)."""
    summary = summary or {}
    title = course.title or ("class results" if course.source is None else Path(course.source).stem)
    facts = [("assignment", course.describe()), ("submissions", str(len(records))),
             ("graded", f"{summary.get('graded_now', '?')} now, {summary.get('reused', '?')} reused"),
             ("generated", summary.get("generated", "")), ("sandbox", summary.get("sandbox", ""))]
    policy = "default-src 'none'; style-src 'unsafe-inline'"
    page = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{policy}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(title)} · backprop-harness grade</title><style>{CSS}</style></head><body><main>"
            f'<header class="banner"><p class="kicker">backprop-harness grade · class page</p><h1>{_e(title)}</h1>'
            '<table class="facts">' + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in facts if v)
            + "</table></header>"
            + _distribution(records, float(course.max_score)) + _diagnoses(records, course) + _table(records, course)
            + '<footer>gradebook.csv and results.json beside this page hold the same results; each '
              'submission\'s feedback is in the gradebook\'s feedback column.</footer></main></body></html>\n')
    return page.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def write(path, records: list, course, summary: dict | None = None) -> Path:
    """Render the page and write it whole or not at all."""
    return write_atomically(Path(path), render(records, course, summary))
