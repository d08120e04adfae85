"""Loading existing history into storage and the index: Slack workspace exports, document folders."""
