"""Word lists the synthetic workspaces draw from: names, roles, time zones, services, synonyms.

Kept apart from the frames so variety can grow here without touching the generators. The
private-fact vocabulary (`CODENAMES`, `TARGETS`) is deliberately absent from every public list,
so a leak test can look for those strings verbatim.
"""

from __future__ import annotations

FIRST_NAMES: tuple[str, ...] = (
    "Aisha", "Alejandro", "Amara", "Anders", "Ananya", "Arjun", "Beatriz", "Ben", "Camille", "Carlos", "Chen",
    "Chloe", "Daniel", "Dara", "Dmitri", "Elena", "Emeka", "Emma", "Farah", "Felix", "Fatima", "Gabriel",
    "Grace", "Hana", "Hiroshi", "Ibrahim", "Ines", "Isabel", "Jakob", "James", "Jia", "Joao", "Julia", "Kai",
    "Kavya", "Kenji", "Laila", "Lars", "Leah", "Liam", "Lucia", "Mateo", "Maya", "Mei", "Mohammed", "Nadia",
    "Naledi", "Nikhil", "Noah", "Nora", "Olga", "Omar", "Pablo", "Priya", "Rafael", "Rania", "Ravi", "Rosa",
    "Sam", "Sana", "Santiago", "Sara", "Sean", "Sofia", "Sven", "Tariq", "Thandiwe", "Tomas", "Uma", "Valentina",
    "Victor", "Wei", "Yara", "Yusuf", "Zara", "Zoe", "Oliver", "Ming", "Kofi", "Astrid", "Hugo", "Ilse",
)
LAST_NAMES: tuple[str, ...] = (
    "Abbott", "Adeyemi", "Alvarez", "Andersson", "Bauer", "Bianchi", "Brown", "Castillo", "Chen", "Costa",
    "Dubois", "Eriksen", "Fernandes", "Fischer", "Garcia", "Gupta", "Hansen", "Hernandez", "Ito", "Jensen",
    "Kapoor", "Kim", "Kowalski", "Larsen", "Lee", "Lindqvist", "Lopez", "Mbeki", "Meyer", "Moreau", "Murphy",
    "Nakamura", "Nguyen", "Novak", "Okafor", "Olsen", "Park", "Patel", "Petrov", "Popescu", "Quinn", "Rahman",
    "Reddy", "Rossi", "Sato", "Schmidt", "Silva", "Singh", "Smith", "Suzuki", "Tanaka", "Torres", "Ueda",
    "Varga", "Wagner", "Walsh", "Wang", "Weber", "Williams", "Yamamoto", "Yilmaz", "Zhang", "Zimmermann",
)

# (title, team); team decides which channels a person joins.
ROLES: tuple[tuple[str, str], ...] = (
    ("Backend Engineer", "eng"), ("Backend Engineer", "eng"), ("Senior Backend Engineer", "eng"),
    ("Frontend Engineer", "eng"), ("Site Reliability Engineer", "eng"), ("Site Reliability Engineer", "eng"),
    ("Platform Engineer", "eng"), ("Security Engineer", "eng"), ("QA Engineer", "eng"), ("Data Engineer", "eng"),
    ("Engineering Manager", "eng"), ("Staff Engineer", "eng"), ("Support Engineer", "support"),
    ("Support Engineer", "support"), ("Customer Success Manager", "support"), ("Support Lead", "support"),
    ("Product Manager", "product"), ("Product Designer", "product"), ("Data Scientist", "product"),
    ("Technical Writer", "product"), ("Account Executive", "sales"), ("Solutions Engineer", "sales"),
    ("People Partner", "ops"), ("Office Manager", "ops"), ("Finance Analyst", "ops"),
)
LEADERSHIP_ROLES: tuple[tuple[str, str], ...] = (
    ("CEO", "lead"), ("CTO", "lead"), ("VP Engineering", "lead"), ("VP Sales", "lead"), ("Head of People", "lead"),
    ("CFO", "lead"),
)

# (IANA name, label, offset in seconds); fixed offsets keep timestamps reproducible year-round.
TIMEZONES: tuple[tuple[str, str, int], ...] = (
    ("America/Los_Angeles", "Pacific Standard Time", -8 * 3600),
    ("America/Denver", "Mountain Standard Time", -7 * 3600),
    ("America/New_York", "Eastern Standard Time", -5 * 3600),
    ("America/Sao_Paulo", "Brasilia Standard Time", -3 * 3600),
    ("Europe/London", "Greenwich Mean Time", 0),
    ("Europe/Berlin", "Central European Time", 3600),
    ("Europe/Helsinki", "Eastern European Time", 2 * 3600),
    ("Africa/Lagos", "West Africa Time", 3600),
    ("Asia/Kolkata", "India Standard Time", 19800),
    ("Asia/Singapore", "Singapore Standard Time", 8 * 3600),
    ("Asia/Tokyo", "Japan Standard Time", 9 * 3600),
    ("Australia/Sydney", "Australian Eastern Daylight Time", 11 * 3600),
)

SERVICE_STEMS: tuple[str, ...] = (
    "billing", "checkout", "auth", "search", "payments", "notifications", "ledger", "inventory", "gateway",
    "reporting", "onboarding", "pricing", "media", "identity", "shipping", "analytics", "orders", "accounts",
    "catalog", "webhooks", "invoicing", "scheduler", "ingest", "export", "fraud", "recommendations", "profile",
    "sessions", "tax", "refunds", "audit", "mailer", "geo", "quotes", "loyalty", "reviews",
)
SERVICE_SUFFIXES: tuple[str, ...] = ("-api", "-service", "-worker", "-svc", "", "-gateway", "-consumer")
DATASTORES: tuple[str, ...] = (
    "Postgres", "Redis", "Kafka", "Elasticsearch", "S3", "RabbitMQ", "DynamoDB", "MySQL", "Cassandra",
    "ClickHouse", "Memcached", "BigQuery",
)
TOOLS: tuple[str, ...] = (
    "Terraform", "Argo CD", "Datadog", "Grafana", "Sentry", "PagerDuty", "Buildkite", "GitHub Actions", "Vault",
    "LaunchDarkly", "Snyk", "Renovate", "Backstage", "Linear", "Jira", "Confluence", "Notion", "Figma",
    "Honeycomb", "OpenTelemetry", "Helm", "Bazel", "pnpm", "Poetry",
)
REGIONS: tuple[str, ...] = ("us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2", "ap-northeast-1")
ENDPOINTS: tuple[str, ...] = (
    "/v1/charges", "/v2/orders", "/login", "/oauth/token", "/v1/search", "/api/cart", "/v1/invoices",
    "/webhooks/stripe", "/v1/users/me", "/graphql", "/v3/quotes", "/healthz", "/v1/refunds", "/v2/exports",
)
ERRORS: tuple[str, ...] = (
    "500", "502", "503", "504", "429", "timeout", "connection reset", "OOMKilled", "deadlock", "5xx",
)
# (root cause, what fixed it): a resolution names a fix that matches its cause.
CAUSES: tuple[tuple[str, str], ...] = (
    ("a bad config push that set the connection pool to 5", "[rolled back the config|bumped the pool size and "
                                                            "restarted the pods]"),
    ("an expired TLS certificate on the internal load balancer", "renewed the cert and added an expiry alert"),
    ("a missing index after last night's migration", "added the index concurrently"),
    ("a retry storm from the {service2} client", "added jitter and a retry budget to the {service2} client"),
    ("the {datastore} primary failing over and clients not reconnecting",
     "restarted the clients and fixed the reconnect logic"),
    ("a memory leak in the new JSON serializer", "[rolled back to the previous release|raised the memory limit and "
                                                 "patched the leak]"),
    ("a feature flag that was flipped for 100% instead of 10%", "turned the flag back down to 10%"),
    ("DNS resolution failures inside the cluster", "restarted CoreDNS and raised its replica count"),
    ("disk filling up on the {datastore} nodes", "scaled the {datastore} cluster out and cleaned old snapshots"),
    ("a noisy neighbour saturating the node's network", "moved the pods to dedicated nodes"),
    ("a cron job that locked the orders table", "moved the cron job off-peak and batched its writes"),
    ("rate limits from the upstream {vendor} API", "added caching in front of the {vendor} calls"),
    ("a dependency bump that changed the default timeout to 1s", "pinned the dependency back and set the timeout "
                                                                 "explicitly"),
    ("a schema change that wasn't backwards compatible", "rolled back the migration and added a compat shim"),
)
VENDORS: tuple[str, ...] = (
    "Stripe", "Twilio", "SendGrid", "Adyen", "Plaid", "Algolia", "Auth0", "Segment", "Zendesk", "Okta",
    "Cloudflare", "Fastly", "Mapbox", "Shopify",
)
CUSTOMERS: tuple[str, ...] = (
    "Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Soylent", "Wonka", "Nakatomi", "Aperture",
    "Pied Piper", "Dunder Mifflin", "Stark", "Wayne", "Tyrell", "Cyberdyne", "Oceanic", "Gringotts", "Monarch",
    "Sterling", "Bluth", "Prestige", "Krusty", "Duff", "Gekko", "Massive Dynamic", "Virtucon", "Ollivander",
)
CUSTOMER_SUFFIXES: tuple[str, ...] = (" Corp", " Inc", " Labs", " GmbH", " Ltd", " Group", "", " Industries")
FEATURES: tuple[str, ...] = (
    "CSV export", "SSO login", "invoice PDFs", "the mobile app", "bulk upload", "webhooks", "the dashboard",
    "password reset", "two-factor auth", "search filters", "usage reports", "the billing page", "API keys",
    "email notifications", "team invites", "audit logs",
)
MEETINGS: tuple[str, ...] = (
    "sprint planning", "the retro", "today's standup", "the design review", "the incident review",
    "the roadmap sync", "the architecture review", "the customer call", "the security review", "1:1s",
)
RELEASES: tuple[str, ...] = ("2.14", "2.15", "3.0", "3.1", "Q3 launch", "the spring release", "v5", "the GA")
WEEKDAYS: tuple[str, ...] = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
EMOJI_POSITIVE: tuple[str, ...] = ("+1", "white_check_mark", "tada", "pray", "100", "raised_hands", "heart",
                                   "rocket", "clap", "muscle")
EMOJI_LOOK: tuple[str, ...] = ("eyes", "thinking_face", "point_up", "face_with_monocle", "sweat_smile")
EMOJI_FUN: tuple[str, ...] = ("joy", "laughing", "heart_eyes", "fire", "sob", "party_parrot", "cat", "dog",
                              "pizza", "coffee")
FOODS: tuple[str, ...] = ("ramen", "tacos", "pho", "dumplings", "pizza", "a burrito", "sushi", "falafel",
                          "a banh mi", "curry", "poke", "schnitzel")
PETS: tuple[str, ...] = ("cat", "dog", "puppy", "kitten", "parrot", "bunny", "corgi", "hamster")
HOBBIES: tuple[str, ...] = ("bouldering", "a half marathon", "baking sourdough", "a board game night",
                            "a hike", "a pottery class", "a concert", "the football match", "a road trip")
OFFTOPIC_ITEMS: tuple[str, ...] = ("a standing desk", "a bike", "two concert tickets", "a monitor", "a sofa",
                                   "a Nintendo Switch", "an espresso machine", "a kayak")

# Private-channel vocabulary: never used by public generators (the leak test relies on it).
CODENAMES: tuple[str, ...] = (
    "Bluefin", "Halcyon", "Kestrel", "Marigold", "Obsidian", "Juniper", "Nightjar", "Tamarind", "Quokka",
    "Saffron", "Larkspur", "Cobalt Heron", "Ironbark", "Wisteria", "Sable", "Mistral",
)
TARGETS: tuple[str, ...] = (
    "Brightwave", "Quillstone", "Northvale", "Emberlight", "Cindercove", "Foxglen", "Harborline", "Sunmere",
)

# Synonym slots shared by all frames.
LEXICON: dict[str, tuple[str, ...]] = {
    "hi": ("hey", "hi", "hey folks", "hi all", "morning", "hey team", "yo", "hello", "heya", ""),
    "anyone": ("does anyone know", "anyone know", "quick q:", "quick question:", "can someone remind me",
               "does somebody know", "sorry if this was asked before,", "dumb question:", "hey, do we know"),
    "broken": ("down", "broken", "failing", "erroring", "flaky", "throwing errors", "timing out", "degraded",
               "on fire", "misbehaving"),
    "looking": ("looking", "on it", "looking now", "checking", "ack, looking", "I'm on it", "taking a look",
                "investigating", "👀"),
    "thanks": ("thanks!", "thank you!", "ty!", "thanks a lot", "perfect, thanks", "great, thx", "appreciate it",
               "legend, thanks", "that's it, thanks 🙏", "ah got it, thanks"),
    "agree": ("+1", "agreed", "sounds good", "makes sense to me", "works for me", "I'm in favour", "👍",
              "no objections", "ship it", "LGTM"),
    "soon": ("today", "by EOD", "this week", "before Friday", "by tomorrow", "next sprint", "ASAP"),
    "nice": ("nice", "awesome", "great", "sweet", "lovely", "amazing", "so good", "cool"),
    "lol": ("lol", "haha", "😂", "lmao", "hahaha", "🤣"),
    "now": ("since ~10 min ago", "for the last 15 minutes", "since the last deploy", "right now",
            "intermittently since this morning", "since 14:05 UTC"),
    "fixed": ("fixed", "resolved", "mitigated", "all clear", "back to normal", "recovered"),
}
LEXICON.update({"food": FOODS, "pet": PETS, "hobby": HOBBIES, "release": RELEASES, "day": WEEKDAYS})
