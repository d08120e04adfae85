"""Thresholds (a checked-in TOML file) and the report: a terminal table, JSON and Markdown."""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_THRESHOLDS = Path(__file__).with_name("thresholds.toml")
OPTIONAL_PREFIXES = ("ask_llm.",)  # the LLM column only runs when an endpoint is configured

# What each metric means; the Markdown report and QUALITY.md repeat these.
MEANINGS: dict[str, str] = {
    "router.accuracy": "share of labelled utterances (free text) routed to the labelled skill",
    "recall_at_5": "share of answerable questions with a labelled answering message among the reply's top 5 "
                   "evidence sources (ordered by score)",
    "mrr": "mean of 1/rank of the first labelled answering message in the evidence (0 when absent)",
    "thread_recall_at_5": "like recall@5, but any message of an answering thread counts",
    "false_decline_rate": "share of answerable questions the bot declined (lower is better)",
    "citation_precision": "share of citations in non-declined answers that are labelled answering messages",
    "citation_thread_precision": "share of citations in non-declined answers from an answering thread",
    "fact_rate": "share of non-declined answers whose text states a labelled fact",
    "unanswerable_decline_rate": "share of unanswerable questions the bot declined (higher is better)",
    "privacy.fact_leaks": "private facts shown anywhere in a reply (text, citation, rationale) to people who "
                          "may not see them; must be 0",
    "privacy.source_leaks": "replies citing or listing a private channel's message to people outside it; must be 0",
    "privacy.member_found_rate": "control: share of private facts a member finds by asking in the private "
                                 "channel (shows the probes would find them)",
    "digest.ndcg_at_5": "nDCG@5 of `digest now` per 24 h channel window, gain 2^importance-1 (importance 0..3)",
    "digest.recency_ndcg_at_5": "the same for the most-recently-active-first order (baseline)",
    "digest.ndcg_gain_over_recency": "digest nDCG@5 minus the recency baseline's",
    "digest.precision_at_5": "share of the digest's top 5 labelled important (importance >= 2)",
    "digest.recency_precision_at_5": "the same for recency order",
    "latency": "wall-clock milliseconds of router.handle, per skill (p50 / p95)",
    "paraphrase.recall_at_5": "recall@5 for the same questions asked in words their answering threads never use "
                              "(only the subject's names are kept)",
    "followup.answered_from_thread": "share of follow-ups (\"and who said that?\", asked in the first answer's "
                                     "thread) answered, not declined, citing the labelled thread",
    "followup.answered_elsewhere": "share of follow-ups answered, not declined, citing no message of the labelled "
                                   "thread (answered from the wrong thread)",
    "followup.thread_recall_at_5": "share of follow-ups with a message of the labelled thread in the top 5 evidence",
    "followup.kept_thread": "of the follow-ups whose first answer cited the labelled thread, the share answered "
                            "from it too: how well the conversation is followed, apart from how well the first "
                            "question was answered (which bounds followup.answered_from_thread)",
}


def meaning(metric: str) -> str:
    if metric in MEANINGS:
        return MEANINGS[metric]
    if metric.startswith("latency."):
        return MEANINGS["latency"]
    return MEANINGS.get(metric.partition(".")[2], "")


@dataclass(frozen=True, slots=True)
class Check:
    metric: str
    bound: str  # "min" | "max"
    limit: float
    value: float | None

    @property
    def ok(self) -> bool:
        if self.value is None:
            return self.metric.startswith(OPTIONAL_PREFIXES)
        return self.value >= self.limit if self.bound == "min" else self.value <= self.limit

    def line(self) -> str:
        shown = "not measured" if self.value is None else f"{self.value:g}"
        sign = ">=" if self.bound == "min" else "<="
        return f"{'ok  ' if self.ok else 'FAIL'} {self.metric} = {shown} (needs {sign} {self.limit:g})"


def load_thresholds(path: Path = DEFAULT_THRESHOLDS) -> dict[str, dict[str, float]]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return {bound: {k: float(v) for k, v in data.get(bound, {}).items()} for bound in ("min", "max")}


def check(values: dict[str, float], thresholds: dict[str, dict[str, float]]) -> list[Check]:
    return [Check(metric, bound, limit, values.get(metric))
            for bound in ("min", "max") for metric, limit in sorted(thresholds.get(bound, {}).items())]


def _fmt(value: float) -> str:
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.3f}"


def _limits(checks: list[Check]) -> dict[str, str]:
    return {c.metric: f"{'>=' if c.bound == 'min' else '<='} {c.limit:g}" for c in checks}


def table(report: dict[str, Any], checks: list[Check]) -> str:
    """The terminal table: metric, value, threshold, status."""
    limits = _limits(checks)
    failed = {c.metric for c in checks if not c.ok}
    rows = [(k, _fmt(v), limits.get(k, ""), "FAIL" if k in failed else ("ok" if k in limits else ""))
            for k, v in report["metrics"].items()]
    width = max(len(r[0]) for r in rows)
    lines = [f"{'metric':<{width}}  {'value':>9}  {'threshold':<10}  status"]
    lines += [f"{k:<{width}}  {v:>9}  {t:<10}  {s}" for k, v, t, s in rows]
    lines += [c.line() for c in checks if c.value is None and not c.ok]
    return "\n".join(lines)


def confusion_markdown(confusion: dict[str, dict[str, int]]) -> list[str]:
    predicted = list(next(iter(confusion.values())).keys()) if confusion else []
    lines = ["| expected \\ routed to | " + " | ".join(predicted) + " |",
             "| --- |" + " ---: |" * len(predicted)]
    lines += [f"| {e} | " + " | ".join(str(row[p]) for p in predicted) + " |" for e, row in confusion.items()]
    return lines


def retrieval_line(retrieval: dict[str, Any] | None) -> str:
    if not retrieval:
        return ""
    line = f" Retrieval: `{retrieval['engine']}`"
    if retrieval.get("embeddings_model"):
        line += (f", embeddings `{retrieval['embeddings_model']}` ({retrieval['vectors']:,} messages embedded"
                 + (f", {retrieval['not_embedded']:,}+ not" if retrieval.get("not_embedded") else "") + ")")
    return line + "."


def markdown(report: dict[str, Any], checks: list[Check]) -> str:
    ws = report["workspace"]
    details = report["details"]
    limits = _limits(checks)
    failed = {c.metric for c in checks if not c.ok}
    lines = [
        "# whybot evaluation",
        "",
        f"Workspace: {ws['path']} (seed {ws['seed']}, size {ws['size']}): {ws['messages']:,} messages, "
        f"{ws['threads']} threads, {ws['questions']} answerable and {ws['unanswerable']} unanswerable questions, "
        f"{ws['utterances']} utterances, {ws['private_facts']} private facts. Imported in {ws['import_s']} s."
        + retrieval_line(ws.get("retrieval")),
        f"Run {report.get('run', {}).get('at', '')} on {report.get('run', {}).get('machine', '')}; "
        + (f"classifier `{details['router']['classifier']}`, digest model `{details['digest']['model']}`."
         if "router" in details and "digest" in details else
         f"hidden in {ws.get('messages_in_tenant', 0):,} messages ({ws.get('haystack')}): router and digest not run."),
        "",
        "| metric | value | threshold | status | meaning |",
        "| --- | ---: | --- | --- | --- |",
    ]
    for k, v in report["metrics"].items():
        status = "FAIL" if k in failed else ("ok" if k in limits else "")
        lines.append(f"| `{k}` | {_fmt(v)} | {limits.get(k, '')} | {status} | {meaning(k)} |")
    if "router" in details:
        lines += ["", "## Router confusion (rows: labelled skill, columns: routed to)", ""]
        lines += confusion_markdown(details["router"]["confusion"])
    if "router" in details and details["router"]["misses"]:
        lines += ["", "Misrouted examples:", ""]
        lines += [f"- `{x['text']}`: {x['expected']} -> {x['predicted']}" for x in details["router"]["misses"]]
    for key in [k for k in details if k.startswith("ask")]:
        ask = details[key]
        lines += ["", f"## {key}: {ask['questions']} questions, {ask['answered']} answered, "
                      f"{ask['citations']} citations", ""]
        if ask["misses"]:
            lines.append("Questions whose answer was not in the evidence (first few):")
            lines.append("")
            lines += [f"- {x['id']} `{x['question']}`" + (" (declined)" if x["declined"] else "")
                      for x in ask["misses"]]
    privacy = details["privacy"]
    lines += ["", f"## Privacy: {privacy['facts']} private facts, {privacy['probes']} probes", ""]
    lines += [f"- LEAK {x.get('what', 'fact')}: `{x['fact']}` via `{x['query']}` ({x['where']})"
              for x in privacy["leaks"]] or ["No leaks."]
    if "digest" in details:
        digest = details["digest"]
        lines += ["", f"## Digest: {digest['windows']} channel windows of 24 h over {digest['days']} days",
                  "", f"Model `{digest['model']}`: {digest['trained_on']}."]
    lines += ["", "## Latency (ms, router.handle wall clock)", "", "| skill | n | p50 | p95 |",
              "| --- | ---: | ---: | ---: |"]
    lines += [f"| {s} | {v['n']} | {v['p50_ms']} | {v['p95_ms']} |" for s, v in details["latency"].items()]
    if failed:
        lines += ["", "## Below thresholds", ""] + [f"- {c.line()}" for c in checks if not c.ok]
    return "\n".join(lines) + "\n"


def write(report: dict[str, Any], checks: list[Check], out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    report = {**report, "thresholds": [{"metric": c.metric, "bound": c.bound, "limit": c.limit, "value": c.value,
                                        "ok": c.ok} for c in checks],
              "passed": all(c.ok for c in checks)}
    json_path, md_path = out / "eval.json", out / "eval.md"
    json_path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    md_path.write_text(markdown(report, checks), encoding="utf-8")
    return json_path, md_path
