"""People's names in pt-BR speech: honorifics, particles, cue phrases and words that are never names.

All word sets are folded (`folding.fold`: lower case, no accents); cue phrases are written as
spoken, with accents, because recognition hints are built from them too.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from porteiro_common.ptbr.folding import fold, plain

# Forms of address before a name: "dona Renata", "seu Carlos", "Sr. Daner", "Dra. Ana".
HONORIFICS = frozenset(
    {
        "dona",
        "dna",
        "seu",
        "sr",
        "sra",
        "srta",
        "senhor",
        "senhora",
        "senhorita",
        "doutor",
        "doutora",
        "dr",
        "dra",
        "professor",
        "professora",
        "prof",
        "profa",
    }
)
# Articles and name particles, which carry no identity: "a Renata", "o Carlos", "Daner dos Reis".
NAME_PARTICLES = frozenset({"a", "o", "as", "os", "da", "do", "das", "dos", "de", "e", "d"})


class Article(Enum):
    """Whether "o"/"a" comes between a cue phrase and the name."""

    NEVER = "never"  # "meu nome é João"
    OPTIONAL = "optional"  # "eu sou João", "eu sou o João"
    REQUIRED = "required"  # "aqui é o João" ("aqui é da entrega" names nobody)


@dataclass(frozen=True)
class NameCue:
    """A phrase a caller says right before their own name."""

    phrase: str
    article: Article

    def spoken_forms(self) -> list[str]:
        """The phrase as said before a name: "sou" (article required) -> ["sou o", "sou a"]."""
        with_article = [f"{self.phrase} o", f"{self.phrase} a"]
        if self.article is Article.NEVER:
            return [self.phrase]
        if self.article is Article.REQUIRED:
            return with_article
        return [self.phrase, *with_article]


# Longer phrases before the shorter ones they contain ("o meu nome é" before "meu nome é").
VISITOR_NAME_CUES = (
    NameCue("o meu nome é", Article.NEVER),
    NameCue("meu nome é", Article.NEVER),
    NameCue("me chamo", Article.NEVER),
    NameCue("pode me chamar de", Article.NEVER),
    NameCue("me chamam de", Article.NEVER),
    NameCue("me chama de", Article.NEVER),
    NameCue("aqui quem fala é", Article.OPTIONAL),
    NameCue("quem fala é", Article.OPTIONAL),
    NameCue("aqui é", Article.REQUIRED),
    NameCue("eu sou", Article.OPTIONAL),
    NameCue("sou", Article.REQUIRED),
)
# A sentence's first word is often one of the cues' words ("Sou", "Meu"): never a name.
NAME_CUE_WORDS = frozenset(word for cue in VISITOR_NAME_CUES for word in fold(cue.phrase).split())

# Words a caller says where a name could stand that are never a name: who they are
# ("entregador"), companies, pronouns and forms of address, fillers and questions.
NEVER_NAMES = NAME_CUE_WORDS | frozenset(
    (
        "entregador entregadora motoboy motorista visitante porteiro porteira amigo amiga cara rapaz moco "
        "moca funcionario funcionaria tecnico tecnica carteiro carteira prestador ifood correios mercado "
        "livre sedex rappi loggi amazon shopee magalu delivery pedido portaria eu ele ela voce senhor "
        "senhora dona seu apartamento entrega encomenda visita pizza minha "
        # Who they are to the resident: "sou a prima dele, meu nome é Joana", "sou a Carla, irmã da Mariana".
        "prima primo irma irmao tia tio filha filho mae pai sobrinha sobrinho neta neto avo namorada "
        "namorado esposa marido noiva noivo vizinha vizinho colega cunhada cunhado parente convidado "
        "convidada dele dela "
        # Answers and authorization talk: "sim, pode subir", "autorizado" are nobody's name.
        "sim nao pode subir autorizado autorizada autorizo autoriza liberado liberada libera liberar entrar "
        "negativo positivo claro "
        # Fillers and questions a misheard or puzzled caller says.
        "hum hm hmm humm ahn an ah eh hein ue opa alo como quem qual onde quando pronto certo ok isso "
        "beleza desculpa desculpe oque"
    ).split()
)


def name_words(text: str) -> list[str]:
    """The words of a person's name that identify them ("Dona Renata d'Ávila" -> renata, avila)."""
    return [word for word in plain(text).split() if word not in HONORIFICS and word not in NAME_PARTICLES]
