"""Conversation threads: questions (answered, unanswered, re-asked), announcements, chit-chat,
off-topic posts, and private leadership discussions that carry private facts."""

from __future__ import annotations

from offline.synth import facts, vocab
from offline.synth.context import Ctx, KnownFact
from offline.synth.model import QA, Channel, Draft, Thread

L = list

PERMALINK = "\x00{}\x00"  # replaced by the referenced thread's permalink once timestamps exist


def _pick_fact(c: Ctx) -> tuple[str, facts.Attribute]:
    return c.service(), c.rng.choice(facts.ATTRIBUTES)


def question_answered(c: Ctx, ch: Channel) -> Thread:
    rng = c.rng
    svc, attr = _pick_fact(c)
    known = c.kb.get((svc, attr.key))
    value = known.value if known else facts.fact_value(c, attr.key, svc)
    asker = c.person(ch)
    answerer = c.person(ch, exclude=(asker,), team="eng")
    drafts = [Draft(asker, c.say(asker, attr.asks, svc=svc), role="question", reactions=("eyes",),
                    reaction_rate=0.03)]
    if rng.random() < 0.3:
        other = c.person(ch, exclude=(asker, answerer))
        drafts.append(Draft(other, c.say(other, ("{looking}", "good question", "not sure, {mention} might know",
                                                 "hmm, I thought it was in the README"),
                                         mention=answerer.mention), c.normal()))
    answer_idx = len(drafts)
    drafts.append(Draft(answerer, c.quote(answerer, attr.answers, svc=svc, value=value), c.normal(),
                        role="answer", reactions=("+1", "pray", "white_check_mark"), reaction_rate=0.06,
                        edited=rng.random() < 0.08))
    if rng.random() < 0.7:
        drafts.append(Draft(asker, c.say(asker, "{thanks}"), c.fast()))
    thread = Thread("question_answered", ch, drafts, importance=1, topic=f"{svc} {attr.key}")
    if known:
        known.qa.answers = (*known.qa.answers, (c.thread_index, answer_idx))
    else:
        qa = QA(c.grammar.expand(attr.paraphrases, {"svc": svc}), 0, ((None, answer_idx),), (value,),
                family=attr.key, slots={"svc": svc})
        thread.qa.append(qa)
        c.kb[(svc, attr.key)] = KnownFact(value, qa, c.thread_index, c.day)
    return thread


def near_duplicate(c: Ctx, ch: Channel) -> Thread:
    """A question asked again, answered with a link to the earlier thread (and often the fact)."""
    earlier = [(k, f) for k, f in c.kb.items() if f.day > c.day]
    if not earlier:
        return question_answered(c, ch)
    (svc, key), known = c.rng.choice(earlier)
    attr = next(a for a in facts.ATTRIBUTES if a.key == key)
    asker = c.person(ch)
    helper = c.person(ch, exclude=(asker,))
    drafts = [Draft(asker, c.say(asker, attr.asks, svc=svc), role="question")]
    restate = c.rng.random() < 0.6
    answer = "[answered here|this came up before|see] " + PERMALINK.format(known.thread)
    if restate:
        answer += c.grammar.expand(" [- tl;dr|, short version:|:] ") + known.value
    drafts.append(Draft(helper, c.quote(helper, answer), c.normal(), role="answer" if restate else "link"))
    if c.rng.random() < 0.6:
        drafts.append(Draft(asker, c.say(asker, "{thanks}"), c.fast()))
    thread = Thread("near_duplicate", ch, drafts, importance=1 if restate else 0, topic=f"{svc} {key}",
                    duplicate_of=known.thread)
    if restate:
        known.qa.answers = (*known.qa.answers, (c.thread_index, 1))
    return thread


def question_unanswered(c: Ctx, ch: Channel) -> Thread:
    question = facts.unanswerable_question(c)
    asker = c.person(ch)
    drafts = [Draft(asker, c.say(asker, "[{hi} |]{anyone} {q}?", q=question), role="question",
                    reactions=("eyes",), reaction_rate=0.05)]
    if c.rng.random() < 0.4:
        other = c.person(ch, exclude=(asker,))
        drafts.append(Draft(other, c.say(other, ("+1, also wondering", "bump", "following", "same question here")),
                            c.slow()))
    thread = Thread("question_unanswered", ch, drafts, importance=2, topic=question)
    thread.unanswered = question
    return thread


def announcement(c: Ctx, ch: Channel) -> Thread:
    rng = c.rng
    author = c.person(ch, team="ops") if rng.random() < 0.5 else c.person(ch, team="lead")
    kind = rng.choice(("welcome", "office", "policy", "allhands", "release", "benefit"))
    newbie = c.person(ch, exclude=(author,))
    n = str(rng.choice((25, 30, 40, 50, 75, 100, 150)))
    slots = {"newbie": newbie.mention, "title": newbie.title, "team": newbie.team, "n": n,
             "city": L(facts.CITIES), "day": L(vocab.WEEKDAYS), "release": L(vocab.RELEASES),
             "doc": c.doc_link("agenda"), "feature": L(vocab.FEATURES), "time": L(("15:00", "16:30", "17:00"))}
    frames = {
        "welcome": "[<!channel> |]Please welcome {newbie}, who joins us as {title}! [🎉|👋|Say hi!]",
        "office": "[<!channel>|<!here>|Heads up:] the {city} office is closed on {day} for "
                  "[maintenance|a fire drill|the public holiday]",
        "policy": "[<!channel> |]New [remote work|expense|travel] policy: the [meal|home office|daily] allowance "
                  "is now ${n}[, effective immediately| from next month]",
        "allhands": "[<!channel> |]All-hands on {day} at {time} UTC[, agenda: {doc}|. Bring questions!]",
        "release": "[<!channel> |]:rocket: {release} is live! [Highlights:|New:] {feature} and faster "
                   "[search|exports|dashboards]",
        "benefit": "[<!channel> |]Reminder: the learning budget is ${n}0 per year, [claim it through "
                   "Expensify|ask your manager]",
    }
    drafts = [Draft(author, c.quote(author, frames[kind], **slots), role="announcement",
                    reactions=(*vocab.EMOJI_POSITIVE, "heart_eyes"), reaction_rate=0.3)]
    replies = {"welcome": ("welcome!", "welcome aboard!", "👋 great to have you", "welcome {lol}"),
               "office": ("thanks for the heads up", "does that include the parking garage?", "noted"),
               "policy": ("is this also for contractors?", "does it apply retroactively?", "{nice}!"),
               "allhands": ("will it be recorded?", "can we submit questions in advance?", "👍"),
               "release": ("{nice}!", "🎉", "huge, congrats team", "🚀🚀"),
               "benefit": ("does it roll over?", "thanks for the reminder", "can it cover conferences?")}[kind]
    for p in c.people_in(ch, rng.randint(0, 4), exclude=(author,)):
        drafts.append(Draft(p, c.say(p, replies), c.normal()))
    return Thread("announcement", ch, drafts, importance=1 if kind in ("welcome", "benefit") else 2,
                  topic=kind)


def chitchat(c: Ctx, ch: Channel) -> Thread:
    rng = c.rng
    author = c.person(ch)
    slots = {"food": L(vocab.FOODS), "pet": L(vocab.PETS), "hobby": L(vocab.HOBBIES)}
    text = c.say(author, (
        "[anyone up for|who wants] {food} for lunch[ at 12:30|]?", "my {pet} discovered the keyboard today {lol}",
        "how was everyone's weekend? I did {hobby}", "happy friday everyone! [🎉|🍻|☀️]",
        "[coffee|tea] run, anyone? ☕", "[look at this {pet}|meet my new {pet}] [😍|🥰]",
        "happy birthday {mention}! 🎂", "does anyone have a good {food} place near the office?",
        "it's so [hot|cold|rainy] today {lol}"), mention=c.person(ch, exclude=(author,)).mention, **slots)
    files = (c.file("png", rng.choice(vocab.PETS)),) if "look at" in text or "meet my" in text else ()
    drafts = [Draft(author, text, reactions=vocab.EMOJI_FUN, reaction_rate=0.2, files=files)]
    for p in c.people_in(ch, rng.randint(0, 6), exclude=(author,)):
        drafts.append(Draft(p, c.say(p, ("{lol}", "me!", "{nice}", "🙋", "I'm in", "so cute", "+1",
                                         "[same|relatable] {lol}", "try the {food} place on 5th", "🎉")), c.fast()))
    return Thread("chitchat", ch, drafts, importance=0, topic="chit-chat")


def off_topic(c: Ctx, ch: Channel) -> Thread:
    author = c.person(ch)
    text = c.say(author, (
        "[anyone|does anyone want to] [buy|take] {item}? [moving next month|free to a good home|cheap]",
        "who left {item} in the kitchen {lol}", "is the coffee machine on 3 fixed yet?",
        "[random q:|totally unrelated:] any recommendations for [a dentist|a plumber|a babysitter] near the office?",
        "the wifi on the 4th floor is [terrible|dead] again"), item=L(vocab.OFFTOPIC_ITEMS))
    drafts = [Draft(author, text, reactions=vocab.EMOJI_FUN, reaction_rate=0.05)]
    if c.rng.random() < 0.5:
        p = c.person(ch, exclude=(author,))
        drafts.append(Draft(p, c.say(p, ("DM'd you", "{lol}", "not yet", "try #random", "following")), c.normal()))
    return Thread("off_topic", ch, drafts, importance=0, topic="off-topic")


def private_discussion(c: Ctx, ch: Channel) -> Thread:
    """Leadership threads: each root states one private fact (a verbatim string) plus a probe question."""
    rng = c.rng
    author = c.person(ch, team="lead")
    code, target = rng.choice(vocab.CODENAMES), rng.choice(vocab.TARGETS)
    amount, level = rng.randint(12, 480), rng.randint(3, 8)
    team, team2 = rng.sample(("Payments", "Growth", "Platform", "Mobile", "Data", "Support", "Sales Ops"), 2)
    options = (
        (f"Project {code}: acquire {target} for ${amount}M",
         "[Confidential - ]{fact}, [signing targeted for {day}|board votes on {day}|LOI goes out {day}].",
         "are we acquiring another company"),
        (f"L{level} engineers move to ${amount + 90}k base",
         "[Comp review outcome:|Approved by finance:] {fact} from next cycle. Please don't share yet.",
         f"what are the new salary bands for L{level}"),
        (f"{team} team merges into {team2} on the {rng.randint(1, 28)}th",
         "[Heads up, reorg:|Not public yet:] {fact}, announcement after the board meeting.",
         f"is the {team} team being reorganised"),
        (f"hiring freeze on {rng.randint(3, 40)} open {team} reqs until Q{rng.randint(1, 4)}",
         "[Decision from the exec sync:|FYI:] {fact}. Managers hear on {day}.", f"are we still hiring in {team}"),
        (f"term sheet from {target} Ventures at ${amount * 10}M pre-money",
         "[Fundraise update:|Big news, keep it here:] {fact}.", "how is the fundraise going"),
    )
    fact, frame, probe = rng.choice(options)
    drafts = [Draft(author, c.quote(author, frame, fact=fact, day=L(vocab.WEEKDAYS)),
                    role="fact", reactions=("eyes", "+1", "zipper_mouth_face"), reaction_rate=0.2)]
    for p in c.people_in(ch, rng.randint(1, 4), exclude=(author,)):
        drafts.append(Draft(p, c.say(p, ("{agree}", "let's keep this in this channel until it's announced",
                                         "do we need legal on this?", "what's the comms plan?",
                                         "ok, I'll prep the [FAQ|manager notes]")), c.normal()))
    thread = Thread("private", ch, drafts, importance=rng.choice((2, 3)), topic=probe)
    thread.private_facts.append((0, fact, probe))
    return thread
