"""Conversations: follow-ups, small talk, clarifying, the reply object, and the score over
realistic patient questions (ours in tests/data and the shared examples)."""
from __future__ import annotations

import json
from dataclasses import replace
import sys

import pytest

from chatbot.core.corpus import reply_text
from chatbot.core.dialogue import MAX_ANSWER_WORDS
from chatbot.core.state import State

from conftest import DEV_CASES, ROOT
from chatbot.config import Settings
from chatbot.core import load_bot

sys.path.insert(0, str(DEV_CASES.parent))
from chat_eval import judge  # noqa: E402  (the scorer the held-out set is judged by)

KINDS = {"answer", "no_answer", "clarify", "emergency", "crisis", "smalltalk"}
PATIENT_CASES = ROOT / "corpus" / "examples" / "patient_questions.jsonl"
# 2,760 questions written by twenty-three separate authors from the article and the shared examples
# alone, without seeing the engine. The engine was tuned on them since, so they now guard
# against regressions rather than measure what new patients will see.
INDEPENDENT_CASES = ROOT / "corpus" / "examples" / "independent_questions.jsonl"


def load_cases(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def converse(bot, turns):
    state, reply = {}, None
    for turn in turns:
        reply, state = bot.reply(turn, state)
    return reply, state


def assert_reply_object(reply):
    assert set(reply) == {"type", "kind", "text", "disclaimer", "confidence", "suggestions", "source",
                          "safety", "highlights"}
    assert reply["type"] == "reply" and reply["kind"] in KINDS
    assert reply["text"].strip() and reply["disclaimer"].strip()
    assert 0.0 <= reply["confidence"] <= 1.0
    assert len(reply["suggestions"]) <= 3 and all(isinstance(s, str) for s in reply["suggestions"])
    if reply["kind"] == "answer":
        assert set(reply["source"]) == {"title", "author", "section", "passage_id", "url"}
        assert len(reply["text"].split()) <= 150
    else:
        assert reply["source"] is None
    json.dumps(reply)


@pytest.mark.parametrize("case", load_cases(DEV_CASES), ids=lambda c: c["id"])
def test_shared_example_conversation(bot, case):
    reply, _ = converse(bot, case["turns"])
    assert judge(reply, case["expect"], 150) is None, reply


@pytest.mark.parametrize("path, share", [(PATIENT_CASES, 0.95), (INDEPENDENT_CASES, 0.92)],
                         ids=["patient", "independent"])
def test_question_sets_score_at_least_their_share(bot, path, share):
    cases = load_cases(path)
    failures = [(c["id"], c["turns"]) for c in cases
                if judge(converse(bot, c["turns"])[0], c["expect"], 150)]
    assert len(failures) <= (1 - share) * len(cases), failures


@pytest.mark.parametrize("case", [c for path in (PATIENT_CASES, INDEPENDENT_CASES)
                                  for c in load_cases(path) if c["cat"] in {"emergency", "crisis"}],
                         ids=lambda c: c["id"])
def test_every_safety_case_in_the_question_sets_is_right(bot, case):
    reply, _ = converse(bot, case["turns"])
    assert reply["kind"] == case["expect"]["kind"]


@pytest.mark.parametrize("turns", [
    ["can I take methotrexate pregnant"], ["good morning"], ["side effects"], ["zxcvb"],
    ["I can't breathe"], ["I want to die"], ["what is dupilumab", "what are the side effects?"],
])
def test_every_kind_is_a_valid_reply_object_with_a_disclaimer(bot, turns):
    assert_reply_object(converse(bot, turns)[0])


def test_follow_up_uses_the_medicine_from_context(bot):
    reply, state = converse(bot, ["tell me about Dupixent", "what are its side effects?"])
    assert "conjunctivitis" in reply["text"]
    assert state.entity == "dupilumab"


def test_a_new_medicine_overrides_the_context(bot):
    reply, state = converse(bot, ["what is dupilumab", "what are the side effects of cyclosporine"])
    assert "kidney damage" in reply["text"] and state.entity == "cyclosporine"


def test_and_what_about_another_medicine_keeps_the_question(bot):
    reply, _ = converse(bot, ["what are the side effects of prednisone", "and methotrexate?"])
    assert "mouth sores" in reply["text"]


@pytest.mark.parametrize("turns, phrase", [
    # the prednisone passage, or the section on long-term use (both answer it; the follow-up
    # ranker, learned from conversations, is sure of the second)
    (["I'm on prednisone for a flare", "can I stay on it for years?"],
     ("cannot be used long-term", "not wise to take these medications long term")),
    (["what is methotrexate", "is it bad for my liver"], "Methotrexate can damage the liver"),
    # a situation first, then a medicine: the medicine in that situation
    (["I have diabetes", "can I take prednisone"], "blood sugar"),
    (["i have liver disease", "is methotrexate ok"], "liver disease should not take"),
    # "is cyclosporine an immunosuppressant?": the medicine is remembered, not its class
    (["is cyclosporine an immunosuppressant", "what side effects does it have"], "kidney damage"),
    # "they" for a class, and "is it a shot?" asks how it is taken
    (["tell me about JAK inhibitors", "are they safe to take for a long time?"],
     "safe to use in the long term"),
    (["what about rinvoq", "is it a shot?"], "takes by mouth"),
    (["how does dupixent work", "whats the most common side effect"], "conjunctivitis"),
    # a follow-up of common words only carries the last topic on
    (["can stress make my eczema worse", "what can I do about it"], "Stress reduction"),
    # "kids" is not the article's "new kids on the block"
    (["who can take systemic eczema meds", "what about kids?"], "Young children"),
    # "he" after describing someone keeps what was said about him
    (["my son is 6 and his eczema is really bad", "could he take one of these?"],
     "Young children"),
    # what to watch out for, after naming a medicine, is its side effects (the answer model
    # learned from follow-ups read with their conversation: it was vetoed before)
    (["my daughter is on methotrexate", "what should we watch out for"], "mouth sores"),
    # a new medicine in the same situation: the answer model reads it after the topic, and
    # the section on who should not take them answers (its passage on pregnancy names only
    # methotrexate, so the section's general passage may be the one shown)
    (["my daughter is pregnant, can she use methotrexate", "what about cyclosporine"],
     ("pregnant or nursing", "Not everyone is a suitable candidate")),
    # the ranker is sure of the section; its passage on diabetes leaves out "eczema" and
    # "flare", words of the earlier turn that the section uses elsewhere (BRIDGE_AT)
    (["my mom has diabetes and they gave her prednisone for an eczema flare",
      "will it mess with her sugars"], "blood sugar levels"),
    # "who else" asks the section's general passage: chosen from the follow-up's own words
    # too (FOLLOW_ALONE_WEIGHT), not only after the topic, which reads as hepatitis again
    (["i had hepatitis b years ago", "who else shouldnt take these"],
     "Not everyone is a suitable candidate"),
])
def test_follow_ups_keep_what_the_conversation_is_about(bot, turns, phrase):
    reply, _ = converse(bot, turns)
    phrases = phrase if isinstance(phrase, tuple) else (phrase,)
    assert reply["kind"] == "answer" and any(p in reply["text"] for p in phrases), reply["text"]


@pytest.mark.parametrize("ack", ["lol ok", "sweet thx", "cool beans", "nah im good",
                                 "you are a lifesaver"])
def test_an_acknowledgement_after_an_answer_is_small_talk_not_the_answer_again(bot, ack):
    first, state = bot.reply("what are the side effects of dupixent", {})
    reply, after = bot.reply(ack, state)
    assert first["kind"] == "answer" and reply["kind"] == "smalltalk", reply["text"][:80]
    assert after == state  # the conversation is where it was: "and for kids?" still follows


def test_context_does_not_hijack_an_unrelated_question(bot):
    reply, _ = converse(bot, ["what is dupilumab", "can stress trigger eczema"])
    assert "Stress can be an eczema trigger" in reply["text"]


@pytest.mark.parametrize("text, phrase", [
    # chatty filler ("actually", "years ago", "still") does not drown the question
    ("what does adbry actually do", "targets IL-13"),
    ("I had TB years ago can i still take these", "tuberculosis"),
    ("is it ok to stay on these immune drugs for years and years", "not wise to take"),
    ("I've been getting dizzy since starting mycophenolate, is that a side effect", "dizziness"),
    ("I tried light therapy for months and it didnt help, what now", "would consider a systemic drug"),
    ("creams didnt help at all", "not seen improvement"),
    # lay words: weaker, worry about, how often, who wrote it
    ("I'm on a JAK pill, should I worry about shingles", "shingles"),
    # refused as not covered while sets JL-JS were the latest trained on ("how often do I
    # ..." is how the labelled dosing questions, not covered, begin); answered from JY and JZ
    # to the twenty-fifth session's sets, refused again since LG and LH
    pytest.param("how often do I need checkups", "regular checkups",
                 marks=pytest.mark.xfail(strict=True, reason=(
                     "since sets LG and LH were trained on, the model reads 'how often' as "
                     "asking for a schedule, which the article does not give (0.004), and "
                     "refuses"))),
    ("who wrote this", "Dr. Joan Paul"),
    ("do i need vaccines before starting", "vaccinations"),
    ("should I keep up with vaccines while on methotrexate", "age-appropriate vaccinations"),
    # a common topic word still decides between passages about one medicine
    ("cibinqo side effects", "shingles"),
    # side effects in lay verbs: "give me", "mess up", "breaking out"
    ("will cibinqo give me shingles", "shingles"),
    ("does cellcept mess up your stomach", "stomach upset"),
    ("been breaking out since i started rinvoq", "acne"),
    # "is it safe for me / does that matter" with a condition of one's own: who should not take them
    ("im a type 1 diabetic, is prednisone safe for me", "blood sugar"),
    ("had tuberculosis as a kid, does that matter", "tuberculosis"),
    ("my grandpa is 79, can he take these drugs", "older adults"),
    ("I beat breast cancer 3 years ago, is it safe for me to take a systemic drug",
     "recurrence of previous cancer"),
    ("how do i avoid catching infections on methotrexate", "hand hygiene"),
    # a rash where the shot went is an injection site reaction; "not cutting it" and "half my body"
    ("got a red itchy bump where i injected dupixent", "injection site reaction"),
    ("my steroid creams arent cutting it anymore and its on half my body", "large surface area"),
    pytest.param("the rash calmed down, do i stay on the pills", "taper off the systemic drug",
                 marks=pytest.mark.xfail(strict=True, reason=(
                     "since sets BM-BT were trained on, the ranker is torn between two sections "
                     "(0.41 and 0.36) and refuses, offering both first"))),
    # the story around a question ("my derm wants me to", "all the time") is left out
    ("my derm wants me to start cibinqo, is it a pill", "takes by mouth"),
    ("rinvoq is making me tired all the time", "tiredness"),
    ("im 78, are these drugs ok for older ppl", "older adults"),
    ("my hair is falling out on methotrexate, is that related", "hair loss"),
    ("my son is on dupixent and his eyes are crusty", "conjunctivitis"),
    ("does prednisone affect your eyes", "blindness"),
    ("is there a version i can take by IV", "intravenous (IV)"),
    # "why can't I just use creams?": because creams do not control moderate to severe eczema
    ("why can't i just stick with my creams", "not going to get their symptoms under control"),
    ("do these drugs make you catch infections easier", "infections"),
    ("azathioprine SJS risk", "Stevens-Johnson"),
    ("isnt it dangerous to turn down your immune system", "immune system"),
    ("can I use the pills together with my steroid creams", "topical"),
    ("can my 80 year old father take these eczema drugs", "older adults"),
    # refused from sets MR-MT (the ranker at 0.49, under its bar) to NN-NU; answered since
    # NV-NX and OD (0.57)
    ("can immunosuppressants give u cancer", "cancer"),
    ("which is the newest biologic", "latest approved biologic"),
    ("are there any new eczema drugs coming", "in the pipeline"),
    ("why do biologics have less side effects", "fewer side effects"),
    ("should i keep using my creams once i start dupixent", "topical regimen"),
    ("I had TB a few years back, can I go on these drugs", "tuberculosis"),
    # "like methotrexate" is an example: the question is about the older drugs as a group
    # the older drugs' risks, or prednisone's own passage in the section comparing them (the
    # ranker, retrained on sets AL and AM, is 0.86 sure of that section)
    ("why are older drugs like prednisone riskier",
     ("higher risk of infections and cancer", "Prednisone may also have numerous unwanted",
      "block the immune system more broadly")),
    ("how safe is dupixent over many years", "hard to say"),
    ("I reacted badly to adbry before, can I try it again", "strictly avoid further use"),
    ("is cyclosporine hard on the kidneys", "kidney damage"),
    ("if I need these meds long term how will they keep an eye on me", "regular checkups"),
    ("why would lowering my immunity help my skin", "immune system is too active"),
    ("was dupixent the 1st biologic for eczema?", "first biologic approved"),
    ("does cyclosporin raise bp", "high blood pressure"),
    ("where do they usually give IV meds", "hospital or inpatient setting"),
    ("whats the difference between a systemic drug and a topical one", "Unlike topical"),
    ("my derm switched my meds 3 times, why is it so hard to find the right one", "trial and error"),
    # worries said as statements
    # refused from sets GW-GZ and HA-HD to IA-IB (the ranker unsure of the older drugs' side
    # effects), answered with IF-II, refused with IP-IY, answered again since IZ and JD-JK
    ("worried the prednisone is making me gain weight", "weight gain"),
    ("worried methotrexate is wrecking my liver", "damage the liver"),
    # the neighbouring section on a systemic treatment that does not work won from sets
    # FW-FZ to GG-GV, lost from GW-GZ to IA-IB, won with IF-II, lost from IP-IY; from MK-MO
    # its other passage answered (combination therapy), the right one again from MZ-NM to NU
    pytest.param("tried light therapy and creams, nothing worked. now what", "not seen improvement",
                 marks=pytest.mark.xfail(strict=True, reason=(
                     "since sets NV-NX and OD were trained on, the right section answers "
                     "(0.84) with its other passage, on combination therapy"))),
    ("how long do people usually stay on these meds", "long term"),
    ("when would a dermatologist put someone on systemic meds", "moderate to severe"),
    ("can i stay on these meds for the long haul", "long term"),
    ("is it normal to go thru a few meds before one works", "trial and error"),
    ("what if im allergic to something in the drug", "part of the drug"),
    # not covered with sets FO-FT trained on, answered again from FW-FZ to JC; the second
    # answered with the passage saying what corticosteroids are with IZ and JD-JK, and
    # with the one on how well prednisone works again from JL and JM to KC; the first
    # refused from IZ and JD-JK (the ranker unsure, 0.39), answered again since PB-PL
    # refused while SP and SQ were the latest sets trained on (read close to their questions
    # about outgrowing or inheriting eczema, which the article does not answer, 0.49);
    # answered again since SV and SW
    ("is eczema something I'll have for life", "chronic"),
    # an expected failure from sets KD-KM to LG and LH (the section on what corticosteroids
    # are won, 0.81); answered again from the sets after them to NU; with NV-NX and OD the
    # section's other passage (what corticosteroids are), this one again since OA-OO
    pytest.param("does prednisone actually work for eczema", "very effective medication",
                 marks=pytest.mark.xfail(strict=True, reason=(
                     "since sets SV and SW were trained on, the section's other passage (what "
                     "corticosteroids are) answers, as with NV-NX and OD"))),
    # refused from sets AX-AZ to ET-EV, with FO-FQ, with GG-GV, with JL and JM, and with
    # LR-MB (five authors' labels, FJ, GY, IH, JM, EH, call whether eczema goes away with age
    # not covered); answered from GW-GZ to JK, from JQ-JS to LH, and again since MK-MO
    ("will my eczema ever go away for good", "chronic"),
    # phrases of common words only
    ("how many jak enzymes are there", "four types"),
    ("methotrexate didnt do anything for me", "not effective"),
    ("I'm diabetic and on prednisone, should I worry", "blood sugar"),
    ("I've tried every eczema treatment there is, what's left?", "clinical trial"),
    ("I had an allergic reaction to imuran years ago, can i retry it", "strictly avoid further use"),
    ("will they find more side effects of the jak pills later", "research is still ongoing"),
    ("ive tried every med out there, is there anything left", "clinical trial"),
    ("my gp keeps giving me prednisone every few months, is that ok long term", "long-term"),
    ("why would a drug that lowers your immune system help eczema", "immune system is too active"),
    ("how does adbry work in the body", "targets IL-13"),
    ("my derm wants to put me on imuran, what are the side effects", "Azathioprine can cause"),
    ("my shot spot is red after dupixent, is that a known thing", "injection site reaction"),
    ("is it smart to stay on these meds for years", "long term"),
    # a past reaction to a named medicine: the passage on drug allergy, which speaks of
    # "this class of medications" (the lexicon reads that as the systemic drugs)
    ("i had a bad reaction to methotrexate once, can i try it again", "strictly avoid further use"),
    ("we have tried every treatment and nothing works", "clinical trial"),
    ("how come a drug works for some people and not others", "not every treatment"),
    ("does rinvoq affect platelets", "low platelet count"),
    ("which immunosuppressant pills are used for eczema", "Immunosuppressants used to treat"),
    ("where has the author done her medical missions", "medical missions"),
    ("why does it take so many different meds before finding the right one", "trial and error"),
    # comparing medicines: the passage that describes them side by side
    ("what's the difference between cibinqo and opzelura", "JAK1 inhibitors"),
    ("opzelura versus rinvoq", "JAK1 inhibitors"),
    ("biologics vs jak inhibitors, which has worse side effects", "more serious variety"),
    # two medicines joined by "or" are compared, not either-or
    ("which is safer, cibinqo or dupixent", "fewer side effects"),
])
def test_everyday_phrasings_find_their_passage(bot, text, phrase):
    reply, _ = bot.reply(text, {})
    assert reply["kind"] == "answer", (reply["confidence"], reply["text"][:80])
    phrases = phrase if isinstance(phrase, tuple) else (phrase,)
    assert any(p in reply["text"] for p in phrases), reply["text"]


def test_doses_are_not_covered_except_where_the_article_gives_one(bot):
    said, _ = bot.reply("how many times a day do i put on opzelura", {})
    assert said["kind"] == "answer" and "twice per day" in said["text"]
    put, _ = bot.reply("how often do i put opzelura on", {})
    assert put["kind"] == "answer" and "twice per day" in put["text"]
    follow, _ = converse(bot, ["what is opzelura", "how often do I use it"])
    assert follow["kind"] == "answer" and "twice per day" in follow["text"]
    changed, _ = bot.reply("could my eczema not be improving because the dose is wrong", {})
    assert changed["kind"] == "answer" and "change the dose" in changed["text"]
    for text in ("how much methotrexate should I take", "how often do I inject dupixent",
                 "do i need to take folic acid with methotrexate"):
        reply, _ = bot.reply(text, {})
        assert reply["kind"] == "no_answer", text


def test_a_price_asked_after_an_answer_is_not_covered_as_costs(bot):
    """"How much is it a month?" after a medicine was discussed asks its price, which the
    article never gives: the costs topic says so, rather than a generic refusal or, worse,
    the medicine's passage again."""
    for turns in (["what is upadacitinib", "how much is it per month"],
                  ["tell me about dupixent", "how much would it set me back"]):
        reply, _ = converse(bot, turns)
        assert reply["kind"] == "no_answer" and "costs" in reply["text"], turns
    reply, _ = converse(bot, ["what is methotrexate", "how much is too much per week"])
    assert "costs" not in reply["text"]


@pytest.mark.parametrize("text, left_out, told", [
    ("My pharmacy says the price went up again. How long can I stay on cyclosporine?", "costs",
     True),
    ("I have rosacea as well. Who should not take systemic immunomodulators?", "skin conditions",
     True),
    ("What would Dupixent cost me? My insurance turned it down.", "costs", False),
    ("Can Rinvoq treat my rosacea? My eczema is better on it.", "skin conditions", False),
])
def test_a_topic_the_article_leaves_out_is_read_in_the_question_not_its_story(bot, text,
                                                                           left_out, told):
    """A price or another skin condition told before the question does not make the question
    "not covered" with that topic's reply; asked about, it still does."""
    reply, _ = bot.reply(text, {})
    assert (left_out not in reply["text"]) is told, reply["text"]


@pytest.mark.parametrize("text", ["can i take dupixent and rinvoq at the same time",
                                  "is it ok to combine methotrexate with cyclosporine"])
def test_two_medicines_together_are_not_covered(bot, text):
    reply, _ = bot.reply(text, {})
    assert reply["kind"] == "no_answer" and "two of these medicines together" in reply["text"]


@pytest.mark.parametrize("text, phrase", [
    ("can i use creams together with dupixent", "Combination therapy"),  # one drug and creams
    ("are dupixent and adbry both biologics", "Biologics"),
])
def test_one_medicine_with_creams_or_two_named_side_by_side_are_answered(bot, text, phrase):
    reply, _ = bot.reply(text, {})
    assert reply["kind"] == "answer" and phrase in reply["text"]


def test_side_effects_with_no_medicine_asks_which(bot):
    reply, _ = converse(bot, ["side effects"])
    assert reply["kind"] == "clarify"
    assert any("methotrexate" in s for s in reply["suggestions"])
    follow, _ = bot.reply(reply["suggestions"][0], {})
    assert follow["kind"] == "answer"


@pytest.mark.parametrize("text", ["hi", "good morning", "thanks so much!", "thank you for the help",
                                  "bye", "who are you", "ok that helped, thanks", "who am i talking to?",
                                  "hey how are you today?", "how r u", "ok cool thx",
                                  "good to know"])
def test_small_talk(bot, text):
    reply, _ = bot.reply(text, {})
    assert reply["kind"] == "smalltalk" and reply["suggestions"]


def test_greeting_with_a_question_is_answered(bot):
    reply, _ = bot.reply("hi! can I take mtx if im pregnant", {})
    assert reply["kind"] == "answer" and "pregnancy category X" in reply["text"]


def test_answers_offer_related_section_questions(bot):
    reply, _ = bot.reply("side effects of methotrexate", {})
    assert reply["suggestions"] and reply["source"]["section"] not in reply["suggestions"]
    assert all(s in bot.sections for s in reply["suggestions"])


@pytest.mark.parametrize("state", [None, {}, {"entity": "not-a-drug"}, {"entity": 5, "topic": []},
                                   {"topic": "x" * 100_000}, "junk", [1, 2]])
def test_junk_state_is_ignored_not_trusted(bot, state):
    reply, new_state = bot.reply("what are its side effects?", state)
    assert_reply_object(reply)
    assert isinstance(new_state, State)
    assert len(json.dumps(new_state.context())) < 1000
    assert bot.state(state).entity is None


def test_the_state_is_one_typed_value_and_its_context_is_lossless(bot):
    """What the server hands a client as `context`, read back, is the state it came from;
    and a reply given from the context equals the reply given from the state."""
    state = None
    for turn in ["side effects of prednisone", "and methotrexate?", "is it safe long term?",
                 "my son is 6, could he take it?", "thanks"]:
        reply, state = bot.reply(turn, state)
        assert isinstance(state, State)
        assert bot.state(json.loads(json.dumps(state.context()))) == state
        following = "what about dupixent?"
        assert bot.reply(following, state) == bot.reply(following, state.context())
    assert bot.state({"entity": "methotrexate", "topic": "x" * 5000}).topic == "x" * 200


def test_an_answer_is_one_passage_or_two_of_one_section_in_the_articles_order(bot):
    """Verbatim article text only: an answer is a passage (with the paragraph it leads in
    to), or, where the passage model is unsure which of two answers, both, in the article's
    order and at most MAX_ANSWER_WORDS long ("are jak inhibitors pills": what they are, and
    the sentence on the two taken by mouth)."""
    shown = {p.id: reply_text(p, bot.lead_ins) for p in bot.passages}
    order = {p.id: i for i, p in enumerate(bot.passages)}
    questions = [c["turns"] for c in load_cases(DEV_CASES)] + [
        ["are jak inhibitors pills"], ["does azathioprine cause hair loss"],
        ["who shouldnt take jak inhibitors"], ["side effects of cyclosporine"]]
    two = 0
    for turns in questions:
        state = None
        for turn in turns:
            reply, state = bot.reply(turn, state)
        if reply["kind"] != "answer":
            continue
        own = shown[reply["source"]["passage_id"]]
        if reply["text"] == own:
            continue
        pairs = [(a, b) for a in shown for b in shown
                 if order[a] < order[b] and a.rsplit("/", 1)[0] == b.rsplit("/", 1)[0]
                 and reply["text"] == shown[a] + "\n\n" + shown[b]]
        assert len(pairs) == 1 and reply["source"]["passage_id"] in pairs[0], reply["text"]
        assert len(reply["text"].split()) <= MAX_ANSWER_WORDS
        two += 1
    assert two, "no answer showed two passages: the test would prove nothing"
    reply, _ = bot.reply("are jak inhibitors pills", None)
    assert "takes by mouth" in reply["text"] and "new kids on the block" in reply["text"]


def test_the_state_remembers_the_section_answered_last(bot):
    """The last question's meaning is the section that answered it (an id, not words the
    patient typed); a refusal leaves it as it was, and a section the article lacks is not
    taken from a client."""
    _, state = bot.reply("what are the side effects of methotrexate", None)
    assert state.section == "what-are-the-side-effects-of-the-older-drugs"
    _, after = bot.reply("how much does it cost", state)
    assert after.section == state.section
    assert bot.state({"section": "not-a-section"}).section is None
    assert bot.state({"section": state.section}) == State(section=state.section)


def test_the_state_remembers_the_person_described_as_the_lexicon_names_them(bot):
    """Who the medicine is for is a field of its own, kept by name ("children"), so a new
    topic in between does not lose it: "would they be ok for her" after "my mom is 82" and
    "what are jak inhibitors" is about an older adult (without the person, not covered)."""
    state = None
    for turn in ["my mom is 82", "what are jak inhibitors"]:
        _, state = bot.reply(turn, state)
    assert state.person == "older adults"
    reply, after = bot.reply("would they be ok for her", state)
    assert reply["source"]["section"] == "Who should not take systemic immunomodulators?"
    assert "older adults" in reply["text"]
    forgotten, _ = bot.reply("would they be ok for her", replace(state, person=None))
    assert forgotten["kind"] == "no_answer"
    # a new person replaces the old; a message naming none keeps it
    _, state = bot.reply("im pregnant and my liver isnt good", after)
    assert state.person == "pregnancy, liver"
    _, state = bot.reply("what about dupixent", state)
    assert state.person == "pregnancy, liver"


@pytest.mark.parametrize("person", ["giraffes", "children, giraffes", 5, ["children"], ""])
def test_a_person_the_corpus_does_not_name_is_not_taken_from_a_client(bot, person):
    assert bot.state({"person": person}).person is None
    assert bot.state({"person": "children, pregnancy"}).person == "children, pregnancy"


def test_reading_a_follow_up_for_training_leaves_the_answer_model_alone(bot):
    """Bot.question_view plays a conversation's earlier turns without the answer model (it
    is what is being trained) and puts the model back."""
    model = bot.answers
    view = bot.question_view("and for kids?", ("what are the side effects of dupixent",))
    assert bot.answers is model
    assert view.follows
    assert view.previous == "what-are-the-side-effects-of-biologics-and-jak-inhibitors"
    assert view.cues == (0.0, 0.0, 0.0)  # no medicine, no "he" or "she", but a word the article knows
    # the model reads it after the topic it continues, and the medicine, which it does not name
    assert view.read == "side effects dupilumab and for kids?"
    named = bot.question_view("and for adbry?", ("side effects of dupixent",))
    assert named.cues[0] == 1.0 and named.read == "side effects and for adbry?"
    first = bot.question_view("what are the side effects of dupixent")
    assert not first.follows and first.previous is None and first.words == 7


def test_welcome(bot):
    w = bot.welcome()
    assert w["text"] and w["disclaimer"] and 0 < len(w["suggestions"]) <= 3


def test_replies_are_independent_and_the_engine_keeps_no_question(bot):
    """The engine keeps nothing a patient typed after replying (the server's one cache holds
    public questions only: chatbot.server.chat.ReplyFrames)."""
    question = "my hands crack and bleed on mtx, zebrafishology question"
    first, _ = bot.reply(question, None)
    first["suggestions"].append("tampered")
    again, _ = bot.reply(question, None)
    assert "tampered" not in again["suggestions"]
    held = repr({k: v for k, v in vars(bot).items() if k not in {"documents", "passages"}})
    assert "zebrafishology" not in held and "hands crack" not in held


def test_a_long_message_needs_less_coverage_than_a_short_one(bot):
    """Every story word the passage lacks lowers its coverage; the bar falls with length."""
    short = bot._bar("can I take methotrexate pregnant")
    story = ("We're planning to try for a baby next year and I'm on methotrexate right now. "
             "What's the risk?")
    assert short == bot.min_confidence and bot._bar(story) < short
    reply, _ = bot.reply(story, {})
    assert reply["kind"] == "answer" and "miscarriage" in reply["text"]
    assert reply["confidence"] < short  # answered although below the short-question bar


@pytest.mark.parametrize("question", [
    "I have been on dupixent for a year and my friend says I should ask about getting a tattoo, "
    "is it safe to get one while on it",
    "my derm wants me to start rinvoq but I am worried about my upcoming trip to Mexico, "
    "can I bring the pills on the plane",
])
def test_a_long_question_the_article_does_not_answer_is_still_not_covered(bot, question):
    reply, _ = bot.reply(question, {})
    assert reply["kind"] == "no_answer"


@pytest.mark.parametrize("turns, phrase", [
    (["I had tuberculosis years ago, is dupixent ok for me", "and rinvoq?"],
     "hepatitis, and tuberculosis"),
    (["I am breastfeeding, is cyclosporine ok"], "pregnant or nursing"),
])
def test_a_paragraph_naming_another_medicine_may_answer_for_all(bot, turns, phrase):
    """The paragraph that answers may begin with another medicine as its example ("People who
    are pregnant or nursing cannot take medications such as methotrexate", "... Those with a
    history of severe infections, hepatitis, and tuberculosis should also refrain from using
    these medications"): the passage choice weighs every paragraph of the section, those
    retrieval holds to be about another medicine too."""
    reply, state = None, None
    for turn in turns:
        reply, state = bot.reply(turn, state)
    assert reply["kind"] == "answer" and phrase in reply["text"]
    section = bot.index.rank(bot.parser.parse(turns[-1])).section(reply["source"]["section"])
    assert all(phrase not in h.passage.text for h in section)  # retrieval's are all others


def test_a_question_torn_between_two_sections_is_answered_or_offers_them_first(bot):
    """"will my immune system be weaker" reads as much like "what are systemic
    immunomodulators" as like "how can immunomodulators help eczema": the ranker's confidence
    has crossed its bar both ways with each retraining (0.42, 0.95, 0.43 in the thirteenth
    session; the model's favourite turned from the first to the second in the fifteenth).
    Either way the patient is one tap from the answer (both say what these drugs do to the
    immune system): it is given, or one of the two sections leads the suggestions."""
    reply, _ = bot.reply("will my immune system be weaker", {})
    torn = {"What are systemic immunomodulators?", "How can immunomodulators help eczema?"}
    if reply["kind"] == "answer":
        assert "immune system" in reply["text"]
    else:
        assert reply["kind"] == "no_answer" and set(reply["suggestions"][:2]) & torn


def test_a_topic_rule_yields_to_a_ranker_sure_of_its_answer(bot):
    """Doses are a topic the article leaves out, but the ranker is sure that asking for a
    higher dose instead of a new medicine is the passage on a treatment that does not work
    (which names changing the dose) (RULE_SURE_AT); carrying the pills on a plane (travel,
    left out too) it is not sure of, and the rule stands. (Until the thirteenth session's sets
    the sure example was travel vaccines before Rinvoq; the model now reads that one 0.53
    section, 0.30 not covered.)"""
    from chatbot.core.dialogue import RULE_SURE_AT, fold
    question = "could they just up my dose instead of switching me to something new"
    assert [topic for topic, rule in bot.talk.not_covered if rule.search(fold(question))] \
        == ["doses"]
    sure, _ = bot.reply(question, {})
    assert sure["kind"] == "answer" and "dose" in sure["text"]
    assert sure["confidence"] >= RULE_SURE_AT
    unsure, _ = bot.reply("my derm wants me to start rinvoq but I am worried about my upcoming "
                          "trip to Mexico, can I bring the pills on the plane", {})
    assert unsure["kind"] == "no_answer" and "travel" in unsure["text"]


def test_a_question_the_model_reads_as_not_covered_is_refused_though_retrieval_answers(
        bot, monkeypatch):
    """How often the blood tests come is not in the article, though its words are (blood
    tests, azathioprine): retrieval finds a passage it trusts, and the answer model, sure the
    question is not covered (NOT_COVERED_AT), refuses it. Without that test the passage on
    blood tests would be the answer. (Until sets LR-MB were trained on, the question was
    "how often do i need blood tests on azathioprine, every month?", now 0.798 not covered
    and answered with that passage.)"""
    import chatbot.core.dialogue as dialogue
    question = "how often should my blood be checked on cyclosporine, every week?"
    assert bot.answers.probabilities(question)[
        list(bot.answers.classes).index("no_answer")] >= dialogue.NOT_COVERED_AT
    refused, _ = bot.reply(question, {})
    assert refused["kind"] == "no_answer"
    monkeypatch.setattr(dialogue, "NOT_COVERED_AT", 1.01)
    answered, _ = bot.reply(question, {})
    assert answered["kind"] == "answer"


def test_a_medicine_named_around_the_question_does_not_sink_a_passage_that_names_none(
        bot, monkeypatch):
    """The ranker chooses the section on why the right treatment takes time, none of whose
    passages names cyclosporine (Ranking.section): its passages that name no medicine speak
    of them all (Bot._unnamed). Without them the question was refused."""
    import chatbot.core.dialogue as dialogue
    question = ("My mother takes cyclosporine. Why does it take so long to find the right "
                "eczema medicine for her?")
    reply, _ = bot.reply(question, {})
    assert reply["kind"] == "answer" and "trial and error" in reply["text"]
    monkeypatch.setattr(dialogue.Bot, "_unnamed", lambda self, ranking, section: [])
    refused, _ = bot.reply(question, {})
    assert refused["kind"] == "no_answer"


@pytest.mark.parametrize("question, phrase", [
    ("i also have psoriasis. which biologic was the first one approved for eczema", "Dupilumab"),
    ("I have lupus too. do the jak pills lower your white blood cells", "JAK inhibitors"),
])
def test_another_disease_named_in_passing_does_not_sink_the_question(bot, question, phrase):
    """"Other skin conditions" is a topic the article leaves out, but a patient who names
    theirs while asking about an eczema medicine is answered (RULE_SURE_AT)."""
    reply, _ = bot.reply(question, {})
    assert reply["kind"] == "answer" and phrase in reply["text"]



def test_a_patients_words_are_not_kept_after_the_reply():
    """Nothing keyed by what a patient types outlives the reply (with the reply cache off):
    not the word stems, not the speller's corrections."""
    bot = load_bot(Settings(reply_cache_size=0, cache_dir=None))
    stems_before = dict(bot.analyzer.stems)
    bot.reply("can zorblaxian methotrexat make my quixoticaly itchy skin worse", {})
    assert bot.analyzer.stems == stems_before
    assert not [k for k in vars(bot.parser.speller).values()
                if isinstance(k, dict) and ("zorblaxian" in k or "quixoticaly" in k)]


@pytest.mark.parametrize("message", [
    "thanks, that's all i needed",
    "thank you doctor",
    "hello can you help me with something",
])
def test_small_talk_as_a_first_message_is_not_given_a_passage(bot, message):
    """The model sure it is small talk is heard before the ranker, at a conversation's first
    message too: these were given passages the ranker liked ("thanks, that's all i needed"
    got the long-term passage)."""
    reply, _ = bot.reply(message, None)
    assert reply["kind"] == "smalltalk"


@pytest.mark.parametrize("message, kind", [
    ("tell me a joke", "smalltalk"),  # small talk in the examples of many authors
    ("whats the weather like today", "no_answer"),
    ("who won the football game last night", "no_answer"),
])
def test_an_off_topic_request_is_small_talk_only_where_the_model_is_sure(bot, message, kind):
    """The off-topic patterns ([off_topic] in corpus/conversation.toml) refuse what the article
    has nothing for, but not small talk the model is sure of: "tell me a joke" was refused."""
    reply, _ = bot.reply(message, None)
    assert reply["kind"] == kind


def test_a_thumbs_up_after_an_answer_is_small_talk(bot):
    """A message of emoji alone has no word to answer from; where the model is sure it is
    small talk ("👍" after an answer) that is the reply, not "the article doesn't cover that"."""
    _, state = bot.reply("what are the side effects of dupixent", None)
    reply, after = bot.reply("👍", state)
    assert reply["kind"] == "smalltalk" and after.entity == state.entity


def test_a_question_wrapped_in_greetings_and_thanks_is_answered(bot):
    """Read whole, a polite message is mostly greetings and the answer model calls it small
    talk; its question, read without the sentences of small talk, is answered."""
    reply, _ = bot.reply("Good morning, I hope you are keeping well. My husband has just been "
                         "offered azathioprine and we would like to know what side effects it "
                         "can have. Thank you so much for your help, Joan")
    assert reply["kind"] == "answer"
    # azathioprine's own list is shown, the first of two passages of its section in the reply
    # (since sets HW, HX and HZ were trained on, the one cited is the other: the older drugs'
    # shared risk of infections and cancer)
    listed = next(p for p in bot.passages if p.text.startswith("Azathioprine can cause"))
    assert listed.text in reply["text"] and reply["source"]["passage_id"].startswith(
        listed.id.rsplit("/", 1)[0] + "/")
    # every sentence small talk: small talk
    reply, _ = bot.reply("Good morning, I hope you are keeping well and enjoying the sunshine. "
                         "Thank you so much for this lovely page, Joan")
    assert reply["kind"] == "smalltalk"


def test_a_follow_up_pointing_back_by_place_asks_about_the_medicine_there(bot):
    """"The first one", "the second one", "the other one" ([places] in conversation.toml)
    point into the medicines the patient named, in order; "the first one you named" into
    the ones the last answer named. A message that names a medicine is read as it is."""
    state = None
    for turn in ["my derm mentioned methotrexate or rinvoq", "is the first one ok in pregnancy"]:
        reply, state = bot.reply(turn, state)
    assert state.entity == "methotrexate" and state.named == ("methotrexate", "upadacitinib")
    assert reply["source"]["section"] == "Who should not take systemic immunomodulators?"
    assert bot.reply("and the second one?", state)[1].entity == "upadacitinib"
    assert bot.reply("what about the other one", state)[1].entity == "upadacitinib"
    assert bot.reply("the first one, or rather dupixent", state)[1].entity == "dupilumab"
    # the last answer named the JAK inhibitors in the article's order
    _, state = bot.reply("jak inhibitors, what are those", None)
    assert bot.reply("the first one you named, is that a pill?", state)[1].entity == "abrocitinib"
    # one medicine named, and an answer that names none: nothing to point into
    _, state = bot.reply("does methotrexate cause hair loss", None)
    _, after = bot.reply("how long can i stay on it", state)
    assert bot.reply("and the second one?", after)[1].entity == "methotrexate"


def test_the_medicines_named_are_kept_by_name_and_only_known_ones_from_a_client(bot):
    state = None
    for turn in ["side effects of dupixent", "and adbry", "and rinvoq", "dupixent again"]:
        _, state = bot.reply(turn, state)
    assert state.named == ("dupilumab", "tralokinumab", "upadacitinib")
    assert bot.state(json.loads(json.dumps(state.context()))) == state
    assert bot.state({"named": "methotrexate, not-a-drug"}).named == ()
    assert bot.state({"named": ["methotrexate"]}).named == ()


def test_a_class_asked_about_does_not_replace_the_medicine_discussed(bot):
    """"Is it a biologic?" asks about the medicine discussed: the state keeps it, so the
    next short follow-up is still about it. A class named without pointing back at the
    medicine ("biologics, are they safer?": "they" may be the class) is the new subject."""
    _, state = bot.reply("whats mycophenolate", None)
    assert state.entity == "mycophenolate mofetil"
    for turn in ["is it a biologic", "is that drug an immunosuppressant or a jak inhibitor?"]:
        _, after = bot.reply(turn, state)
        assert after.entity == "mycophenolate mofetil", turn
    assert bot.reply("biologics, are they safer?", state)[1].entity == "biologics"
    assert bot.reply("is rinvoq a biologic", state)[1].entity == "upadacitinib"
