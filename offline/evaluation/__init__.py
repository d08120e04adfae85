"""`whybot eval`: measure routing, answering, privacy, digest ranking and latency on a labelled
synthetic workspace, through the real router, against checked-in thresholds."""
