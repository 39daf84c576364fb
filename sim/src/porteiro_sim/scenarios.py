"""The calls `make demo`, the end-to-end tests and the bench play.

A scenario says what the visitor answers to each question (by prompt key, from the
prompts file), how the resident behaves, and which final sentence the visitor must
hear for the call to count as a success.
"""

from __future__ import annotations

from dataclasses import dataclass

from porteiro_sim.script import AwaitHangUp, Converse, HangUp, Step, UntilEvent

VISITOR_OUTCOMES = frozenset(
    {
        "visitor_authorized_delivery",
        "visitor_authorized_visit",
        "visitor_denied",
        "visitor_left_at_front_desk",
        "visitor_no_answer",
        "visitor_unclear_answer",
        "visitor_resident_hung_up",
        "visitor_resident_lost",
        "visitor_dialer_unavailable",
        "visitor_failed",
        "visitor_silent",
        "fallback",
    }
)
RESIDENT_ENDINGS = frozenset(
    {
        "resident_ack_authorized",
        "resident_ack_denied",
        "resident_ack_left_at_front_desk",
        "resident_no_answer",
        "resident_visitor_hung_up",
        "resident_visitor_lost",
        "resident_unknown_call",
    }
)

# The simulated callers' synthetic voice for runs on the real offline recogniser: espeak-ng like
# the system's, another variant and pace, the one whisper base understood best for the lines
# below over the 8 kHz line (measured: sim/README.md).
CALLER_VOICE, CALLER_WORDS_PER_MINUTE = "pt-br+m3", 150

# The sample condominium's apartment 501 (fictional residents).
VALUES = {"visitor_name": "Pedro", "apartment": "501", "resident_name": "Renata Oliveira"}


# What the visitor says for each intent: the first line answers the greeting, then one line
# per "É uma entrega ou uma visita?" (a visitor not understood rephrases). Phrasings people say.
# With this voice (CALLER_VOICE) whisper base heard "É visita." as "É uma visita." and "É uma
# entrega." as "Encomenda." (make demo); over make eval's four voices no visit phrasing comes
# through reliably (README, "Which phrasings come through"), which is why the concierge asks an
# intent it did not understand with whom to call ("É uma entrega para Renata Oliveira, do 501?")
# or alone ("É uma entrega?"), as a yes or no answered below.
INTENT_LINES = {
    "Entrega": ("É uma entrega.", "Entrega."),
    "Visita": ("É visita.", "Sou amiga.", "É uma visita."),
}


def visitor_answers(
    intent: str, apartment: str = "501", resident: str = "Renata Oliveira", spoken_apartment: bool = True
) -> dict:
    """What the visitor answers to each question, by prompt key.

    `intent` is "Entrega" or "Visita" (see INTENT_LINES). With `spoken_apartment` False
    the apartment is keyed in ("#501#") instead of said: espeak-ng's numbers are rarely
    recognised by the offline recogniser. An empty `apartment`: the visitor does not know it.
    """
    # The full name: whisper base heard espeak-ng's "Renata." alone as "Gerata." (make demo), and
    # first names came through half as often as full names in make eval (README, phrasings table).
    resident_line = f"{resident}."
    if not apartment:  # the visitor does not know the apartment: only the resident's name
        apartment_line, both = resident_line, resident_line
    elif spoken_apartment:
        apartment_line, both = f"Apartamento {apartment}.", f"Apartamento {apartment}, {resident_line}"
    else:
        apartment_line, both = f"#{apartment}#", resident_line
    intent_lines = INTENT_LINES.get(intent, (f"{intent}.",))
    return {
        "greeting": intent_lines[0],
        "ask_intent": intent_lines[1:] or intent_lines,
        "ask_visitor_name": f"Meu nome é {VALUES['visitor_name']}.",
        "ask_apartment": apartment_line,
        "no_apartment": apartment_line,
        "ask_resident": resident_line,
        "ask_resident_full_name": resident_line,
        "no_resident": resident_line,
        "ambiguous_resident": resident_line,
        "ask_apartment_and_resident": both,
        "no_resident_anywhere": both,
        "directory_unavailable": both,
        "offer_keypad": "#501#",
        "keypad_no_apartment": "#501#",
        # "Renata Oliveira, do 501?": a match by the name alone (or a weak reading) is confirmed
        # first. The prompts are filled with VALUES, so only this scenario's resident is identified.
        "confirm_resident": "Sim.",
        "confirm_apartment": "Sim.",
        # The intent not understood, asked as a yes or no.
        "confirm_intent_delivery": "Sim." if intent == "Entrega" else "Não.",
        "confirm_intent_visit": "Sim." if intent == "Visita" else "Não.",
        # The same asked with whom to call ("É uma entrega para Renata Oliveira, do 501?").
        "confirm_resident_delivery": "Sim." if intent == "Entrega" else "Não.",
        "confirm_resident_visit": "Sim." if intent == "Visita" else "Não.",
    }


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    intent: str  # "Entrega" or "Visita" (what the visitor says: INTENT_LINES)
    resident_line: str | None  # what the resident answers ("#1" keys); None = never answers
    expected_visitor_outcome: str  # prompt key of the final sentence the visitor must hear
    expected_call_outcome: str  # the concierge's call-outcome label
    answer_attempts: frozenset[int] | None = None  # None = answers every attempt
    apartment: str = "501"  # as the visitor says it; "" = the visitor does not know it
    resident: str = "Renata Oliveira"  # as the visitor says it
    visitor_hangs_up_when_ringing: bool = False
    resident_retry_line: str | None = None  # what the resident says when asked again (default: the same)
    spoken_apartment: bool = True  # False: the visitor keys the apartment in (see visitor_answers)
    # What the visitor says to a reply the simulator cannot identify (None: nothing). The sentences
    # naming what the directory did not find carry the name as recognised, so they cannot be
    # synthesized beforehand: the visitor just repeats whom they are looking for.
    unidentified_reply_line: str | None = None

    def visitor_steps(self, final_timeout: float = 90.0) -> list[Step]:
        converse = Converse(
            visitor_answers(self.intent, self.apartment, self.resident, self.spoken_apartment),
            VISITOR_OUTCOMES,
            default=self.unidentified_reply_line,
            timeout=final_timeout,
            max_replies=16,
        )
        if not self.visitor_hangs_up_when_ringing:
            return [converse]
        # Answer until the PBX receives the click-to-call, then hang up.
        until_call = Converse(
            visitor_answers(self.intent, self.apartment, self.resident, self.spoken_apartment),
            VISITOR_OUTCOMES,
            default=self.unidentified_reply_line,
            timeout=final_timeout,
            max_replies=16,
        )
        return [UntilEvent(until_call, "resident-ringing"), HangUp()]

    def resident_steps(self) -> list[Step]:
        line = self.resident_line or ""
        again = self.resident_retry_line or line
        answers = {
            "resident_brief_delivery": line,
            "resident_brief_visit": line,
            "resident_ask_again": again,
            "resident_reprompt_silence": again,
        }
        return [Converse(answers, RESIDENT_ENDINGS, default=line, timeout=30.0), AwaitHangUp(10.0)]


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "delivery",
            "delivery; the resident says yes by voice",
            "Entrega",
            "Sim, pode subir.",
            "visitor_authorized_delivery",
            "authorized",
            resident_retry_line="#1",
        ),
        Scenario(
            "visit",
            "visit; the resident says yes by voice",
            "Visita",
            "Sim, pode subir.",
            "visitor_authorized_visit",
            "authorized",
            resident_retry_line="#1",
        ),
        Scenario(
            "denied",
            "visit; the resident says no",
            "Visita",
            "Não, não conheço.",
            "visitor_denied",
            "denied",
            resident_retry_line="#2",
        ),
        Scenario(
            "front-desk",
            "delivery; the resident says to leave it at the front desk",
            "Entrega",
            "Deixa na portaria.",
            "visitor_left_at_front_desk",
            "left_at_front_desk",
            resident_retry_line="#3",
        ),
        Scenario(
            "no-answer",
            "the resident answers neither attempt",
            "Entrega",
            None,
            "visitor_no_answer",
            "no_answer",
            answer_attempts=frozenset(),
        ),
        Scenario(
            "keypad",
            "a resident the directory does not know, twice; the apartment keyed in; resident presses 1",
            "Entrega",
            "#1",
            "visitor_authorized_delivery",
            "authorized",
            apartment="",
            resident="Washington Pereira",
            unidentified_reply_line="Washington Pereira.",
        ),
        Scenario(
            "visitor-hangs-up",
            "the visitor hangs up while the resident is being called",
            "Entrega",
            None,
            "",
            "visitor_hung_up",
            answer_attempts=frozenset(),
            visitor_hangs_up_when_ringing=True,
        ),
    )
}


def caller_lines(scenario: Scenario) -> list[str]:
    """Every sentence the visitor and the resident of `scenario` may say (keys excluded)."""
    lines: list[str] = []
    for answer in visitor_answers(
        scenario.intent, scenario.apartment, scenario.resident, scenario.spoken_apartment
    ).values():
        lines.extend((answer,) if isinstance(answer, str) else answer)
    if scenario.resident_line:
        lines.append(scenario.resident_line)
    return sorted({line for line in lines if not line.startswith("#")})
