"""Number words as Brazilians say them, folded (no accents, lower case).

Cardinals with the spellings speech recognition produces ("catorze"/"quatorze",
"dezesseis"/"dezasseis"/"dezeseis", "cinquenta"/"cincoenta") and feminine hundreds
("duzentas"); "meia" (from "meia dúzia") is six, the way numbers are dictated on the phone
("cinco meia dois" = 562). `DIGIT_WORDS` are the words of digit-by-digit dictation.

Only the tables live here; how a run of these words becomes a number is the directory's
(`porteiro_directory.spoken_numbers`).
"""

from __future__ import annotations

# One digit each ("um"/"uma", "dois"/"duas": both genders; "meia" = 6 in dictation).
UNITS = {
    "um": 1,
    "uma": 1,
    "dois": 2,
    "duas": 2,
    "tres": 3,
    "quatro": 4,
    "cinco": 5,
    "seis": 6,
    "meia": 6,
    "sete": 7,
    "oito": 8,
    "nove": 9,
}
TEENS = {
    "dez": 10,
    "onze": 11,
    "doze": 12,
    "treze": 13,
    "catorze": 14,
    "quatorze": 14,
    "quinze": 15,
    "dezesseis": 16,
    "dezasseis": 16,
    "dezeseis": 16,
    "dezessete": 17,
    "dezassete": 17,
    "dezoito": 18,
    "dezenove": 19,
    "dezanove": 19,
}
TENS = {
    "vinte": 20,
    "trinta": 30,
    "quarenta": 40,
    "cinquenta": 50,
    "cincoenta": 50,
    "sessenta": 60,
    "setenta": 70,
    "oitenta": 80,
    "noventa": 90,
}
# "cento" starts 101-199 ("cento e um"); exactly 100 is HUNDRED_EXACT ("cem").
HUNDREDS = {
    "cento": 100,
    "duzentos": 200,
    "duzentas": 200,
    "trezentos": 300,
    "trezentas": 300,
    "quatrocentos": 400,
    "quatrocentas": 400,
    "quinhentos": 500,
    "quinhentas": 500,
    "seiscentos": 600,
    "seiscentas": 600,
    "setecentos": 700,
    "setecentas": 700,
    "oitocentos": 800,
    "oitocentas": 800,
    "novecentos": 900,
    "novecentas": 900,
}
ZERO = "zero"
HUNDRED_EXACT = "cem"
THOUSAND = "mil"

# Digit-by-digit dictation: "cinco zero um", "cinco meia dois".
DIGIT_WORDS = {ZERO: 0, **UNITS}
NUMBER_WORDS = frozenset([*UNITS, *TEENS, *TENS, *HUNDREDS, ZERO, HUNDRED_EXACT, THOUSAND])
