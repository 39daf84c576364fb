"""The resident's answer, from natural pt-BR speech or the keypad.

Whole words and phrases only: "assim" or "Simone" is not "sim", "não pode
subir" is a refusal even though it contains "pode subir", and an answer that
says both yes and no is unclear (the flow asks once more).
"""

from __future__ import annotations

import re
from enum import StrEnum

from porteiro_common.ptbr import plain


class Decision(StrEnum):
    AUTHORIZE = "authorize"
    DENY = "deny"
    FRONT_DESK = "front_desk"
    UNCLEAR = "unclear"


# Idioms that contain "não" but mean yes.
_YES_IDIOMS = re.compile(r"\b(nao tem problema|nao ha problema|sem problema|nao precisa perguntar)\b")
# Doubts, not refusals ("não sei", "não entendi"): removed before looking for a "não".
_UNSURE = re.compile(r"\b(nao sei|nao entendi|nao ouvi|nao escutei|nao lembro)\b")
_FRONT_DESK = re.compile(
    r"\b(deix\w* (ai )?(na|com a) portaria|deix\w* (ai )?com o porteiro|(fica|ficar|guarda|guardar) na portaria|"
    r"deix\w* (ai )?embaixo|deix\w* (ai )?la embaixo|na portaria mesmo)\b"
)
_NO = re.compile(
    r"\b(nao|negativo|nunca|de jeito nenhum|nem pensar|recuso|nego|proibido|nao conheco|nao autorizo|"
    r"nao libera|nao pode|nao deixa|manda embora)\b"
)
_YES = re.compile(
    r"\b(sim|pode|libera\w*|autoriz\w*|manda subir|deixa subir|deixa entrar|claro|positivo|ok|okay|"
    r"tudo bem|com certeza|isso|pode ser|abre|abrir|pode abrir|estou esperando|to esperando)\b"
)
_KEYS = {"1": Decision.AUTHORIZE, "2": Decision.DENY}


def decide_from_text(text: str, delivery: bool) -> Decision:
    folded = plain(text)
    if delivery and _FRONT_DESK.search(folded):
        return Decision.FRONT_DESK
    yes_idiom = bool(_YES_IDIOMS.search(folded))
    folded = _UNSURE.sub(" ", _YES_IDIOMS.sub(" ", folded))
    said_no = bool(_NO.search(folded))
    # "não pode subir": remove negated yes-words before looking for a yes.
    without_negations = re.sub(r"\bnao (?:(?:pode|deixa|vou|quero|vai|precisa) )?\w+", " ", folded)
    said_yes = yes_idiom or bool(_YES.search(without_negations))
    if said_no and not said_yes:
        return Decision.DENY
    if said_yes and not said_no:
        return Decision.AUTHORIZE
    return Decision.UNCLEAR


def says_decision_words(text: str) -> bool:
    """True when the answer holds any yes, no, unsure or front-desk word: its reading is the one above,
    and an answer that is unclear with them stays unclear (no closer look may pick a side)."""
    folded = plain(text)
    return any(pattern.search(folded) for pattern in (_YES_IDIOMS, _UNSURE, _FRONT_DESK, _NO, _YES))


def decide_from_key(key: str, delivery: bool) -> Decision:
    if delivery and key == "3":
        return Decision.FRONT_DESK
    return _KEYS.get(key, Decision.UNCLEAR)
