"""Safety routing: recognise a crisis or an emergency before anything else.

Two judges read every message, and either can get the person help:
- the phrase rules in corpus/safety.toml, which a clinic's clinicians can review and
  extend (a person *describing* warning signs matches; a general question *about* them,
  "what are the signs of an allergic reaction?", does not);
- the learned risk model (chatbot.core.risk), which generalises to wordings no rule has.
The answer is graded: when the risk is sure the person gets the crisis or emergency reply
itself; when it is doubtful they get the ordinary reply with a safety notice shown first,
so recall can be near total without derailing ordinary questions.
"""
from __future__ import annotations

import hashlib
import json
import re
import sys
import tomllib
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

from chatbot.core.corpus import CorpusError
from chatbot.core.classifier import data_key, tokens
from chatbot.core.risk import Risk, RiskModel
from chatbot.core.text import keep_json, words

# The graded policy's tuning (bench/safety_quality.py measures it by leaving authors out):
# P(crisis or emergency), of the message or a sentence in it, for a notice. Chosen leaving
# authors out (86 authors, 2026-12-01, bench/NOTES.md), once the model learned the sentences
# of ordinary messages (training.with_sentences): at 0.1 help is shown for 98.1% of crises
# and 99.4% of emergencies, and 4.9% of medicine questions get a notice, where 0.2 without
# those sentences showed 97.1% and 98.4% and gave 4.8% a notice; each 0.02 higher costs about
# half a point of crises and saves about 0.8 points of notices. Lowered to 0.09 (twentieth
# session, 6 author folds, 285 authors, 75,192 messages, one fit read at each bar): help shown
# for crises 98.0 -> 98.2%, emergencies 99.2 -> 99.3%, notices on medicine questions 2.4 ->
# 2.6% and on look-alikes 16.7 -> 17.8%; at 0.08 crises 98.4% but medicine questions 2.9%,
# at the edge of the 3% they may be given. Lowered to 0.065 with the sharper risk model of the
# twenty-eighth session (training.C 8): there it gives as many notices as C 4 did at 0.09 and
# finds more crises (6 author folds, 388 authors: 97.80% -> 98.15%; at 0.06, 98.32% with
# medicine questions given a notice 2.46%). Lowered to 0.06 in the thirty-fourth session
# with the bar for long messages below, which takes back more notices than it gives.
NOTICE_AT = 0.06
# ... and a sentence that reaches NOTICE_AT raises a doubt only where the message as a whole
# is not clearly ordinary (P at least NOTICE_WHOLE_AT): "Shingles at 35 was the worst pain of
# my life." inside a question about Rinvoq reads as an emergency alone (0.47), not in its
# message (0.01). Leaving one author out (98 authors, 24,349 messages, 2026-12-02): notices
# on medicine questions 5.1% -> 4.2% and on look-alikes 29.1% -> 26.6%, for one crisis of
# 4,091 (a story whose message scores 0.0299) and no emergency; 0.04 cost another crisis
# and an emergency for 0.1 points fewer notices.
NOTICE_WHOLE_AT = 0.03
# A message of LONG_WORDS or more is a story: one hard sentence in it ("I can't do this
# anymore", then a question about tapering) raises a doubt only where the story as a whole
# reads at least NOTICE_WHOLE_LONG_AT, or where the sentence alone reaches
# SENTENCE_ALONE_AT (a risk buried in one line of an ordinary story). Six author folds, 471
# authors, 126,477 messages (thirty-fourth session, with NOTICE_AT 0.065 -> 0.06): crises
# shown 97.95 -> 98.04%, emergencies 99.25 -> 99.32%; notices on long (250+ characters)
# medicine questions 11.2 -> 5.6% and on long look-alikes 50.0 -> 37.3%, on short medicine
# questions 1.89 -> 1.98%. Without SENTENCE_ALONE_AT, 6 more long crises of 1,299 missed.
LONG_WORDS = 40
NOTICE_WHOLE_LONG_AT = 0.1
SENTENCE_ALONE_AT = 0.5
# After crisis or emergency help was shown earlier in a conversation, a later message gets
# that notice again from this probability of the same level, however the message as a whole
# reads: "if cibinqo fails too i have a plan", then a side-effects question, then "cibinqo
# didnt work either. time for the plan i guess" (0.53 in a sentence, 0.03 whole). Swept on
# set CU (the first multi-turn safety set, 50 risky and 40 ordinary conversations, with the
# risk model that had not seen it): 48 -> 50 of 50 risky shown at 0.05 and 0.07 (49 at 0.1),
# ordinary notices 5 of 40 at each; on the 2,534 ordinary multi-turn question conversations,
# last-turn notices 24 -> 25 (1.0%; 32 at 0.01). Set CV was written to check it afterwards.
CARRIED_NOTICE_AT = 0.05
SURE_AT = 0.9  # P of the whole message from which it gets the crisis or emergency reply itself
RULE_SURE_AT = 0.5  # a phrase rule that fires is sure when the model does not doubt it
# The model alone is sure only of a message this long: out of fold, its sure calls on
# messages of 5-9 words were wrong 1 time in 9, on 10 words and more 1 in 150
# (bench/NOTES.md): a few words give a linear model little to weigh.
MIN_SURE_WORDS = 10
MAX_SAFETY_CHARS = 4096  # a message is read whole for risk up to this length (a full frame)


def compile_patterns(path: Path, name: str, patterns: list[str]) -> list[re.Pattern]:
    """Compiles a list of regexes from a data file, naming the file and list on a bad one."""
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
        raise CorpusError(path, 0, f"'{name}' must be a list of pattern strings")
    compiled = []
    for p in patterns:
        try:
            compiled.append(re.compile(p))
        except re.error as exc:
            raise CorpusError(path, 0, f"bad pattern in '{name}': {p!r}: {exc}") from None
    return compiled


def load_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise CorpusError(path, 0, "file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise CorpusError(path, getattr(exc, "lineno", 0) or 0, f"not valid TOML: {exc}") from None


class AnyOf:
    """Patterns tried one after another: the first that matches is the match.

    Joined into one alternation, a hundred patterns searched three times slower: the
    engine then tries every alternative at every position of the message, where each
    pattern alone skips straight to the places it could start.
    """

    def __init__(self, patterns: list[re.Pattern] | list["Rule"]):
        self.patterns = tuple(patterns)

    @property
    def patterns(self) -> tuple:
        return self._patterns

    @patterns.setter
    def patterns(self, patterns: tuple) -> None:
        self._patterns = patterns
        gates = [frozenset(p.gate) if getattr(p, "gate", None) else None for p in patterns]
        # every rule's gate strings at once: which of them a message holds is worked out
        # once, and each rule's gate is then one set test (a loop over each rule's strings
        # took a quarter of a reply)
        self._gates = tuple(gates)
        self._strings = tuple(sorted(set().union(*(g for g in gates if g))))

    def search(self, text: str) -> re.Match | None:
        held = {g for g in self._strings if g in text} if self._strings else None
        for pattern, gate in zip(self._patterns, self._gates):
            if gate is not None and gate.isdisjoint(held):
                continue
            # a gated rule's gate is passed already: its pattern itself, not Rule.search
            found = pattern.search(text) if gate is None else pattern.pattern.search(text)
            if found:
                return found
        return None


def compile_any(path: Path, name: str, patterns: list[str]) -> AnyOf:
    """Matches where any of `patterns` does; a bad one is named with its file and list."""
    return AnyOf(compile_patterns(path, name, patterns))


PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")  # {name}; a count such as {0,3} is not one


def _fold(text: str) -> str:
    """A message as the rules read it (the same as dialogue.fold): lower-case words, one space."""
    return " ".join(words(text))


def load_word_lists(path: Path, lists: object) -> dict[str, str]:
    """The [lists] table: each named list of words or phrases as one non-capturing alternation.

    Entries are plain text (escaped, no regex syntax) and must already be written the way a
    message is read: lower case, no apostrophes, single spaces ("cant", "do not").
    """
    if not isinstance(lists, dict):
        raise CorpusError(path, 0, "[lists] must be a table of named word lists")
    compiled = {}
    for name, entries in lists.items():
        if (not isinstance(entries, list) or not entries
                or not all(isinstance(e, str) and e for e in entries)):
            raise CorpusError(path, _line_of(path, f"{name} ="),
                              f"list '{name}' must be a non-empty list of words or phrases")
        for entry in entries:
            if _fold(entry) != entry:
                raise CorpusError(path, _line_of(path, f"{name} ="),
                                  f"list '{name}': {entry!r} is never in a message as read; "
                                  f"write it as {_fold(entry)!r} (lower case, no apostrophes)")
        compiled[name] = "(?:" + "|".join(re.escape(e) for e in entries) + ")"
    return compiled


@dataclass(frozen=True)
class Rule:
    """One phrase rule: its name and its template with the word lists filled in (`source`),
    compiled when first needed. `gate`: strings of which every match holds one
    (required_strings, set by Safety.prepare or read from the rules' check, RulesCheck), so a
    message holding none of them is passed over without running the pattern: most messages,
    for most of the rules, at a fraction of the cost, and `ask` compiles only the few rules
    its one message gets past the gates of."""
    name: str
    source: str
    gate: tuple[str, ...] | None = None

    @cached_property
    def pattern(self) -> re.Pattern:
        return re.compile(self.source)

    def search(self, text: str) -> re.Match | None:
        if self.gate is not None and not any(g in text for g in self.gate):
            return None
        return self.pattern.search(text)


def required_strings(pattern: re.Pattern) -> tuple[str, ...] | None:
    """Strings of which any match of `pattern` holds at least one, read from its parsed form
    (None when none can be told apart: then the pattern is always run). Only literal text
    the match must contain counts: a run of literal characters, each branch of a choice that
    must be made, a group repeated at least once; lookarounds, classes and optional parts
    are passed over. Of the candidates the one with the fewest strings of three letters or
    more is kept: the cheapest test that passes over most messages."""
    if pattern.flags & re.IGNORECASE:
        return None
    try:
        parsed = re._parser.parse(pattern.pattern)  # the compiler's own reading of it
    except Exception:  # another Python's parser: no gate, the rule still works
        return None
    gate = _required(list(parsed))
    return tuple(sorted(gate)) if gate else None


def _required(items: list) -> frozenset[str] | None:
    """required_strings over a parsed sequence: the best of its mandatory parts' strings."""
    from re import _constants as c

    candidates: list[frozenset[str]] = []
    run = ""
    for op, av in items:
        if op is c.LITERAL:
            run += chr(av)
            continue
        if run:
            candidates.append(frozenset([run]))
            run = ""
        found = None
        if op is c.SUBPATTERN and not (av[1] & re.IGNORECASE):
            found = _required(list(av[3]))
        elif op is c.BRANCH:
            branches = [_required(list(b)) for b in av[1]]
            if all(branches):
                found = frozenset().union(*branches)
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT) and av[0] >= 1:
            found = _required(list(av[2]))
        if found:
            candidates.append(found)
    if run:
        candidates.append(frozenset([run]))
    if not candidates:
        return None
    return min(candidates, key=lambda g: (min(map(len, g)) < 3, len(g), -min(map(len, g))))


def compile_rules(path: Path, table: str, rules: object, lists: dict[str, str],
                  gates: dict[str, list[str] | None] | None = None) -> AnyOf:
    """The rules of one table ([[crisis.rules]], [[emergency.asking]] ...), checked against
    their own examples (each must match) and counter-examples (none may): a rule that does
    not do what its examples say stops loading, naming the file, the rule and the example.
    `gates`: each rule's gate by its source, from a check of these very rules by this very
    code (RulesCheck); then the rules are not compiled or checked again."""
    if not isinstance(rules, list) or not rules or not all(isinstance(r, dict) for r in rules):
        raise CorpusError(path, 0, f"[[{table}]] must be one or more rule tables")
    compiled, seen = [], set()
    for rule in rules:
        name = rule.get("name")
        if not isinstance(name, str) or not name:
            raise CorpusError(path, 0, f"a [[{table}]] rule has no name")
        def line(name: str = name) -> int:  # read the file only to report a broken rule
            return _line_of(path, f'name = "{name}"')

        where = f"{table} rule '{name}'"
        if name in seen:
            raise CorpusError(path, line(), f"{where}: two rules have this name")
        seen.add(name)
        template, examples = rule.get("template"), rule.get("examples", [])
        counter = rule.get("counter", [])
        if not isinstance(template, str) or not template:
            raise CorpusError(path, line(), f"{where}: needs a template")
        for key, texts in (("examples", examples), ("counter", counter)):
            if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
                raise CorpusError(path, line(), f"{where}: '{key}' must be a list of messages")
        if not examples:
            raise CorpusError(path, line(), f"{where}: needs at least one example it matches")
        unknown = sorted({n for n in PLACEHOLDER.findall(template) if n not in lists})
        if unknown:
            raise CorpusError(path, line(), f"{where}: no word list named "
                              + ", ".join("{" + n + "}" for n in unknown) + " in [lists]")
        source = PLACEHOLDER.sub(lambda m: lists[m.group(1)], template)
        if gates is not None and source in gates:
            gate = gates[source]
            compiled.append(Rule(name, source, tuple(gate) if gate is not None else None))
            continue
        try:
            pattern = re.compile(source)
        except re.error as exc:
            raise CorpusError(path, line(), f"{where}: bad template {template!r}: {exc}") from None
        for example in examples:
            if not pattern.search(_fold(example)):
                raise CorpusError(path, line(), f"{where}: does not match its example {example!r}")
        for example in counter:
            if pattern.search(_fold(example)):
                raise CorpusError(path, line(), f"{where}: matches its counter-example {example!r}")
        compiled.append(Rule(name, source))
    return AnyOf(compiled)


class RulesCheck:
    """That the phrase rules of a safety.toml were checked against their examples, and each
    rule's gate (required_strings), kept in the cache folder between runs of `ask`: checking
    and compiling every rule is half of what `ask` spends loading the corpus, and one
    message needs only the rules it gets past the gates of. The key is the file's bytes,
    this module's code and Python's version (its regular-expression parser reads the gates),
    so an edited rule is checked again before it is used. Holds the rules, never a message."""

    def __init__(self, path: Path, cache_dir: Path | None):
        self.file = None
        if cache_dir is not None:
            try:  # the files' digests as the models' keys are made (classifier.data_key)
                files = data_key([path, Path(__file__)], cache_dir)
            except OSError:
                return  # loading says what is wrong with the file
            digest = hashlib.sha256(f"{files} {sys.version}".encode()).hexdigest()[:16]
            self.file = cache_dir / f"safety-checked-{digest}.json"

    def load(self) -> tuple[dict, dict[str, list[str] | None]] | None:
        """The file as read (its TOML, which Python reads slower than JSON) and each checked
        rule's gate by its source; None when these rules were not checked."""
        try:
            kept = json.loads(self.file.read_text(encoding="utf-8")) if self.file else None
        except (OSError, ValueError):
            return None
        if not isinstance(kept, dict) or not isinstance(kept.get("data"), dict) \
                or not isinstance(kept.get("gates"), dict) or not all(
                    g is None or isinstance(g, list) and g and all(isinstance(x, str) for x in g)
                    for g in kept["gates"].values()):
            return None
        return kept["data"], kept["gates"]

    def save(self, data: dict, safety: "Safety") -> None:
        """Best effort, as StemCache: a read-only cache only costs the next start the check."""
        if self.file is None:
            return
        gates = {r.source: list(r.gate) if r.gate is not None else None
                 for table in safety.tables() for r in table.patterns}
        for old in self.file.parent.glob("safety-checked-*.json"):
            try:
                if old != self.file:
                    old.unlink(missing_ok=True)
            except OSError:
                pass  # a read-only cache keeps the old check, which nothing reads
        # a TOML value JSON cannot hold (a date) leaves nothing kept: read from the TOML
        keep_json(self.file, {"data": data, "gates": gates})


def _line_of(path: Path, needle: str) -> int:
    """The line of a corpus file where `needle` first appears (0 when it cannot be found), so a
    broken rule is reported where an editor can find it."""
    try:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.lstrip().startswith(needle):
                return number
    except OSError:
        pass
    return 0


@dataclass(frozen=True)
class Assessment:
    """What safety made of one message: the risk level (None: no risk seen), whether it is
    sure enough to answer with the safety reply itself, and the message's language."""
    level: str | None = None
    sure: bool = False
    language: str = "en"


NO_RISK = Assessment()


@dataclass
class Safety:
    crisis: AnyOf
    emergency: AnyOf
    asking: AnyOf
    describing: AnyOf
    past: AnyOf
    now: AnyOf
    texts: dict[str, dict[str, str]]  # language -> "crisis_reply", "crisis_note", ... -> text
    spanish: frozenset[str]
    english: frozenset[str]
    model: RiskModel | None = None

    @classmethod
    def load(cls, path: Path, model: RiskModel | None = None,
             cache_dir: Path | None = None) -> "Safety":
        """The rules and replies of `path` (a rule that fails its examples stops loading).
        With `cache_dir`, rules checked before (RulesCheck) are not checked again and come
        with their gates; rules checked now are kept there with theirs."""
        check = RulesCheck(path, cache_dir)
        kept = check.load()
        if kept is not None:
            return cls._read(path, model, *kept)
        data = load_toml(path)
        safety = cls._read(path, model, data, None)
        if cache_dir is not None:
            check.save(data, safety.prepare())
        return safety

    @classmethod
    def _read(cls, path: Path, model: RiskModel | None, data: dict,
              gates: dict[str, list[str] | None] | None) -> "Safety":
        try:
            en = {f"{kind}_{part}": data[kind][part] for kind in ("crisis", "emergency")
                  for part in ("reply", "note", "notice")}
            en.update(call=data["links"]["call"], text=data["links"]["text"])
            es = {k: data["spanish"][k] for k in en}
            lists = load_word_lists(path, data["lists"])
            rules = {table: compile_rules(path, table, data[kind][part], lists, gates)
                     for kind, part in (("crisis", "rules"), ("emergency", "rules"),
                                        ("emergency", "asking"), ("emergency", "describing"),
                                        ("emergency", "past"), ("emergency", "now"))
                     for table in [f"{kind}.{part}"]}
            return cls(
                crisis=rules["crisis.rules"],
                emergency=rules["emergency.rules"],
                asking=rules["emergency.asking"],
                describing=rules["emergency.describing"],
                past=rules["emergency.past"],
                now=rules["emergency.now"],
                texts={"en": en, "es": es},
                spanish=frozenset(data["spanish"]["words"]),
                english=frozenset(data["spanish"]["english"]),
                model=model,
            )
        except KeyError as exc:
            raise CorpusError(path, 0, f"missing {exc.args[0]!r}") from None

    def tables(self) -> tuple[AnyOf, ...]:
        """Every table of phrase rules."""
        return (self.crisis, self.emergency, self.asking, self.describing, self.past, self.now)

    def prepare(self) -> "Safety":
        """Gives every rule its gate (required_strings). Reading the patterns again takes a
        few hundredths of a second: worth it for a server's many messages (twice as fast
        each); `ask` reads the gates from the cache folder (RulesCheck) or runs ungated."""
        for table in self.tables():
            table.patterns = tuple(rule if rule.gate else replace(
                rule, gate=required_strings(rule.pattern)) for rule in table.patterns)
        return self

    def check(self, folded: str) -> str | None:
        """What the phrase rules say: 'crisis', 'emergency' or None, for a message already
        folded to lower-case words."""
        if self.crisis.search(folded):
            return "crisis"
        if self.emergency.search(folded):
            if self.past.search(folded) and not self.now.search(folded):
                return None  # it happened once, long ago: a question for the article
            if not self.asking.search(folded) or self.describing.search(folded):
                return "emergency"
        return None

    def assess(self, text: str, folded: str, counts: dict[int, int] | None = None,
               concern: str | None = None) -> Assessment:
        """Both judges on the whole message; see the module doc. A message longer than
        MAX_SAFETY_CHARS is read at its start and at its end (where a story's turn usually
        comes), which bounds the work any one message can cost. `counts` is the message's
        classifier.buckets when the caller has them (the answer model reads them too);
        `concern`: the level of help shown earlier in the conversation (see grade)."""
        if len(text) > MAX_SAFETY_CHARS:
            head = self.assess(text[:MAX_SAFETY_CHARS], folded[:MAX_SAFETY_CHARS], None, concern)
            tail = self.assess(text[-MAX_SAFETY_CHARS:], folded[-MAX_SAFETY_CHARS:], None, concern)
            return max(head, tail, key=lambda a: (a.sure, a.level is not None))
        level, sure = grade(self.check(folded),
                            self.model.assess(text, counts) if self.model else None, concern)
        return Assessment(level, sure, self.language(text)) if level else NO_RISK

    def language(self, text: str) -> str:
        """'es' for a message in Spanish (more Spanish function words than English), else 'en'."""
        words = tokens(text)
        es = sum(w in self.spanish for w in words)
        return "es" if es >= 2 and es > sum(w in self.english for w in words) else "en"

    def reply(self, found: Assessment, numbers: dict[str, str]) -> tuple[str, str]:
        """The crisis or emergency reply and the note under it, in the message's language."""
        texts = self.texts[found.language]
        return (texts[f"{found.level}_reply"].format(**numbers),
                texts[f"{found.level}_note"].format(**numbers))

    def notice(self, found: Assessment, numbers: dict[str, str]) -> dict:
        """The notice shown first: what to do, and the numbers as links a phone can dial."""
        texts = self.texts[found.language]
        if found.level == "crisis":
            line = numbers["crisis_line"]
            links = [{"label": texts["call"].format(number=line), "href": "tel:" + _dial(line)},
                     {"label": texts["text"].format(number=line), "href": "sms:" + _dial(line)}]
        else:
            line = numbers["emergency_number"]
            links = [{"label": texts["call"].format(number=line), "href": "tel:" + _dial(line)}]
        return {"level": found.level, "text": texts[f"{found.level}_notice"].format(**numbers),
                "links": links}


def grade(rule: str | None, risk: Risk | None, concern: str | None = None
          ) -> tuple[str | None, bool]:
    """The graded policy: (level, sure) from what the rules and the model say.

    A rule that fires always gets help shown, sure when the model agrees (or there is no
    model); the model alone shows a notice from NOTICE_AT (the message or a sentence of it,
    the message at least whole_bar) and is sure from SURE_AT for a message of
    MIN_SURE_WORDS or more. After help was shown in the conversation (`concern`, its level),
    the model's probability of that level shows its notice again from CARRIED_NOTICE_AT.
    """
    if risk is None:
        return rule, rule is not None
    if rule:
        return rule, risk.whole >= RULE_SURE_AT
    if risk.top >= NOTICE_AT and risk.whole >= whole_bar(risk):
        return risk.level, risk.whole >= SURE_AT and risk.words >= MIN_SURE_WORDS
    if concern and getattr(risk, concern) >= CARRIED_NOTICE_AT:
        return concern, False
    return None, False


def whole_bar(risk: Risk) -> float:
    """How risky the whole message must read for a risky sentence in it to raise a doubt:
    higher for a long story, where one hard sentence is often only a bad day told, unless
    that sentence alone is likely a risk (see LONG_WORDS)."""
    if risk.words >= LONG_WORDS and risk.top < SENTENCE_ALONE_AT:
        return NOTICE_WHOLE_LONG_AT
    return NOTICE_WHOLE_AT


def _dial(number: str) -> str:
    """A phone number as a tel: or sms: link wants it: digits and a leading +."""
    return "".join(c for c in number if c.isdigit() or c == "+")
