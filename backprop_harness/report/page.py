"""The HTML report of a conformance run: ``backprop-harness test PATH --html report.html``.

One self-contained page (inline CSS, every image a base64 PNG data URI, no external
resource; a Content-Security-Policy forbids loading any, and lets only the page's own
script run: a copy button for each reproducer). It shows the run's header, the verdict
table (system x check), and for every failed system its failures in blocks of the same
cause and the same wrong tensors (``record.Failure.key``): the diagnosis in words first,
the loss, the gradient tensor by tensor with its heat map (``report.heatmap``), the
failure message and one reproducer per block.

``render(doc)`` takes the conformance document (docs/conformance-schema.md) and returns
the page. The failures are read back into ``record.Failure`` records, whose measurements
the page shows as they are. Anything that came from the implementation or from a
failure message is HTML-escaped.
"""
from __future__ import annotations

import base64
import hashlib
import html
import math
from dataclasses import dataclass, field

from backprop_harness.protocol import CHECKS, SYSTEMS
from backprop_harness.record import Failure, Gradients, TensorDiff, Worst, decode_number, group, shape_text
from backprop_harness.report.heatmap import MAX_LABELLED, full, heat_map_png, num

__all__ = ["render", "MAX_PLOTTED", "MAX_DETAILED"]

# Caps that keep the page small and its rendering fast however broken the
# implementation: per system, heat maps for the first MAX_PLOTTED blocks whose gradients
# differ from an earlier one's (a system's failures mostly share one bug, whose pattern a
# few maps show); a block with the same gradients as an earlier one links to its map.
# Full details for the first MAX_DETAILED blocks, the rest listed by test id.
MAX_PLOTTED = 6
MAX_DETAILED = 40
MAX_TEXT = 20_000          # characters of one message or reproducer shown

STATUS_CLASS = {"pass": "pass", "fail": "fail", "not provided": "np", "not tested": "nt"}
EXIT_MEANING = {0: "every provided system passed", 1: "some test failed", 2: "interrupted",
                3: "internal error", 4: "usage error", 5: "no tests collected"}


# ---------------------------------------------------------------- the page

def _e(x) -> str:
    return html.escape("" if x is None else str(x), quote=True)


def _clip(text: str) -> str:
    if len(text) <= MAX_TEXT:
        return text
    return text[:MAX_TEXT] + f"\n… ({len(text) - MAX_TEXT} more characters: the whole text is in pytest's output)"


def _cell(counts) -> tuple[str, str, str]:
    """A verdict-table cell: css class, main text, detail."""
    if not isinstance(counts, dict) or not counts:
        return "none", "–", ""
    passed, failed = int(counts.get("passed", 0)), int(counts.get("failed", 0))
    extra = ", ".join(f"{int(counts[k])} {k}" for k in ("not provided", "not run", "skipped")
                      if counts.get(k) and (passed or failed or k != "not provided"))
    if failed:
        return "fail", f"{failed} of {passed + failed} failed", extra
    if passed:
        return "pass", f"{passed}/{passed} passed", extra
    if counts.get("not provided"):
        return "np", "not provided", extra
    return "nt", "not run", extra


def _ok(doc: dict) -> bool:
    """The run's verdict: no failed system, no load error, and a clean exit where one is known."""
    systems = doc.get("systems") or {}
    failed = any(isinstance(v, dict) and v.get("status") == "fail" for v in systems.values())
    loaded = not (doc.get("implementation") or {}).get("load_error")
    return loaded and not failed and doc.get("exit_status") in (0, None)


def _header(doc: dict) -> str:
    impl = doc.get("implementation") or {}
    exit_status = doc.get("exit_status")
    systems = doc.get("systems") or {}
    failed = [s for s, v in systems.items() if isinstance(v, dict) and v.get("status") == "fail"]
    passed = [s for s, v in systems.items() if isinstance(v, dict) and v.get("status") == "pass"]
    unchanged = doc.get("fixtures_unchanged")
    ok = _ok(doc)
    if impl.get("load_error"):
        verdict = "the implementation could not be loaded"
    elif failed:
        verdict = f"{len(failed)} of {len(systems)} systems fail: " + ", ".join(failed)
    elif not ok and unchanged is not False:
        verdict = f"the run did not finish cleanly (exit status {exit_status})"
    elif passed:
        verdict = "every provided system passes: " + ", ".join(passed)
    else:
        verdict = "no system was checked"
    if unchanged is False:
        verdict += "; the run changed fixtures/"
    rows = [("implementation", impl.get("label")), ("file", impl.get("file")), ("version", impl.get("version")),
            ("provides", ", ".join(map(str, impl.get("provides") or [])) or None),
            ("generated", doc.get("generated")), ("Hypothesis profile", doc.get("hypothesis_profile")),
            ("oracles", ", ".join(map(str, doc.get("oracles") or [])) or None)]
    if exit_status is not None:
        rows.append(("exit status", f"{exit_status} ({EXIT_MEANING.get(exit_status, 'see pytest')})"))
    if unchanged is not None:
        changes = doc.get("fixture_changes") or []
        rows.append(("fixtures", "unchanged" if unchanged else "CHANGED by the run and restored: "
                     + "; ".join(map(str, changes))))
    items = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v) if v not in (None, '') else '<span class=muted>—</span>'}"
                    f"</td></tr>" for k, v in rows)
    out = (f'<header class="banner {"pass" if ok else "fail"}"><p class="kicker">backprop-harness conformance '
           f'report</p><h1>{"PASS" if ok else "FAIL"}: {_e(verdict)}</h1>'
           f'<table class="facts">{items}</table>')
    if impl.get("load_error"):
        out += f'<h3 class="bad">Load error</h3><pre class="error">{_e(_clip(str(impl["load_error"])))}</pre>'
    return out + "</header>"


def _verdict_table(doc: dict, checks: tuple) -> str:
    systems = doc.get("systems") or {}
    names = [s for s in SYSTEMS if s in systems] + [s for s in systems if s not in SYSTEMS]
    extra = sorted({c for s in names if isinstance(systems[s], dict)
                    for c in (systems[s].get("checks") or {}) if c not in checks})
    columns = list(checks) + extra
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    body = []
    for s in names:
        info = systems[s] if isinstance(systems[s], dict) else {}
        status = str(info.get("status", "not tested"))
        link = f'<a href="#sys-{_e(s)}">{_e(s)}</a>' if status == "fail" else _e(s)
        cells = []
        for c in columns:
            cls, main, detail = _cell((info.get("checks") or {}).get(c))
            cells.append(f'<td class="c-{cls}">{_e(main)}' + (f'<small>{_e(detail)}</small>' if detail else "")
                         + "</td>")
        body.append(f'<tr><th class="sys">{link}</th><td><span class="badge {STATUS_CLASS.get(status, "nt")}">'
                    f'{_e(status)}</span></td>{"".join(cells)}</tr>')
    notes = []
    ops = systems["scalar_graph"].get("operations") if isinstance(systems.get("scalar_graph"), dict) \
        else None
    if isinstance(ops, dict):
        missing = ops.get("missing") or {}
        notes.append("scalar_graph: Value operations tested: " + _e(", ".join(map(str, ops.get("tested") or [])))
                     + "; missing: " + (_e("; ".join(f"{k} ({v})" for k, v in missing.items())) or "none"))
    return (f'<section><h2>Verdict per system</h2><div class="scroll"><table class="verdicts"><thead><tr>'
            f'<th>system</th><th>verdict</th>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'
            f'<p class="legend">Each cell: the tests of that check by outcome. A failed system is a link to its '
            f'failures. – : no such check for the system.</p>'
            + "".join(f'<p class="note">{n}</p>' for n in notes) + "</section>")


def _diagnosis_box(diagnosis, words: dict) -> str:
    if not isinstance(diagnosis, dict):
        return ('<div class="diagnosis none">No diagnosis for this failure: the harness names a cause when an '
                'answer is a wrong number, not for a crash, a wrong type or shape, or a fixture problem.</div>')
    codes = [str(c) for c in diagnosis.get("codes") or []]
    text = diagnosis.get("words") or "; ".join(f"{c}: {words.get(c, '')}" for c in codes)
    cls = "unknown" if codes == ["unknown"] else ""
    chips = "".join(f'<code class="chip">{_e(c)}</code>' for c in codes)
    return (f'<div class="diagnosis {cls}"><div class="label">Diagnosis</div><p class="words">{_e(text)}</p>'
            f'<div class="codes">{chips}</div></div>')


def _loss_line(g: Gradients) -> str:
    what = "output" if g.case == "GraphCase" else "loss"
    received, err, within = g.loss_received, g.loss_error, g.loss_within
    received_n = decode_number(received)
    if received is None:
        verdict, cls = "no number received", "bad"
    elif received_n is None or not math.isfinite(received_n):
        verdict, cls = "not a finite number", "bad"
    elif err is None:
        verdict, cls = "", ""
    else:
        verdict = (f"abs err {num(err, 3)}, " if err else "identical, ") + \
            ("within tolerance" if within else
             f"{num(err / g.loss_tolerance if g.loss_tolerance > 0 else math.inf, 3)} × its atol "
             f"{num(g.loss_tolerance, 3)}")
        cls = "ok" if within else "bad"
    return (f'<p class="loss"><b>{what}</b>: expected <code>{_e(full(g.loss_expected))}</code>, received '
            f'<code>{_e(full(received) if received_n is not None or received is None else received)}</code>'
            f' <span class="{cls}">{_e(verdict)}</span></p>')


def _tensor_table(tensors: list[TensorDiff]) -> str:
    rows = []
    for t in tensors:
        es = shape_text(t.expected.shape) if t.expected is not None else "—"
        rs = shape_text(t.received.shape) if t.received is not None else "—"
        if t.ratio is None:
            beyond, worst_abs, worst_ratio, cls = "—", "—", "—", "bad"
        else:
            n_nonfinite = int(t.nonfinite.sum())
            beyond = f"{t.beyond} of {t.ratio.size}" + (f" ({n_nonfinite} non-finite)" if n_nonfinite else "")
            worst_abs = num(t.max_abs, 3)
            worst_ratio = num(t.max_ratio, 3)
            cls = "bad" if t.beyond else "ok"
        rows.append(f'<tr class="{cls}{" noted" if t.note else ""}"><td><code>dL/d{_e(t.name)}</code></td>'
                    f'<td>{_e(es)}</td><td>{_e(rs)}</td><td>{_e(beyond)}</td><td>{_e(worst_abs)}</td>'
                    f'<td>{_e(worst_ratio)}</td></tr>')
        if t.note:                             # how the shapes relate, on a line of its own
            rows.append(f'<tr class="{cls} note-row"><td></td><td colspan="5">{_e(t.note)}</td></tr>')
    return ('<table class="tensors"><thead><tr><th>gradient</th><th>expected shape</th><th>received shape</th>'
            '<th>beyond tolerance</th><th>max |err|</th><th>max |err| / atol</th></tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def _worst_table(worst: list[Worst]) -> str:
    if not worst:
        return ""
    rows = []
    for w in worst:
        e, r, err, ratio = w.expected, w.received, w.error, w.ratio
        rows.append(f'<tr><td class="rank">{w.rank}</td><td><code>{_e(w.label)}</code></td>'
                    f'<td><code>{_e(full(e))}</code></td><td><code>{_e(full(r))}</code></td>'
                    f'<td>{_e(num(err, 3))}</td><td>{_e("non-finite" if not math.isfinite(r) else num(ratio, 3))}'
                    f'</td></tr>')
    return ('<table class="worst"><caption>Worst entries (numbered as in the heat map)</caption><thead><tr><th>#</th>'
            '<th>entry</th><th>expected</th><th>received</th><th>|err|</th><th>|err| / atol</th></tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


@dataclass
class _Budget:
    """Heat maps drawn so far in one system, and the images already made (by gradients)."""
    seen: dict = field(default_factory=dict)      # Gradients.fingerprint() -> anchor of the failure that drew them


def _gradients(g: Gradients, anchor: str, budget: _Budget) -> str:
    atol, tensors = g.atol, g.tensors
    worst = g.worst()
    out = [f'<div class="gradients"><p class="atol">Gradients ({_e(g.case)}, '
           f'<code>{_e(g.fn)}</code>), against the tolerance applied: atol = '
           f'<code>{_e(num(atol, 3))}</code>'
           + (f'; received: {_e(g.received_is)}' if g.received_is else "") + '</p>', _loss_line(g)]
    if tensors:
        out.append(_tensor_table(tensors))
        if all(t.ratio is not None and not t.beyond for t in tensors):
            out.append('<p class="note">Every entry shown is within tolerance: this test failed on something '
                       'the gradient alone does not show (see the message).</p>')
    drawable = any(t.ratio is not None for t in tensors)
    key = g.fingerprint()
    if drawable and key in budget.seen:
        first = budget.seen[key]
        out.append(f'<p class="note">The same gradients as <a href="#{_e(first)}">an earlier failure</a>: '
                   f'its heat map applies.</p>')
    elif drawable and len(budget.seen) >= MAX_PLOTTED:
        out.append(f'<p class="note">No heat map: the page draws the first {MAX_PLOTTED} distinct gradients '
                   f'of each system.</p>')
    elif drawable:
        try:
            png = heat_map_png(tensors, worst)
        except Exception as exc:               # noqa: BLE001 - the tables above still say it
            png = None
            out.append(f'<p class="note bad">The heat map could not be drawn: {_e(type(exc).__name__)}: '
                       f'{_e(exc)}</p>')
        if png:
            budget.seen[key] = anchor
            data = base64.b64encode(png).decode("ascii")
            out.append(f'<figure><img alt="heat map of |received - expected| / atol per gradient entry" '
                       f'src="data:image/png;base64,{data}"><figcaption>Colour: |received − expected| / atol on a '
                       f'log scale: grey within tolerance, orange to dark red beyond it, purple where an entry '
                       f'is not finite. A grid of up to {MAX_LABELLED} entries shows each received value with '
                       f'the expected one in brackets below it; the boxed or ringed numbers are the worst '
                       f'entries, tabled below.</figcaption>'
                       f'</figure>')
    out.append(_worst_table(worst))
    out.append("</div>")
    return "".join(out)


def _failure(system: str, i: int, block, words: dict, budget: _Budget) -> str:
    """One block of failures: the first in full, the others by test id."""
    f = block.leader
    anchor = f"f-{system}-{i}"
    count = f' <span class="count">× {len(block.failures)}</span>' if block.others else ""
    out = [f'<article class="failure" id="{_e(anchor)}"><h3><span class="num">{i}</span>'
           f'<span class="check">{_e(f.check)}</span><code class="test">{_e(f.test)}</code>{count}</h3>',
           _diagnosis_box(f.diagnosis, words)]
    if block.others:
        items = "".join(f"<li><code>{_e(o.test)}</code></li>" for o in block.others)
        out.append(f'<details class="same"><summary>{len(block.others)} more failure'
                   f'{"s" if len(block.others) != 1 else ""} with the same diagnosis and the same wrong tensors'
                   f'</summary><ul>{items}</ul></details>')
    if f.gradients is not None:
        out.append(_gradients(f.gradients, anchor, budget))
    if f.message:
        out.append(f'<h4>Failure message</h4><pre class="message">{_e(_clip(f.message))}</pre>')
    if f.reproducer:
        out.append(f'<h4>Reproducer <button type="button" class="copy" data-target="{_e(anchor)}-repro">Copy'
                   f'</button></h4><pre class="repro" id="{_e(anchor)}-repro">{_e(_clip(f.reproducer))}</pre>')
    out.append("</article>")
    return "".join(out)


def _system(system: str, info: dict, words: dict) -> str:
    failures = [Failure.from_json(f) for f in info.get("failures") or [] if isinstance(f, dict)]
    blocks = group(failures)
    codes = [str(c) for c in info.get("diagnosis") or []]
    out = [f'<section class="system" id="sys-{_e(system)}"><h2>{_e(system)} <span class="badge fail">fail</span>'
           f'</h2>']
    if codes:
        items = "".join(f'<li><code class="chip">{_e(c)}</code> {_e(words.get(c, ""))}</li>' for c in codes)
        out.append(f'<div class="diagnosis system-level"><div class="label">Diagnosis of {_e(system)}</div>'
                   f'<ul>{items}</ul></div>')
    failed = sum(int((c or {}).get("failed", 0)) for c in (info.get("checks") or {}).values()
                 if isinstance(c, dict))
    if blocks:
        index = "".join(f'<li><a href="#f-{_e(system)}-{i}">{i}. {_e(b.leader.check)}</a>: '
                        f'<code>{_e(b.leader.test)}</code>'
                        + (f" and {len(b.others)} more" if b.others else "") + "</li>"
                        for i, b in enumerate(blocks, 1))
        out.append(f'<details class="index" {"open" if len(blocks) <= 12 else ""}><summary>{len(failures)} '
                   f'failure{"s" if len(failures) != 1 else ""} in {len(blocks)} block'
                   f'{"s" if len(blocks) != 1 else ""} (the same diagnosis and the same wrong tensors); heat maps '
                   f'for the first {MAX_PLOTTED} distinct gradients, full details for the first {MAX_DETAILED} '
                   f'blocks</summary><ol>{index}</ol></details>')
    if failed > len(failures):
        out.append(f'<p class="note">{failed - len(failures)} failed test(s) of this system carry no details '
                   f'here (see pytest\'s output).</p>')
    if not failures and isinstance(info.get("first_failure"), dict):
        ff = info["first_failure"]
        out.append(f'<article class="failure"><h3><span class="check">{_e(ff.get("check") or "harness")}</span>'
                   f'<code class="test">{_e(ff.get("test"))}</code></h3><pre class="message">'
                   f'{_e(_clip(str(ff.get("message", ""))))}</pre></article>')
    budget = _Budget()
    for i, block in enumerate(blocks[:MAX_DETAILED], 1):
        try:
            out.append(_failure(system, i, block, words, budget))
        except Exception as exc:               # noqa: BLE001 - one odd failure never costs the page
            out.append(f'<article class="failure" id="f-{_e(system)}-{i}"><h3><span class="num">{i}</span>'
                       f'<code class="test">{_e(block.leader.test)}</code></h3><p class="note bad">This failure '
                       f'could not be shown: {_e(type(exc).__name__)}: {_e(exc)}</p></article>')
    rest = blocks[MAX_DETAILED:]
    if rest:
        items = "".join(f'<li id="f-{_e(system)}-{i}"><b>{_e(b.leader.check)}</b> <code>{_e(b.leader.test)}</code>'
                        + (f" and {len(b.others)} more" if b.others else "")
                        + (f' — {_e(", ".join(b.leader.codes))}' if b.leader.codes else "") + "</li>"
                        for i, b in enumerate(rest, MAX_DETAILED + 1))
        out.append(f'<h3>{len(rest)} more blocks (details cut to keep the page small; all are in pytest\'s '
                   f'output)</h3><ol start="{MAX_DETAILED + 1}" class="rest">{items}</ol>')
    out.append("</section>")
    return "".join(out)


CSS = """
:root{--pass:#1a7f37;--pass-bg:#dafbe1;--fail:#c4122f;--fail-bg:#ffebe9;--np:#59636e;--np-bg:#eef1f4;
--nt:#7d4e00;--nt-bg:#fff5c2;--ink:#1f2328;--muted:#636c76;--line:#d0d7de;--warm:#c2410c;--warm-bg:#fff3e8}
*{box-sizing:border-box}
body{margin:0;background:#f4f6f8;color:var(--ink);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,
"Liberation Sans","DejaVu Sans",Arial,sans-serif}
main{max-width:1120px;margin:0 auto;padding:24px 24px 64px}
h1{font-size:1.55em;margin:.1em 0 .5em;line-height:1.25}
h2{font-size:1.3em;margin:1.6em 0 .6em}
h3{font-size:1.02em;margin:0 0 .7em;display:flex;flex-wrap:wrap;gap:.5em;align-items:center}
h4{font-size:.92em;margin:1.2em 0 .4em;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
code,pre{font-family:ui-monospace,"SFMono-Regular","DejaVu Sans Mono","Liberation Mono",Menlo,Consolas,monospace}
code{font-size:.9em}
pre{font-size:12.5px;line-height:1.45;background:#f6f8fa;border:1px solid var(--line);border-radius:6px;
padding:10px 12px;overflow:auto;max-height:30em;white-space:pre-wrap;overflow-wrap:anywhere;margin:0}
.banner{background:#fff;border:1px solid var(--line);border-left:8px solid var(--np);border-radius:8px;
padding:18px 22px}
.banner.pass{border-left-color:var(--pass)}.banner.fail{border-left-color:var(--fail)}
.banner.pass h1{color:var(--pass)}.banner.fail h1{color:var(--fail)}
.kicker{margin:0;color:var(--muted);font-size:.85em;text-transform:uppercase;letter-spacing:.06em}
table{border-collapse:collapse}
.facts th{text-align:left;font-weight:600;color:var(--muted);padding:2px 18px 2px 0;vertical-align:top;
white-space:nowrap}
.facts td{padding:2px 0;word-break:break-all}
.scroll{overflow-x:auto}
.verdicts{background:#fff;border:1px solid var(--line);border-radius:8px;font-size:.9em;width:100%}
.verdicts th,.verdicts td{border-bottom:1px solid var(--line);padding:7px 8px;text-align:center;
vertical-align:middle}
.verdicts td{white-space:nowrap}
.verdicts thead th{font-weight:600;color:var(--muted);font-size:.88em}
.verdicts th.sys{text-align:left;font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-weight:600}
.verdicts small{display:block;color:var(--muted);font-size:.8em}
td.c-fail{background:var(--fail-bg);color:var(--fail);font-weight:600}
td.c-pass{color:var(--pass)}
td.c-np,td.c-nt,td.c-none{color:var(--np)}
.badge{display:inline-block;border-radius:999px;padding:1px 10px;font-size:.82em;font-weight:700;
text-transform:uppercase;letter-spacing:.03em;white-space:nowrap}
.badge.pass{background:var(--pass-bg);color:var(--pass)}.badge.fail{background:var(--fail-bg);color:var(--fail)}
.badge.np{background:var(--np-bg);color:var(--np)}.badge.nt{background:var(--nt-bg);color:var(--nt)}
.legend,.note{color:var(--muted);font-size:.88em;margin:.5em 0}
.bad{color:var(--fail)}.ok{color:var(--pass)}.muted{color:var(--muted)}
.system{margin-top:2.2em}
.failure{background:#fff;border:1px solid var(--line);border-radius:8px;padding:16px 20px;margin:14px 0}
.failure .num{background:var(--ink);color:#fff;border-radius:999px;min-width:1.7em;text-align:center;
font-size:.85em;padding:0 .5em}
.failure .check{background:var(--fail-bg);color:var(--fail);border-radius:4px;padding:0 8px;font-size:.88em}
.failure .test{font-weight:400;color:var(--muted);word-break:break-all}
.diagnosis{background:var(--warm-bg);border-left:6px solid var(--warm);border-radius:4px;padding:10px 16px;
margin:0 0 12px}
.diagnosis .label{font-size:.78em;text-transform:uppercase;letter-spacing:.06em;color:var(--warm);font-weight:700}
.diagnosis .words{font-size:1.18em;font-weight:600;margin:.2em 0 .4em;line-height:1.4}
.diagnosis.unknown{background:#f6f8fa;border-left-color:var(--np)}
.diagnosis.unknown .label{color:var(--np)}
.diagnosis.none{background:#f6f8fa;border-left-color:var(--np);color:var(--muted);font-size:.92em}
.diagnosis.system-level ul{margin:.3em 0;padding-left:1.2em;font-size:1.08em}
.chip{display:inline-block;background:#fff;border:1px solid #e8b28f;color:var(--warm);border-radius:4px;
padding:0 6px;margin-right:6px;font-weight:600}
.loss{margin:.4em 0}.atol{margin:.2em 0;color:var(--muted);font-size:.92em}
.tensors,.worst{font-size:.86em;margin:.6em 0;width:100%}
.tensors th,.tensors td,.worst th,.worst td{border-bottom:1px solid var(--line);padding:4px 8px;text-align:left}
.tensors thead th,.worst thead th{color:var(--muted);font-weight:600}
.tensors tr.noted td{border-bottom:0}
.tensors tr.note-row td{padding-top:0;font-size:.95em;color:var(--ink);font-style:italic}
.tensors tr.bad td:first-child{border-left:3px solid var(--fail)}
.tensors tr.ok td:first-child{border-left:3px solid var(--pass)}
.worst caption{text-align:left;font-weight:600;color:var(--muted);font-size:.95em;padding:4px 0}
.worst td.rank{font-weight:700}
figure{margin:12px 0;overflow-x:auto}
figure img{display:block;max-width:100%;height:auto;border:1px solid var(--line);border-radius:4px}
figcaption{color:var(--muted);font-size:.84em;margin-top:4px}
.index ol,.rest{font-size:.9em}
.index summary{cursor:pointer;color:var(--muted)}
button.copy{font:inherit;font-size:.8em;text-transform:none;letter-spacing:0;border:1px solid var(--line);
background:#fff;border-radius:5px;padding:1px 10px;cursor:pointer;margin-left:8px}
button.copy:hover{background:#f3f4f6}
footer{color:var(--muted);font-size:.82em;margin-top:3em}
"""

# copy a reproducer: the Clipboard API where the page is a secure context, else select and
# execCommand; data-copy="ready" on <body> says the script ran (the policy admits it by its hash)
SCRIPT = """
document.querySelectorAll("button.copy").forEach(function (button) {
  button.addEventListener("click", function () {
    var pre = document.getElementById(button.dataset.target);
    var done = function () {
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = "Copy"; }, 1500);
    };
    var select = function () {
      var range = document.createRange(); range.selectNodeContents(pre);
      var selection = window.getSelection(); selection.removeAllRanges(); selection.addRange(range);
      try { document.execCommand("copy"); done(); } catch (e) { button.textContent = "Selected: press Ctrl+C"; }
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(pre.textContent).then(done, select);
    } else {
      select();
    }
  });
});
document.body.dataset.copy = "ready";
"""


def render(doc: dict) -> str:
    """The report of one conformance run as one self-contained HTML page.

    Args:
      doc: the conformance document (docs/conformance-schema.md), each system with
        its ``failures`` (conftest.py). Optional fields may be absent.

    Returns:
      The page. Raises nothing for a document that follows the schema; a failure
      whose details cannot be shown is named in its place.
    """
    doc = doc if isinstance(doc, dict) else {}
    from backprop_harness.diagnosis import CODES as words  # imported only when a page is made
    checks = tuple(CHECKS)
    systems = doc.get("systems") if isinstance(doc.get("systems"), dict) else {}
    impl = doc.get("implementation") if isinstance(doc.get("implementation"), dict) else {}
    doc = {**doc, "systems": systems, "implementation": impl}
    sections = [_system(s, info, words) for s, info in systems.items()
                if isinstance(info, dict) and info.get("status") == "fail"]
    # only the page's own script may run: an injected one (were escaping ever to fail) is blocked
    script_hash = base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()
    policy = f"default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'sha256-{script_hash}'"
    title = f"{'PASS' if _ok(doc) else 'FAIL'} · {impl.get('label') or 'conformance report'} · backprop-harness"
    page = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{policy}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(title)}</title><style>{CSS}</style></head><body><main>"
            + _header(doc) + _verdict_table(doc, checks)
            + "".join(sections)
            + f'<footer>schema {_e(doc.get("schema"))} · fixtures sha256 {_e(doc.get("fixtures_sha256"))}</footer>'
            + f"</main><script>{SCRIPT}</script></body></html>\n")
    # a lone surrogate (JSON can carry one from the implementation's output) cannot be
    # written as UTF-8: shown as U+FFFD rather than failing the write
    return page.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
