"""Residents and intents heard by the recogniser itself: the speech service's scores of candidate
phrases.

When the concierge asks whom to call, it sends the residents' names with the question
(RecognitionContext.candidate_phrases: each one's full name, first name and aliases) and the
speech service scores each against the answer's audio (speech's phrase_scoring: whisper's own
probability of the phrase given the audio, less given silence). The free transcript of a name
is often another word ("Roberto" written "Homem", "Fomeiro"); the scores may still single out
the resident said.

The scores count only when the transcript gave no strong reading (they win over a weak one),
and only ever as a weak reading: the visitor is asked "Roberto Nunes, do 102?" before anyone
is called. After a "não", the next resident they single out is asked about at once, once
(`core/confirming.next_candidate`).

Measured by a one-off prototype script, not kept: the blocks file, espeak-ng pt-br, pt-br+f2, pt-br+m3, pt-br+m1 at 140–160 wpm, whisper base, 2026-12-01 19:40–19:53 UTC, load average 0.4–0.7 (8 residents of the blocks condominium, 4 voices, 4 phrasings):
of the 57 answers whose transcript the matcher could not read, the best-scored resident led
the next by at least `HEARD_LEAD` in 31, and was right in 21 of them; without that lead, right
in 7 of 26.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from porteiro_concierge.understanding.matcher import Interpretation
from porteiro_concierge.understanding.sets import Reading, ResidentChoice

# How far (score units: mean log-probability per token) the best resident must lead the next.
HEARD_LEAD = 0.5
# Below this the audio made the phrase no likelier than silence does: not heard at all.
HEARD_MIN_SCORE = 0.0
# How far the best-scored meaning of the greeting's intent words must lead the other's. Chosen on
# a one-off prototype script (52 garbled greetings, 2026-12-01 23:21–23:23 UTC: 45 guesses right
# at 0.5, 39 at 1.0, 27 without scores). bench/bench_intent_words.py (the blocks file, 96
# greetings, four espeak-ng voices, 2026-12-02 00:44–00:47 UTC, load average 0.6–2.0): of the 62
# whose transcript gives no strong intent, the guess is right in 57 with the scores, 47 without;
# scoring costs the greeting 0.5 s of wall time (p50) and 1.1 CPU-s.
INTENT_HEARD_LEAD = 0.5
# More phrases than this are not sent: scoring costs about 10 ms each on 2 cores (the speech
# service's own limit, SPEECH_MAX_CANDIDATE_PHRASES, has the same default).
MAX_CANDIDATE_PHRASES = 48


def residents_to_score(residents: Iterable[ResidentChoice], apartment: str | None) -> list[ResidentChoice]:
    """The apartment's residents when it has any, else everyone."""
    everyone = list(residents)
    if apartment:
        own = [resident for resident in everyone if resident.apartment.lstrip("0") == apartment.lstrip("0")]
        if own:
            return own
    return everyone


def phrase_owners(residents: Iterable[ResidentChoice]) -> dict[str, str]:
    """Phrase -> the key of the resident it names: full name, first name and aliases.

    A phrase two residents share ("Paulo" of two Paulos) names neither and is left out.
    """
    owners: dict[str, set[str]] = {}
    for resident in residents:
        first = resident.name.split()[:1]
        for phrase in dict.fromkeys([resident.name, *first, *resident.aliases]):
            if phrase.strip():
                owners.setdefault(phrase, set()).add(resident.key)
    return {phrase: keys.pop() for phrase, keys in owners.items() if len(keys) == 1}


def candidate_phrases(residents: Iterable[ResidentChoice], apartment: str | None) -> list[str]:
    """The phrases to send with "who?" (none when there are too many to score)."""
    scored = residents_to_score(residents, apartment)
    if len(scored) > MAX_CANDIDATE_PHRASES:  # a phrase each at least: too many (10,000 residents)
        return []
    phrases = list(phrase_owners(scored))
    return phrases if len(phrases) <= MAX_CANDIDATE_PHRASES else []


def ranked_residents(
    scores: Sequence[tuple[str, float]], residents: Iterable[ResidentChoice], apartment: str | None
) -> list[tuple[str, float]]:
    """(resident key, best score of its phrases), best first; phrases naming nobody are skipped."""
    return ranked_owners(scores, phrase_owners(residents_to_score(residents, apartment)))


def ranked_owners(scores: Sequence[tuple[str, float]], owners: Mapping[str, str]) -> list[tuple[str, float]]:
    """(owner, best score of its phrases), best first; phrases of no owner and non-finite scores skipped."""
    best: dict[str, float] = {}
    for phrase, score in scores:
        owner = owners.get(phrase)
        if owner is not None and math.isfinite(score) and score > best.get(owner, -math.inf):
            best[owner] = score
    return sorted(best.items(), key=lambda item: -item[1])


def heard_reading(
    ranked: Sequence[tuple[str, float]], exclude: Iterable[str] = (), answers: int = 1
) -> Reading:
    """The resident the ranking singles out, leaving out `exclude`: weak at most, or no reading.

    `ranked` may sum the scores of `answers` answers in a row (`summed_ranking`): the lead asked
    of them is then `HEARD_LEAD` × √answers, the lead the scores' noise reaches as rarely as one
    answer's reaches `HEARD_LEAD`, while a resident said every time leads by about `answers` times
    as much.
    """
    excluded = set(exclude)
    left = [(key, score) for key, score in ranked if key not in excluded]
    if not left:
        return Reading(None, strong=False, weak=False)
    key, top = left[0]
    lead = top - (left[1][1] if len(left) > 1 else 0.0)  # alone: its lead over silence
    answers = max(answers, 1)
    # The confidence is not the matcher's: the score put in 0..1 only for logs and spans.
    best = Interpretation(key, round(1.0 / (1.0 + math.exp(-top / answers)), 3), "")
    return Reading(
        best, strong=False, weak=top >= HEARD_MIN_SCORE and lead >= HEARD_LEAD * math.sqrt(answers)
    )


def summed_ranking(
    earlier: Sequence[tuple[str, float]], latest: Sequence[tuple[str, float]]
) -> list[tuple[str, float]]:
    """Two rankings of the same residents as one: each one's scores summed, best first.

    Only residents both ranked count (an apartment heard in between narrows the second); none
    shared, the latest alone. Why: "O Roberto." heard "Opa, meu Deus." twice, each answer's
    scores leaning to Roberto by less than `HEARD_LEAD`, ended at the keypad (make eval, seed 51).
    """
    before = dict(earlier)
    shared = [(key, before[key] + score) for key, score in latest if key in before]
    return sorted(shared, key=lambda item: -item[1]) if shared else list(latest)


def heard_resident(
    scores: Sequence[tuple[str, float]],
    residents: Iterable[ResidentChoice],
    apartment: str | None,
    exclude: Iterable[str] = (),
) -> Reading:
    """The resident the scores single out, as a weak reading (never strong), or no reading."""
    return heard_reading(ranked_residents(scores, residents, apartment), exclude)


def intent_phrases(words: Mapping[str, Sequence[str]]) -> list[str]:
    """The intent words to score with the greeting (the answers file's `intent_words`), each of
    one meaning only.

    A greeting's intent word is often garbled on the line ("É uma visita" heard "É a Minita",
    "Eu tô limita", "Minha imita") and the text matcher then leans the wrong way or nowhere, so
    the guess asked with whom to call ("É uma entrega para …?") was wrong and cost two or three
    turns (make eval, seed 51: 5 to 7 calls of 40 per condominium). The speech service scores
    each word at every word boundary of the greeting.
    """
    owners: dict[str, set[str]] = {}
    for meaning, phrases in words.items():
        for phrase in phrases:
            owners.setdefault(phrase, set()).add(meaning)
    return [phrase for phrase, meanings in owners.items() if len(meanings) == 1]


def heard_intent(scores: Sequence[tuple[str, float]], words: Mapping[str, Sequence[str]]) -> str | None:
    """The meaning whose best-scored word leads the other meanings' by `INTENT_HEARD_LEAD`, or None.

    Only ever the guess asked with whom to call, never an intent taken as said (core/confirming).
    """
    owner = {phrase: meaning for meaning, phrases in words.items() for phrase in phrases}
    ranked = ranked_owners(scores, owner)
    if not ranked or ranked[0][1] < HEARD_MIN_SCORE:
        return None
    runner_up = ranked[1][1] if len(ranked) > 1 else HEARD_MIN_SCORE
    return ranked[0][0] if ranked[0][1] - runner_up >= INTENT_HEARD_LEAD else None
