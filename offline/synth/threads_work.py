"""Work threads: incidents, decisions, action items, deadlines, support cases, bot notifications.

Each function returns a `Thread` of `Draft`s with its importance grade (0 noise … 3 must-read)
and the ask-evaluation items it can answer.
"""

from __future__ import annotations

from offline.synth import vocab
from offline.synth.context import Ctx
from offline.synth.model import QA, Channel, Draft, Thread

L = list  # slot values are lists of alternatives


def _other_service(c: Ctx, svc: str) -> str:
    return c.rng.choice([s for s in c.services if s != svc] or [svc])


def incident(c: Ctx, ch: Channel) -> Thread:
    rng = c.rng
    svc, region, err = c.service(), rng.choice(vocab.REGIONS), rng.choice(vocab.ERRORS)
    endpoint, ds = rng.choice(vocab.ENDPOINTS), rng.choice(vocab.DATASTORES)
    sev = rng.choice((1, 2, 2, 3, 3))
    cause_t, fix_t = rng.choice(vocab.CAUSES)
    cause_slots = {"service2": _other_service(c, svc), "datastore": ds, "vendor": rng.choice(vocab.VENDORS)}
    cause, fix = c.grammar.expand(cause_t, cause_slots), c.grammar.expand(fix_t, cause_slots)
    crew = c.people_in(ch, rng.randint(2, 5))
    lead, helper = crew[0], crew[-1]
    s = {"svc": svc, "region": region, "err": err, "endpoint": endpoint, "ds": ds, "sev": str(sev)}
    drafts: list[Draft] = []
    if rng.random() < 0.45:
        bot = c.bots["pagerduty" if rng.random() < 0.6 else "alertmanager"]
        drafts.append(Draft(bot, c.say(bot, (
            "[FIRING:1] {svc} [HighErrorRate|Error budget burn|5xx ratio] > {n}% in {region} (sev{sev})",
            ":rotating_light: Triggered: {svc} {err} rate above threshold on {endpoint} ({region})",
            "Incident #{id} triggered: [{svc} is unhealthy|{svc} health check failing] in {region}"),
            n=str(rng.randint(2, 40)), id=str(c.next_id()), **s)))
        drafts.append(Draft(lead, c.say(lead, "{looking}[, I have the pager|, I'm on call| - <!here> fyi|]"),
                            c.fast()))
    else:
        drafts.append(Draft(lead, c.say(lead, (
            "[<!here> |]{svc} is {broken} in {region} - {err}s on {endpoint} {now}",
            "[<!here> |]seeing {err}s from {svc} {now}, [anyone else?|customers are noticing|declaring sev{sev}]",
            "[Sev{sev}|SEV-{sev}|sev{sev}]: {svc} [latency spike|error spike|outage] in {region}, "
            "[I'm IC|investigating]"),
            **s), reactions=vocab.EMOJI_LOOK, reaction_rate=0.08))
    drafts.append(Draft(helper, c.say(helper, (
        "error rate is at {n}% and p99 is {ms}ms[, graph attached|]",
        "{ds} [connections are maxed out|CPU is pinned at 100%|looks fine from here]",
        "[not just {region},|] I see it in the {svc} logs too: `{err}` on {endpoint}"),
        n=str(rng.randint(3, 60)), ms=str(rng.randint(800, 9000)), **s), c.fast(),
        files=(c.file("png", f"{svc} errors"),) if rng.random() < 0.35 else ()))
    if len(crew) > 2:
        extra = crew[1]
        drafts.append(Draft(extra, c.say(extra, (
            "{mention} can you check whether the last {svc} deploy lines up?",
            "[statuspage updated|I posted on the status page|support is aware, I told them]",
            "is {other} affected too? seeing some noise there"),
            mention=helper.mention, other=_other_service(c, svc), **s), c.fast()))
    cause_idx = len(drafts)
    drafts.append(Draft(lead, c.quote(lead, "[found it|got it|ok I think I know]: {cause}", cause=cause),
                        c.normal() / 4, role="cause", reactions=("eyes", "point_up"), reaction_rate=0.05))
    drafts.append(Draft(helper, c.say(helper, "[nice find|ugh|oof], {fix_short}", fix_short=L((
        "rolling back now", "want me to flip the flag?", "I'll prep the fix", "I can scale it out"))), c.fast()))
    postmortem = c.doc_link("postmortem") if rng.random() < 0.6 else "I'll write the postmortem {soon}"
    res_idx = len(drafts)
    drafts.append(Draft(lead, c.quote(lead, "{fixed}. Root cause: {cause}. We {fix}. {pm}",
                                    cause=cause, fix=fix, pm=c.grammar.expand(postmortem)),
                        c.normal(), role="resolution", reactions=vocab.EMOJI_POSITIVE, reaction_rate=0.2,
                        broadcast=rng.random() < 0.25))
    thread = Thread("incident", ch, drafts, importance=3 if sev <= 2 else 2, topic=f"{svc} {err} in {region}")
    key = c.claim(f"incident:{svc}:{region}")
    thread.qa.append(QA(c.grammar.expand((
        "why did {svc} go down in {region}", "root cause of the {svc} {err} errors in {region}",
        "what broke {svc} in {region}", "what was behind the {svc} incident in {region}"), s),
        None, ((None, cause_idx), (None, res_idx)), (cause,), key, "incident_cause",
        {"svc": svc, "region": s["region"]}))
    thread.qa.append(QA(c.grammar.expand((
        "how did we fix the {svc} problem in {region}", "what was done to mitigate the {svc} outage in {region}",
        "how was {svc} brought back in {region}"), s), None, ((None, res_idx),), (fix,), key, "incident_fix",
        {"svc": svc, "region": s["region"]}))
    return thread


DECISION_TOPICS: tuple[tuple[str, str], ...] = (
    ("migrate {svc} from {ds} to {ds2}", "moving {svc} off {ds}"),
    ("move {svc} deploys to {tool}", "{svc} deploys with {tool}"),
    ("drop the v1 API of {svc}", "retiring {svc} v1"),
    ("adopt {tool} for all services", "using {tool} everywhere"),
    ("split {svc} into a read and a write service", "splitting {svc}"),
    ("put {svc} behind the new gateway", "{svc} behind the gateway"),
    ("switch {svc} to {lang}", "rewriting {svc} in {lang}"),
    ("require two reviewers for {svc} changes", "review rules for {svc}"),
)


def decision(c: Ctx, ch: Channel) -> Thread:
    rng = c.rng
    svc = c.service()
    ds, ds2 = rng.sample(vocab.DATASTORES, 2)
    slots = {"svc": svc, "ds": ds, "ds2": ds2, "tool": rng.choice(vocab.TOOLS),
             "lang": rng.choice(("Go", "Rust", "Kotlin", "TypeScript", "Python 3.12"))}
    topic_t, short_t = rng.choice(DECISION_TOPICS)
    topic, short = c.grammar.expand(topic_t, slots), c.grammar.expand(short_t, slots)
    crew = c.people_in(ch, rng.randint(3, 8))
    proposer, decider = crew[0], crew[-1]
    drafts = [Draft(proposer, c.quote(proposer, (
        "[Proposal|RFC|Idea]: [we |let's ]{topic}. [Main reason: {why}.|Context: {why}.] [Thoughts?|Objections?|"
        "Doc: {doc}]",
        "I'd like us to {topic}[ this quarter|]. {why_cap}. [Any concerns?|Can we decide by {day}?]"),
        topic=topic, why=L(("on-call load keeps growing", "costs went up 30% last quarter",
                                        "we keep hitting limits", "it blocks the roadmap", "security asked for it")),
        why_cap=L(("On-call load keeps growing", "It's cheaper", "We keep hitting limits")),
        doc=c.doc_link("RFC"), day=L(vocab.WEEKDAYS)), reactions=vocab.EMOJI_LOOK, reaction_rate=0.1)]
    for person in crew[1:-1]:
        drafts.append(Draft(person, c.say(person, (
            "{agree}", "{agree}, [as long as we keep a rollback path|but let's do it after {release}|"
            "happy to help]", "what about [the migration window|data backfill|the on-call impact|cost]?",
            "[not convinced,|hmm,] [the last time we tried this it took a quarter|we'd need a spike first]",
            "[fine by me|ok] if {svc} owners sign off"), svc=svc, release=L(vocab.RELEASES)), c.normal()))
    choice = rng.choice((f"go ahead and {topic}", f"{topic}, starting {rng.choice(vocab.WEEKDAYS)}",
                         f"not {topic} for now and revisit in Q{rng.randint(1, 4)}"))
    owner = rng.choice(crew[:-1])
    dec_idx = len(drafts)
    drafts.append(Draft(decider, c.quote(decider, (
        "[Decision|Decided|Final call|OK, decision]: we'll {choice}. {owner} owns it[, target {day}|].",
        "[Thanks all.|Alright.] We agreed to {choice}; {owner} [will drive it|is the DRI]."),
        choice=choice, owner=owner.mention, day=L(vocab.WEEKDAYS)), c.normal(), role="decision",
        reactions=vocab.EMOJI_POSITIVE, reaction_rate=0.15))
    thread = Thread("decision", ch, drafts, importance=3 if len(drafts) >= 6 else 2, topic=short)
    key = c.claim(f"decision:{short}")
    thread.qa.append(QA(c.grammar.expand((
        "what did we decide about {short}", "where did we land on {short}", "outcome of the discussion on {short}",
        "did we agree on {short}", "final call on {short}?"), {"short": short}),
        None, ((None, dec_idx),), (choice,), key, "decision", {"short": short}))
    return thread


TASKS: tuple[str, ...] = (
    "update the {svc} runbook", "add alerting on {svc} {err} rates", "write the postmortem for {svc}",
    "upgrade {svc} to the new base image", "file a ticket with {vendor} support", "clean up stale flags in {svc}",
    "send the customer update to {customer}", "load-test {svc} before {release}", "rotate the {svc} API keys",
    "draft the {release} release notes", "fix the flaky {svc} integration test", "book a follow-up to {meeting}",
)


def action_items(c: Ctx, ch: Channel) -> Thread:
    rng = c.rng
    crew = c.people_in(ch, rng.randint(3, 5))
    lead, owners = crew[0], crew[1:] if len(crew) > 1 else crew
    tasks = []
    for _ in owners:
        tasks.append(c.grammar.expand(rng.choice(TASKS), {
            "svc": c.service(), "err": L(vocab.ERRORS), "vendor": L(vocab.VENDORS), "customer": L(c.customers),
            "release": L(vocab.RELEASES), "meeting": L(vocab.MEETINGS)}))
    lines = "\n".join(f"• {o.mention} {t}" + (f" by {rng.choice(vocab.WEEKDAYS)}" if rng.random() < 0.6 else "")
                      for o, t in zip(owners, tasks, strict=True))
    meeting = rng.choice(vocab.MEETINGS)
    drafts = [Draft(lead, c.quote(lead, "[Action items|AIs|Follow-ups|To-dos] from {meeting}:",
                                meeting=meeting) + "\n" + lines, role="actions", reactions=("white_check_mark",
                                                                                         "+1", "eyes"),
                    reaction_rate=0.15)]
    for o in owners[: rng.randint(1, len(owners))]:
        drafts.append(Draft(o, c.say(o, ("on it", "done ✅[ {pr}|]", "will do[ {soon}|]",
                                         "can mine slip to next week? [blocked on review|swamped with on-call]",
                                         "👍"), pr=c.pr_link(c.service())), c.normal(), edited=rng.random() < 0.2))
    thread = Thread("action_items", ch, drafts, importance=2, topic=f"action items from {meeting}")
    i = rng.randrange(len(tasks))
    key = c.claim(f"task:{tasks[i]}")
    thread.qa.append(QA(c.grammar.expand((
        "who is assigned to {task}", "who took the action item to {task}", "whose job is it to {task}"),
        {"task": tasks[i]}), None, ((None, 0),), (owners[i].mention,), key, "task", {"task": tasks[i]}))
    return thread


DEADLINE_THINGS: tuple[str, ...] = (
    "the code freeze for {release}", "the {release} branch cut", "self-reviews for the perf cycle",
    "Q{q} OKR drafts", "the security training", "the {vendor} renewal decision", "expense reports for {month}",
    "the {svc} deprecation notice to customers", "feedback on the {release} RFC",
)


def deadline(c: Ctx, ch: Channel) -> Thread:
    rng = c.rng
    author = c.person(ch)
    thing = c.grammar.expand(rng.choice(DEADLINE_THINGS), {
        "release": L(vocab.RELEASES), "q": str(rng.randint(1, 4)), "vendor": L(vocab.VENDORS),
        "month": L(("March", "April", "May", "June", "September", "October")), "svc": c.service()})
    when = f"{rng.choice(vocab.WEEKDAYS)} {rng.choice(('EOD', 'at 17:00 UTC', 'noon PT', 'at 10:00 CET', 'midnight'))}"
    drafts = [Draft(author, c.quote(author, (
        "[Reminder|Heads up|PSA|:alarm_clock: Reminder]: {thing} [is due|closes|happens|ends] {when}[. No extensions.|"
        ". Please plan accordingly.|]",
        "[<!channel>|<!here>|friendly reminder -] deadline for {thing} is {when}"),
        thing=thing, when=when), role="deadline", reactions=("eyes", "+1", "white_check_mark"),
        reaction_rate=0.12)]
    for person in c.people_in(ch, rng.randint(0, 2), exclude=(author,)):
        drafts.append(Draft(person, c.say(person, (
            "can {svc} get an extension? [we're close|one PR left]", "is that {tz} time?", "thanks for the reminder",
            "noted"), svc=c.service(), tz=L(("Pacific", "UTC", "local"))), c.normal()))
    thread = Thread("deadline", ch, drafts, importance=2, topic=thing)
    key = c.claim(f"deadline:{thing}")
    thread.qa.append(QA(c.grammar.expand(("when is {thing} due", "deadline for {thing}", "by when do we need {thing}",
                                          "what's the cutoff for {thing}"), {"thing": thing}), None,
                        ((None, 0),), (when,), key, "deadline", {"thing": thing}))
    return thread


def support_case(c: Ctx, ch: Channel) -> Thread:
    rng = c.rng
    customer, feature = rng.choice(c.customers), rng.choice(vocab.FEATURES)
    agent = c.person(ch, team="support")
    eng = c.person(ch, exclude=(agent,), team="eng")
    svc = c.service()
    drafts = [Draft(agent, c.say(agent, (
        "{customer} reports {feature} is {broken}[ for their EU users| since this morning|], ticket {ticket}. "
        "[Anyone from eng around?|{eng} could you take a look?|Priority customer.]",
        "[Escalation:|Hey eng,] {customer} can't use {feature} - [they get a blank page|it spins forever|"
        "they see error {code}] ({ticket})"),
        customer=customer, feature=feature, ticket=c.ticket(), eng=eng.mention, code=L(vocab.ERRORS)),
        reactions=("eyes",), reaction_rate=0.1)]
    drafts.append(Draft(eng, c.say(eng, "{looking}"), c.normal()))
    cause = c.grammar.expand(("a bad cache entry in {svc}", "their SSO certificate expired",
                              "a bug in {svc} when the account has >1000 users", "a rate limit on their API key",
                              "a regression from yesterday's {svc} deploy"), {"svc": svc})
    fix_idx = len(drafts)
    if rng.random() < 0.7:
        drafts.append(Draft(eng, c.quote(eng, "[It was|Found it:|Cause was] {cause}; [fix is out in {pr}|"
                                            "I cleared it|patched in {pr}], [can you ask them to retry?|"
                                            "should work now]", cause=cause, pr=c.pr_link(svc)),
                            c.normal(), role="answer"))
        drafts.append(Draft(agent, c.say(agent, ("confirmed fixed, closing the ticket", "{thanks}",
                                                 "customer confirmed 🎉")), c.slow() / 4,
                            reactions=vocab.EMOJI_POSITIVE, reaction_rate=0.1))
    else:
        drafts.append(Draft(eng, c.quote(eng, "known issue - {cause}. Workaround: [clear the browser cache|"
                                            "re-upload the metadata|use the API until the fix ships]",
                                       cause=cause), c.normal(), role="answer"))
    thread = Thread("support_case", ch, drafts, importance=rng.choice((1, 2)), topic=f"{customer} {feature}")
    key = c.claim(f"support:{customer}:{feature}")
    thread.qa.append(QA(c.grammar.expand(("what was wrong with {feature} for {customer}",
                                          "why couldn't {customer} use {feature}",
                                          "cause of the {customer} {feature} ticket"),
                                         {"customer": customer, "feature": feature}),
                        None, ((None, fix_idx),), (cause,), key, "support",
                        {"customer": customer, "feature": feature}))
    return thread


def bot_notification(c: Ctx, ch: Channel) -> Thread:
    rng = c.rng
    svc = c.service()
    sha = "".join(rng.choice("0123456789abcdef") for _ in range(7))
    kind = rng.choice(("deploy", "ci", "ci", "github", "jira", "resolved"))
    s = {"svc": svc, "sha": sha, "n": str(c.next_id()), "who": rng.choice(c.people).real_name,
         "env": L(("production", "staging", "prod-eu", "canary")), "secs": str(rng.randint(40, 900))}
    if kind == "deploy":
        bot, text = c.bots["deploybot"], c.say(c.bots["deploybot"], (
            "Deployed *{svc}* `{sha}` to {env} by {who} ({secs}s)", ":rocket: {svc} {sha} is live on {env}"), **s)
    elif kind == "ci":
        bot, text = c.bots["buildkite"], c.say(c.bots["buildkite"], (
            ":white_check_mark: Build #{n} passed on `main` ({svc})",
            ":x: Build #{n} failed on `main` ({svc}): [test_{t}|lint|integration tests]"), t=L(("retry", "auth", "io")),
            **s)
    elif kind == "github":
        bot, text = c.bots["github"], c.say(c.bots["github"], (
            "Pull request #{n} merged into {svc}: [Bump deps|Fix flaky test|Add metrics|Refactor client]",
            "New pull request #{n} opened on {svc} by {who}"), **s)
    elif kind == "jira":
        bot, text = c.bots["jira"], c.say(c.bots["jira"], "{who} [created|resolved|moved to In Review] {ticket}",
                                          ticket=c.ticket(), **s)
    else:
        bot, text = c.bots["alertmanager"], c.say(c.bots["alertmanager"], "[RESOLVED] {svc} [latency|error rate] "
                                                                          "back under threshold", **s)
    drafts = [Draft(bot, text)]
    failed = ":x:" in text
    if failed and rng.random() < 0.5:
        p = c.person(ch)
        drafts.append(Draft(p, c.say(p, ("flaky, retrying", "looking", "mine, fixing", "known, ignore")), c.fast()))
    return Thread("bot_notification", ch, drafts, importance=1 if failed and len(drafts) > 1 else 0,
                  topic=f"{kind} {svc}")
