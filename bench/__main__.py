"""`python -m bench NAME [args]`: run one benchmark. Results go to stdout (a Markdown table) and bench/results/."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = {
    "slack-ack": "bench.slack_ack",
    "slack-e2e": "bench.slack_e2e",
    "digest": "bench.digest_rank",
    "retrieval": "bench.retrieval",
    "storage": "bench.storage_ingest",
    "search-pg": "bench.search_pg",
    "slack-backlog": "bench.slack_backlog",
    "commit-floor": "bench.commit_floor",
    "ask": "bench.ask_scale",
    "ann": "bench.ann_recall",
    "visibility": "bench.visibility",
}


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in BENCHMARKS:
        print("usage: python -m bench {" + ",".join(BENCHMARKS) + "} [options]", file=sys.stderr)
        return 2
    module = importlib.import_module(BENCHMARKS[sys.argv[1]])
    return int(module.main(sys.argv[2:]))


if __name__ == "__main__":
    sys.exit(main())
