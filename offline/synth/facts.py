"""Service facts people ask about, with separate frames for the literal question, its paraphrase
(the eval question, so retrieval cannot win on exact wording) and the answer.

`UNANSWERABLE` attributes are never stated by any generator, so questions about them have no
answer anywhere in the workspace.
"""

from __future__ import annotations

from dataclasses import dataclass

from offline.synth import vocab
from offline.synth.context import Ctx


@dataclass(frozen=True, slots=True)
class Attribute:
    key: str
    asks: tuple[str, ...]  # literal question frames ({svc})
    paraphrases: tuple[str, ...]  # eval question frames ({svc})
    answers: tuple[str, ...]  # answer frames ({svc}, {value}, optional {extra})


ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute(
        "owner",
        ("{hi} who owns {svc} these days?", "{anyone} who maintains {svc}?", "which team is on the hook for {svc}?",
         "who should I talk to about {svc}? need a review"),
        ("who is responsible for {svc}", "{svc} owner", "which person looks after {svc}",
         "who do I ping about {svc} changes"),
        ("{value} owns it[ now|], [they took it over last quarter|ping them directly|their team does reviews]",
         "that's {value}'s team[ since the reorg|]", "[pretty sure |]{value} is the owner"),
    ),
    Attribute(
        "port",
        ("what port does {svc} listen on locally?", "{anyone} which port {svc} uses in docker-compose?",
         "what's the local port for {svc}? getting connection refused"),
        ("{svc} local port number", "which port is {svc} served on in dev", "port for running {svc} locally"),
        ("it's {value}[, see the compose file|]", "{value} locally[, 80 in the cluster|]",
         "[should be |]port {value}"),
    ),
    Attribute(
        "datastore",
        ("what does {svc} use for storage?", "{anyone} what database sits behind {svc}?",
         "is {svc} on Postgres or something else?"),
        ("which database backs {svc}", "storage engine used by {svc}", "where does {svc} persist its data"),
        ("it's on {value}[ since the migration last year|]", "{value}[, one primary two replicas|]",
         "{svc} writes to {value}"),
    ),
    Attribute(
        "runbook",
        ("where's the runbook for {svc}?", "{anyone} where the {svc} runbook lives?",
         "do we have a runbook for {svc} restarts?"),
        ("link to the {svc} runbook", "how do I find the operational docs for {svc}",
         "{svc} on-call playbook location"),
        ("here: {value}", "it's in Confluence: {value}", "{value}[ (a bit outdated, the restart bit still works)|]"),
    ),
    Attribute(
        "secrets",
        ("where do we keep the staging credentials for {svc}?", "{anyone} where the {svc} API keys are stored?",
         "how do I get the {svc} staging secrets?"),
        ("location of {svc} secrets for staging", "where are {svc} creds kept",
         "which vault path has the {svc} keys"),
        ("Vault, under {value}", "they're in {value}[ - you need the eng-staging policy|]",
         "check {value}[, ask #security if you lack access|]"),
    ),
    Attribute(
        "deploy",
        ("how do I deploy {svc} to prod?", "{anyone} what the deploy process for {svc} is now?",
         "is {svc} still deployed by hand?"),
        ("steps to ship {svc} to production", "{svc} release procedure", "how do releases of {svc} go out"),
        ("{value}", "these days: {value}", "[no, ]{value}"),
    ),
    Attribute(
        "rate_limit",
        ("what's the rate limit on {svc}?", "{anyone} how many requests per minute {svc} allows per key?",
         "are we throttling {svc} clients? what's the limit?"),
        ("{svc} throttling threshold", "max request rate allowed by {svc}",
         "how much traffic can one key send to {svc}"),
        ("{value}[, bursts up to 2x|]", "it's {value}", "limit is {value}[, configurable per customer|]"),
    ),
    Attribute(
        "retention",
        ("how long does {svc} keep data?", "{anyone} what the retention period for {svc} logs is?",
         "when does {svc} purge old records?"),
        ("data retention for {svc}", "how many days of history {svc} stores", "{svc} purge policy"),
        ("{value}[, then it's archived to S3|]", "we keep {value}", "{value} by default"),
    ),
    Attribute(
        "language",
        ("what is {svc} written in?", "{anyone} which runtime {svc} is on?", "is {svc} still on the old runtime?"),
        ("programming language and version of {svc}", "{svc} tech stack", "runtime version used by {svc}"),
        ("{value}", "it's {value}[ - upgrade ticket is in the backlog|]", "{value} since the rewrite"),
    ),
)

UNANSWERABLE: tuple[str, ...] = (
    "what is the contractual SLA for {svc}", "how much does the {tool} license cost us per year",
    "who approved the {vendor} contract renewal", "when was {svc} first launched",
    "what is the maximum payload size {svc} accepts", "which data center hosts the {svc} backups",
    "how many engineers worked on the original {svc} design", "what's the parking policy at the {city} office",
    "when is the next company offsite", "what is the budget for the {svc} rewrite",
    "who is the GDPR data protection officer for {svc}", "what was the NPS score for {feature} last quarter",
)
CITIES: tuple[str, ...] = ("Lisbon", "Austin", "Berlin", "Singapore", "Toronto", "Nairobi", "Osaka")


def fact_value(c: Ctx, key: str, svc: str) -> str:
    """The fact itself, as it will be quoted in the answer."""
    rng = c.rng
    base = svc.split("-")[0]
    if key == "owner":
        return rng.choice(c.people).mention
    if key == "port":
        return str(rng.randint(3000, 9899))
    if key == "datastore":
        return rng.choice(vocab.DATASTORES)
    if key == "runbook":
        return f"<https://{c.org}.atlassian.net/wiki/spaces/OPS/pages/{rng.randint(10000, 99999)}|{base} runbook>"
    if key == "secrets":
        return f"secret/{base}/{rng.choice(('staging', 'stg', 'preprod'))}"
    if key == "deploy":
        return rng.choice((
            f"merge to main and Argo CD syncs it within {rng.randint(2, 15)} minutes",
            f"run `make release SERVICE={base}` then approve the pipeline in Buildkite",
            f"tag a release `v{rng.randint(1, 9)}.x` and GitHub Actions rolls it out",
            f"use `./scripts/deploy.sh {base} prod` from a bastion",
        ))
    if key == "rate_limit":
        return f"{rng.choice((60, 100, 120, 300, 600, 1000, 1200, 5000))} requests per minute per API key"
    if key == "retention":
        return f"{rng.choice((7, 14, 30, 45, 90, 180, 365, 400))} days"
    if key == "language":
        return rng.choice((f"Go 1.{rng.randint(19, 23)}", f"Python 3.{rng.randint(9, 13)}",
                           f"Node {rng.choice((18, 20, 22))}", f"Java {rng.choice((17, 21))}",
                           f"Kotlin 1.{rng.randint(7, 9)}", f"Rust 1.{rng.randint(70, 82)}"))
    raise KeyError(key)


def unanswerable_question(c: Ctx) -> str:
    svc = c.rng.choice(c.unused_services) if c.unused_services and c.rng.random() < 0.5 else c.service()
    return c.grammar.expand(UNANSWERABLE, {
        "svc": svc, "tool": list(vocab.TOOLS), "vendor": list(vocab.VENDORS), "city": list(CITIES),
        "feature": list(vocab.FEATURES)})
