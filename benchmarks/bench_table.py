"""`make bench`'s one table: a row per figure, with the goal it is held to and whether it met it.

The goals are issue 13's (and the tracking page's own); they live here and in the README, never
in tests. Each row is built from the JSON a section's script wrote.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Final

SERVE_SHARE: Final = 0.30  # of the bare handler; 0.50 is the moonshot
WHOLE_SHARE: Final = 0.10  # serve + worker on SQLite
HALF_RATE_P99_MS: Final = 50.0
TWO_SERVES: Final = 1.7
NOTIFY_GOAL_RATE: Final = "200"
NOTIFY_P50_MS: Final = 100.0
NOTIFY_P99_MS: Final = 250.0
WORKER_EVENTS_S: Final = 500.0
PAGE_P99_MS: Final = 20.0


@dataclass(frozen=True, slots=True)
class Row:
    area: str
    figure: str
    value: str
    p50_ms: float | None = None
    p99_ms: float | None = None
    note: str = ""
    goal: str = ""
    met: bool | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _verdict(met: bool | None) -> str:
    return {True: "met", False: "MISSED", None: ""}[met]


def _failed(area: str, figure: str, document: dict[str, Any]) -> Row | None:
    if "error" in document:
        return Row(area, figure, "failed", note=str(document["error"])[:120])
    return None


def ingest_rows(doc: dict[str, Any]) -> list[Row]:
    if failed := _failed("ingest", "carrier webhooks", doc):
        return [failed]
    outcomes = doc.get("outcomes", [])
    one_pg = next((o for o in outcomes if o["name"] == "postgresql serve"), None)
    rows = []
    for o in outcomes:
        name, share = o["name"], o.get("vs_bare") or 0.0
        note = (
            f"{share:.0%} of bare; serve CPU {o['server_cpu_pct']:.0f}%, "
            f"{o['server_cpu_us_per_request']:.0f} us/request"
        )
        if o.get("worker_cpu_pct") is not None:
            note += f", worker CPU {o['worker_cpu_pct']:.0f}%"
        if o.get("db_cpu_pct") is not None:
            note += f", PostgreSQL CPU {o['db_cpu_pct']:.0f}%"
        if o.get("check_ok") is False:
            note += "; ROW CHECK MISMATCH"
        goal, met = "", None
        if name.endswith("@ half rate"):
            goal, met = f"p99 <= {HALF_RATE_P99_MS:.0f} ms", o["p99_ms"] <= HALF_RATE_P99_MS
        elif name in ("sqlite serve", "postgresql serve"):
            goal, met = f">= {SERVE_SHARE:.0%} of bare (50% moonshot)", share >= SERVE_SHARE
        elif name == "sqlite serve + worker":
            goal, met = f">= {WHOLE_SHARE:.0%} of bare", share >= WHOLE_SHARE
        elif name == "postgresql 2 serves" and one_pg and one_pg["rps"]:
            ratio = o["rps"] / one_pg["rps"]
            goal, met = f">= {TWO_SERVES}x one serve: {ratio:.2f}x", ratio >= TWO_SERVES
        value = f"{o['rps']:.0f} req/s"
        rows.append(Row("ingest", name, value, o["p50_ms"], o["p99_ms"], note, goal, met))
    return rows


def notify_rows(doc: dict[str, Any]) -> list[Row]:
    rows = []
    for rate, run in doc.items():
        figure = f"webhook → SMS, default settings, {rate}/s"
        if failed := _failed("notify", figure, run):
            rows.append(failed)
            continue
        cpu = ", ".join(f"{k} {v:.0f}%" for k, v in run.get("cpu_pct", {}).items())
        note = f"202 p99 {run['answer_p99_ms']} ms; max {run['max_ms']} ms; CPU {cpu}"
        goal, met = "", None
        if rate == NOTIFY_GOAL_RATE:
            goal = f"p50 <= {NOTIFY_P50_MS:.0f}, p99 <= {NOTIFY_P99_MS:.0f} ms"
            met = (
                run["missing"] == 0
                and run["p50_ms"] <= NOTIFY_P50_MS
                and run["p99_ms"] <= NOTIFY_P99_MS
            )
        value = f"{run['arrived']}/{run['events']} SMS"
        rows.append(Row("notify", figure, value, run["p50_ms"], run["p99_ms"], note, goal, met))
    return rows


def worker_rows(doc: dict[str, Any]) -> list[Row]:
    figure = "one worker over a backlog (instant settings)"
    if failed := _failed("worker", figure, doc):
        return [failed]
    eps = doc.get("events_per_s") or 0.0
    note = (
        f"{doc['arrived']}/{doc['events']} SMS; worker CPU {doc['worker_cpu_ms_per_event']} "
        f"ms/event ({doc['worker_cpu_pct']:.0f}% of a core)"
    )
    goal = f">= {WORKER_EVENTS_S:.0f} events/s"
    return [Row("worker", figure, f"{eps:.0f} events/s", None, None, note, goal, eps >= 500)]


def page_rows(doc: dict[str, Any]) -> list[Row]:
    if failed := _failed("page", "tracking page", doc):
        return [failed]
    rows = []
    for name in ("out_for_delivery", "delivered"):
        r = doc[name]
        note = (
            f"server p99 {r['server_p99_ms']} ms, {r['server_cpu_ms_per_page']} ms CPU/page, "
            f"{r['compressed_bytes']} B gzip"
        )
        goal, met = f"p99 <= {PAGE_P99_MS:.0f} ms", r["p99_ms"] <= PAGE_P99_MS
        value = f"{r['achieved_rps']:.0f} req/s"
        rows.append(
            Row("page", f"tracking page, {name}", value, r["p50_ms"], r["p99_ms"], note, goal, met)
        )
    return rows


def driver_rows(doc: dict[str, Any]) -> list[Row]:
    if failed := _failed("driver", "driver rules (pure)", doc):
        return [failed]
    whole = doc["stages"].get("evaluate_batch + state JSON")
    if whole is None:
        return [Row("driver", "driver rules (pure)", "?", note="no whole-batch line")]
    note = f"{whole['ms_per_batch']} ms per 500-ping batch, no HTTP or database"
    return [Row("driver", "driver rules, evaluate_batch", f"{whole['pings_per_s']:,.0f} pings/s",
                note=note)]  # fmt: skip


def extra_rows(doc: dict[str, Any]) -> list[Row]:
    rows = []
    for label, run in doc.items():
        if "absent" in run:
            rows.append(Row("extra", label, "-", note=f"benchmarks/{run['absent']} not there yet"))
            continue
        if failed := _failed("extra", label, run):
            rows.append(failed)
            continue
        for r in run.get("summary", []):
            value = f"{r.get('value')} {r.get('unit', '')}".strip()
            met = r.get("met")
            rows.append(
                Row("extra", f"{label}: {r.get('figure', '?')}", value, r.get("p50_ms"),
                    r.get("p99_ms"), r.get("note", ""), r.get("goal", ""), met)
            )  # fmt: skip
    return rows


BUILDERS: Final[dict[str, Callable[[dict[str, Any]], list[Row]]]] = {
    "ingest": ingest_rows,
    "notify": notify_rows,
    "worker": worker_rows,
    "page": page_rows,
    "driver": driver_rows,
    "extra": extra_rows,
}


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def print_table(report: dict[str, Any]) -> list[Row]:
    rows = [
        row for name, build in BUILDERS.items() if name in report for row in build(report[name])
    ]
    m = report["machine"]
    print(
        f"\n== lastmile benchmark {report['started'][:19]}Z, commit {m['commit']}"
        f"{' (quick)' if report['quick'] else ''}: {m['cores']} cores ({m['cpu']}), "
        f"{m['memory_gib']} GiB, Python {m['python']}; load average "
        f"{m['load_average_start'][0]} at start, {m['load_average_end'][0]} at end"
    )
    header = f"{'area':<7} {'figure':<46} {'value':>16} {'p50 ms':>9} {'p99 ms':>9}  goal"
    print(header)
    print("-" * 120)
    for r in rows:
        goal = f"{r.goal}: {_verdict(r.met)}" if r.goal else ""
        print(
            f"{r.area:<7} {r.figure:<46} {r.value:>16} {_ms(r.p50_ms):>9} {_ms(r.p99_ms):>9}  "
            f"{goal}"
        )
        if r.note:
            print(f"{'':<8}  {r.note}")
    return rows
