"""The synthetic corpus of bench/rag_search.py, and its embeddings (cached in .bench/).

100 tenants by default, each in one of 20 domains (5 tenants share each, so a tenant's
nearest chunks are often other tenants': the tenant filter has work to do), with its own
company, project names and product codes (`FGN-1209A`). Deterministic from a fixed seed.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CACHE_DIR = ROOT / ".bench"
DIMS = 384
SEED = 20261122

# -- the synthetic corpus ---------------------------------------------------------------------
#
# Each tenant belongs to one of these domains (5 tenants per domain at 100 tenants, so
# neighbours in embedding space are often other tenants' chunks: the filter has to work),
# and has its own company name, project names, product codes and a favoured subset of the
# domain's nouns. Every passage also draws on the shared business words below.

DOMAINS: dict[str, tuple[list[str], list[tuple[str, str]], list[str]]] = {
    "cloud": (
        "cluster|node pool|container image|load balancer|subnet|storage volume|snapshot|region|"
        "autoscaler|ingress rule|firewall rule|terraform module|deployment|read replica|"
        "service mesh|DNS record|TLS certificate|object bucket".split("|"),
        [
            ("provision", "provisioned"),
            ("scale", "scaled"),
            ("roll back", "rolled back"),
            ("drain", "drained"),
            ("rotate", "rotated"),
            ("redeploy", "redeployed"),
        ],
        "idle|overprovisioned|regional|stateful|ephemeral|degraded".split("|"),
    ),
    "payments": (
        "invoice|ledger entry|refund|chargeback|settlement|payout|reconciliation|wire transfer|"
        "merchant account|VAT return|accrual|credit note|payment link|card token|fee schedule|"
        "bank statement|dunning notice|purchase order".split("|"),
        [
            ("reconcile", "reconciled"),
            ("settle", "settled"),
            ("refund", "refunded"),
            ("invoice", "invoiced"),
            ("dispute", "disputed"),
            ("capture", "captured"),
        ],
        "overdue|unpaid|partial|recurring|disputed|quarterly".split("|"),
    ),
    "clinic": (
        "patient record|appointment|prescription|referral|triage note|lab result|dosage|"
        "vaccination|insurance claim|discharge summary|consent form|allergy list|care plan|"
        "blood panel|follow-up visit|clinical note|waiting list|vital signs".split("|"),
        [
            ("schedule", "scheduled"),
            ("prescribe", "prescribed"),
            ("refer", "referred"),
            ("triage", "triaged"),
            ("discharge", "discharged"),
            ("chart", "charted"),
        ],
        "acute|chronic|paediatric|urgent|outpatient|routine".split("|"),
    ),
    "logistics": (
        "shipment|pallet|warehouse slot|carrier|freight quote|customs declaration|bill of lading|"
        "loading dock|delivery route|tracking number|cold chain|container seal|pick list|"
        "cross-dock|proof of delivery|fuel surcharge|manifest|return shipment".split("|"),
        [
            ("dispatch", "dispatched"),
            ("consolidate", "consolidated"),
            ("reroute", "rerouted"),
            ("unload", "unloaded"),
            ("clear", "cleared"),
            ("weigh", "weighed"),
        ],
        "inbound|outbound|refrigerated|oversized|delayed|bonded".split("|"),
    ),
    "people": (
        "onboarding checklist|payroll run|leave request|performance review|benefits package|"
        "contractor agreement|offboarding|headcount plan|job posting|salary band|timesheet|"
        "training budget|relocation allowance|probation period|org chart|exit interview|"
        "pension scheme|overtime claim".split("|"),
        [
            ("approve", "approved"),
            ("onboard", "onboarded"),
            ("promote", "promoted"),
            ("hire", "hired"),
            ("reimburse", "reimbursed"),
            ("review", "reviewed"),
        ],
        "part-time|remote|annual|probationary|statutory|seasonal".split("|"),
    ),
    "legal": (
        "indemnity clause|NDA|liability cap|amendment|jurisdiction|counterparty|renewal term|"
        "master agreement|data processing addendum|termination notice|governing law|"
        "signature page|redline|warranty|force majeure clause|trademark filing|"
        "litigation hold|escrow arrangement".split("|"),
        [
            ("negotiate", "negotiated"),
            ("execute", "executed"),
            ("terminate", "terminated"),
            ("redline", "redlined"),
            ("countersign", "countersigned"),
            ("waive", "waived"),
        ],
        "binding|mutual|exclusive|material|non-standard|expired".split("|"),
    ),
    "retail": (
        "shopping cart|checkout page|SKU|coupon code|return label|storefront|stock level|"
        "product catalog|gift card|loyalty tier|price rule|bundle offer|size chart|"
        "click-and-collect order|abandoned cart|product review|flash sale|store locator".split("|"),
        [
            ("restock", "restocked"),
            ("discount", "discounted"),
            ("ship", "shipped"),
            ("return", "returned"),
            ("list", "listed"),
            ("bundle", "bundled"),
        ],
        "clearance|seasonal|out-of-stock|limited|bestselling|backordered".split("|"),
    ),
    "factory": (
        "assembly line|torque setting|tolerance band|defect report|production batch|"
        "calibration record|CNC machine|work order|bill of materials|quality gate|spindle|"
        "shift handover|scrap rate|mould|conveyor|inspection jig|downtime log|weld seam".split("|"),
        [
            ("calibrate", "calibrated"),
            ("inspect", "inspected"),
            ("assemble", "assembled"),
            ("machine", "machined"),
            ("quarantine", "quarantined"),
            ("retool", "retooled"),
        ],
        "faulty|nominal|out-of-tolerance|scheduled|automated|manual".split("|"),
    ),
    "security": (
        "vulnerability|security patch|incident report|phishing email|MFA device|SIEM alert|"
        "access token|penetration test|audit log|firewall exception|endpoint agent|"
        "privileged account|threat model|CVE advisory|password reset|key rotation|"
        "security review|SSO configuration".split("|"),
        [
            ("patch", "patched"),
            ("revoke", "revoked"),
            ("quarantine", "quarantined"),
            ("escalate", "escalated"),
            ("harden", "hardened"),
            ("investigate", "investigated"),
        ],
        "critical|suspicious|unauthorised|high-severity|exposed|compromised".split("|"),
    ),
    "school": (
        "course outline|syllabus|assignment|grade book|semester plan|enrolment|lecture recording|"
        "quiz|exam timetable|reading list|lab session|tutor group|transcript|plagiarism check|"
        "office hours|study guide|thesis draft|credit transfer".split("|"),
        [
            ("enrol", "enrolled"),
            ("grade", "graded"),
            ("submit", "submitted"),
            ("publish", "published"),
            ("moderate", "moderated"),
            ("extend", "extended"),
        ],
        "late|mandatory|elective|introductory|graded|online".split("|"),
    ),
    "property": (
        "lease agreement|rent payment|service charge|escrow deposit|mortgage offer|"
        "building inspection|property appraisal|maintenance request|floor plan|"
        "tenancy renewal|utility meter|fire safety certificate|parking permit|key handover|"
        "letting agent|boiler service|damp survey|inventory check".split("|"),
        [
            ("inspect", "inspected"),
            ("let", "let"),
            ("renovate", "renovated"),
            ("appraise", "appraised"),
            ("renew", "renewed"),
            ("repair", "repaired"),
        ],
        "furnished|vacant|listed|leasehold|residential|commercial".split("|"),
    ),
    "travel": (
        "hotel booking|reservation|check-in|room upgrade|itinerary|loyalty points|"
        "boarding pass|travel insurance|visa letter|airport transfer|cancellation fee|"
        "group booking|rail pass|baggage allowance|late checkout|travel policy|"
        "per diem|expense receipt".split("|"),
        [
            ("book", "booked"),
            ("cancel", "cancelled"),
            ("rebook", "rebooked"),
            ("upgrade", "upgraded"),
            ("confirm", "confirmed"),
            ("refund", "refunded"),
        ],
        "non-refundable|overbooked|international|last-minute|business-class|flexible".split("|"),
    ),
    "telecom": (
        "SIM card|roaming charge|bandwidth cap|cell tower|handset|data plan|number porting|"
        "fibre line|router firmware|signal strength|call detail record|eSIM profile|"
        "coverage map|line rental|broadband outage|PUK code|contract upgrade|voicemail box".split("|"),
        [
            ("activate", "activated"),
            ("port", "ported"),
            ("throttle", "throttled"),
            ("provision", "provisioned"),
            ("suspend", "suspended"),
            ("reset", "reset"),
        ],
        "prepaid|postpaid|unlimited|roaming|dropped|intermittent".split("|"),
    ),
    "energy": (
        "smart meter|grid connection|power outage|transformer|solar panel|tariff|"
        "kilowatt-hour reading|heat pump|battery storage|feed-in payment|substation|"
        "load forecast|meter reading|EV charger|demand response|carbon report|"
        "inverter|direct debit".split("|"),
        [
            ("install", "installed"),
            ("meter", "metered"),
            ("curtail", "curtailed"),
            ("restore", "restored"),
            ("read", "read"),
            ("bill", "billed"),
        ],
        "peak|off-peak|renewable|estimated|three-phase|variable".split("|"),
    ),
    "insurance": (
        "policyholder|premium|deductible|claim adjuster|underwriting note|coverage limit|"
        "loss report|renewal quote|exclusion|no-claims bonus|broker commission|"
        "risk assessment|endorsement|settlement offer|claim form|excess payment|"
        "policy schedule|fraud flag".split("|"),
        [
            ("underwrite", "underwritten"),
            ("adjust", "adjusted"),
            ("renew", "renewed"),
            ("decline", "declined"),
            ("settle", "settled"),
            ("assess", "assessed"),
        ],
        "comprehensive|third-party|lapsed|high-risk|annual|pending".split("|"),
    ),
    "marketing": (
        "email campaign|audience segment|conversion rate|newsletter|landing page|attribution model|"
        "ad budget|brand guideline|A/B test|click-through rate|lead score|social post|"
        "webinar|press release|content calendar|UTM tag|retargeting list|influencer brief".split("|"),
        [
            ("launch", "launched"),
            ("target", "targeted"),
            ("segment", "segmented"),
            ("optimise", "optimised"),
            ("schedule", "scheduled"),
            ("retire", "retired"),
        ],
        "organic|paid|evergreen|seasonal|underperforming|viral".split("|"),
    ),
    "software": (
        "pull request|build pipeline|release branch|unit test|feature flag|regression|"
        "code review|merge conflict|staging environment|dependency update|changelog|"
        "hotfix|API endpoint|database migration|error budget|on-call rota|lint rule|"
        "container build".split("|"),
        [
            ("merge", "merged"),
            ("deploy", "deployed"),
            ("revert", "reverted"),
            ("refactor", "refactored"),
            ("release", "released"),
            ("profile", "profiled"),
        ],
        "flaky|breaking|backward-compatible|deprecated|experimental|stable".split("|"),
    ),
    "support": (
        "support ticket|escalation path|SLA breach|canned reply|satisfaction survey|"
        "knowledge base article|chat transcript|callback request|priority queue|"
        "first response time|customer complaint|refund request|support macro|ticket tag|"
        "status page|handover note|feature request|bug report".split("|"),
        [
            ("resolve", "resolved"),
            ("escalate", "escalated"),
            ("assign", "assigned"),
            ("close", "closed"),
            ("reopen", "reopened"),
            ("triage", "triaged"),
        ],
        "urgent|unresolved|duplicate|angry|high-priority|stale".split("|"),
    ),
    "farming": (
        "harvest|irrigation schedule|seed variety|fertiliser plan|soil sample|greenhouse|"
        "crop rotation|yield estimate|pest report|grain store|livestock record|tractor|"
        "spray window|field map|moisture sensor|organic certificate|silage|hedge survey".split("|"),
        [
            ("plant", "planted"),
            ("harvest", "harvested"),
            ("irrigate", "irrigated"),
            ("spray", "sprayed"),
            ("sample", "sampled"),
            ("till", "tilled"),
        ],
        "early|drought-hit|organic|waterlogged|certified|late-sown".split("|"),
    ),
    "fleet": (
        "vehicle|service interval|tyre change|fuel card|odometer reading|telematics box|"
        "driver log|MOT certificate|lease vehicle|accident report|route plan|brake check|"
        "tachograph|parking fine|electric van|charging card|damage photo|pool car".split("|"),
        [
            ("service", "serviced"),
            ("refuel", "refuelled"),
            ("inspect", "inspected"),
            ("assign", "assigned"),
            ("tow", "towed"),
            ("register", "registered"),
        ],
        "roadworthy|off-road|leased|diesel|overdue|damaged".split("|"),
    ),
}

SHARED_NOUNS = (
    "customer|team|report|policy|update|request|account|review|schedule|approval|deadline|"
    "budget|meeting|manager|process|system|record|document|form|owner|dashboard|template|"
    "checklist|audit|handbook|exception|contact|region office|quarter|supplier".split("|")
)
SHARED_VERBS = [
    ("check", "checked"),
    ("update", "updated"),
    ("send", "sent"),
    ("archive", "archived"),
    ("approve", "approved"),
    ("log", "logged"),
    ("flag", "flagged"),
    ("share", "shared"),
    ("verify", "verified"),
    ("document", "documented"),
]
SHARED_ADJECTIVES = "new|pending|weekly|internal|external|standard|final|shared|open|missing".split("|")
UNITS = ["days", "hours", "weeks", "business days", "minutes"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "the first of the month", "month end"]
MONTHS = ["January", "March", "April", "June", "September", "October", "November"]
SYLLABLES = (
    "ar|bel|cor|dan|el|fen|gal|hal|ix|jor|kes|lum|mar|nor|ol|pra|quin|ros|sol|tav|ul|ven|"
    "wes|xan|yor|zel|bra|cre|dro|fla|gri|plo|stra|tri|vo|ka|mi|ne|ta|ri".split("|")
)

PASSAGE_TEMPLATES = [
    "The {a} {n} for {proj} must be {vp} before the next {s}.",
    "Teams at {comp} {v} each {n} that mentions {code}.",
    "If the {n} shows {code}, {v} the {n2} and tell the {s} owner.",
    "Under the {s} policy, every {a} {n} is {vp} within {num} {unit}.",
    "The {n} linked to {code} was {vp} on {day} after an {sa} {s}.",
    "{proj} uses the {n} to track {n2} and {n3} across {num} sites.",
    "Before you {v} a {n}, check the {s} on the {proj} dashboard.",
    "Staff {v} the {a} {n} and record the result in the {s} log.",
    "A {a} {n} usually means the {n2} has to be {vp}.",
    "The {s} for {comp} lists {code} as the preferred {n}.",
    "Our {n} process changed in {month}: {n2} requests now go to the {s} team.",
    "For {code}, the {n} limit is {num} per {s}.",
    "{comp} notes: the {n} and the {n2} were {vp} during the {sa} review.",
    "Escalate any {n} older than {num} {unit} to the {proj} {s} lead.",
    "The {a} {n} from {code} delayed the {n2} for {num} customers.",
    "Only the {s} owner may {v} a {a} {n} for {comp}.",
    "We {sv} the {n} every {day} and keep a copy with the {n2}.",
]
QUERY_TEMPLATES = [
    "how do I {v} a {n} for {proj}",
    "what is the {s} rule for {a} {n}",
    "why was the {n} for {code} {vp}",
    "who handles the {n} and {n2} at {comp}",
    "when should a {a} {n} be {vp}",
    "what happens if the {n} shows {code}",
    "steps to {v} the {n2} after a {a} {n}",
    "{code} {n} limit",
    "where is the {proj} {n} tracked",
    "which team approves {a} {n} requests",
    "{n} {vp} late {proj}",
]


@dataclass(frozen=True)
class Tenant:
    index: int
    tenant_id: str
    domain: str
    company: str
    projects: list[str]
    codes: list[str]
    favoured: list[str]


def _name(rng: random.Random, parts: int) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(parts)).capitalize()


def make_tenants(count: int, seed: int = SEED) -> list[Tenant]:
    rng = random.Random(f"{seed}:tenants")
    domains = list(DOMAINS)
    tenants, prefixes = [], set()
    for t in range(count):
        prefix = ""
        while not prefix or prefix in prefixes:
            prefix = "".join(rng.choice("ABCDEFGHJKLMNPRSTVWXZ") for _ in range(rng.choice((2, 3))))
        prefixes.add(prefix)
        domain = domains[t % len(domains)]
        nouns = DOMAINS[domain][0]
        tenants.append(
            Tenant(
                index=t,
                tenant_id=f"bench-rag-{t:03d}",
                domain=domain,
                company=_name(rng, 2) + rng.choice(("", " Ltd", " Group", " Labs", " & Co")),
                projects=[_name(rng, rng.choice((2, 3))) for _ in range(3)],
                codes=[
                    f"{prefix}-{rng.randint(100, 9999)}{rng.choice(('', '', 'A', 'B', 'X'))}"
                    for _ in range(25)
                ],
                favoured=rng.sample(nouns, 6),
            )
        )
    return tenants


def _fill(template: str, tenant: Tenant, rng: random.Random) -> str:
    nouns, verbs, adjectives = DOMAINS[tenant.domain]

    def noun() -> str:
        roll = rng.random()
        if roll < 0.45:
            return rng.choice(tenant.favoured)
        return rng.choice(nouns) if roll < 0.85 else rng.choice(SHARED_NOUNS)

    n, n2, n3 = (noun() for _ in range(3))
    while n2 == n:
        n2 = noun()
    verb = rng.choice(verbs) if rng.random() < 0.7 else rng.choice(SHARED_VERBS)
    slots = {
        "n": n,
        "n2": n2,
        "n3": n3,
        "s": rng.choice(SHARED_NOUNS),
        "v": verb[0],
        "vp": verb[1],
        "sv": rng.choice(SHARED_VERBS)[0],
        "a": rng.choice(adjectives) if rng.random() < 0.7 else rng.choice(SHARED_ADJECTIVES),
        "sa": rng.choice(SHARED_ADJECTIVES),
        "proj": rng.choice(tenant.projects),
        "comp": tenant.company,
        "code": rng.choice(tenant.codes),
        "num": str(rng.choice((2, 3, 5, 7, 10, 14, 30, 48, 90, 250))),
        "unit": rng.choice(UNITS),
        "day": rng.choice(DAYS),
        "month": rng.choice(MONTHS),
    }
    text = template.format(**slots)
    text = re.sub(r"\b([Aa]) (?=[aeiouAEIOU])", r"\1n ", text)
    text = re.sub(r"\b([Aa])n (?=[^aeiouAEIOU\W])", r"\1 ", text)
    return text[0].upper() + text[1:]


def passage(tenant: Tenant, rng: random.Random, low: int = 20, high: int = 60) -> str:
    """Whole sentences up to a length drawn from [low, high] words (at least `low`)."""
    target = rng.randint(low, high)
    sentences: list[str] = []
    words = 0
    while words < target:
        sentence = _fill(rng.choice(PASSAGE_TEMPLATES), tenant, rng)
        n = len(sentence.split())
        if words >= low and words + n > target:
            break
        sentences.append(sentence)
        words += n
    return " ".join(sentences)


def corpus_texts(tenants: list[Tenant], per_tenant: int, seed: int = SEED) -> list[list[str]]:
    return [
        [passage(t, random.Random(f"{seed}:chunk:{t.index}:{i}")) for i in range(per_tenant)] for t in tenants
    ]


def query_text(tenant: Tenant, n: int, seed: int = SEED) -> str:
    rng = random.Random(f"{seed}:query:{tenant.index}:{n}")
    return _fill(rng.choice(QUERY_TEMPLATES), tenant, rng).rstrip(".") + "?"


def ingest_document(tenant: Tenant, n: int, words: int, max_bytes: int, seed: int = SEED) -> str:
    """A long document of paragraphs, about `words` words and under `max_bytes` bytes."""
    rng = random.Random(f"{seed}:document:{n}")
    paragraphs: list[str] = [f"{tenant.company} operations manual, part {n + 1}"]
    size = len(paragraphs[0])
    count = 0
    while count < words:
        paragraph = " ".join(passage(tenant, rng) for _ in range(rng.randint(2, 4)))
        if size + len(paragraph.encode()) + 2 > max_bytes:
            break
        paragraphs.append(paragraph)
        size += len(paragraph.encode()) + 2
        count += len(paragraph.split())
    return "\n\n".join(paragraphs)


# -- the local model --------------------------------------------------------------------------


def load_model():  # noqa: ANN201 - SentenceTransformer (imported lazily: torch takes seconds)
    """all-MiniLM-L6-v2 exactly as rag-svc's LocalEmbedder loads it."""
    from keyrelay.rag.adapters.embedders import LocalEmbedder

    return LocalEmbedder._load()


def encode(model, texts: list[str], batch_size: int = 32) -> np.ndarray:  # noqa: ANN001
    """As LocalEmbedder.embed: unit-length float32 vectors."""
    vectors = model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True)
    return vectors.astype(np.float32)


def corpus_embeddings(model_loader, texts: list[str]) -> tuple[np.ndarray, float | None, Path]:  # noqa: ANN001
    """The corpus' vectors from .bench/ when this exact corpus was embedded before, else
    embedded now and saved; (vectors, seconds spent embedding or None if cached, path)."""
    digest = hashlib.sha256()
    digest.update(b"local/all-MiniLM-L6-v2\0")
    for text in texts:
        digest.update(text.encode())
        digest.update(b"\0")
    path = CACHE_DIR / f"rag-corpus-{digest.hexdigest()[:16]}.npy"
    if path.exists():
        vectors = np.load(path)
        if vectors.shape == (len(texts), DIMS):
            return vectors, None, path
    model = model_loader()
    started = time.perf_counter()
    vectors = np.empty((len(texts), DIMS), np.float32)
    step = 4096
    for start in range(0, len(texts), step):
        vectors[start : start + step] = encode(model, texts[start : start + step])
        done = min(start + step, len(texts))
        elapsed = time.perf_counter() - started
        print(f"  embedded {done:,}/{len(texts):,} chunks, {done / elapsed:.0f}/s", flush=True)
    seconds = time.perf_counter() - started
    CACHE_DIR.mkdir(exist_ok=True)
    partial = path.with_suffix(".partial.npy")
    np.save(partial, vectors)
    os.replace(partial, path)
    return vectors, seconds, path
