"""Portuguese (pt-BR) as callers speak it, in one place for every service and test.

- `folding`: case and accent folding (`fold`, `plain`, `strip_accents`);
- `numbers`: number words, cardinals with their variants and "meia" for six, digit dictation;
- `names`: honorifics, name particles, the cue phrases before a caller's own name and the
  words that are never a name, and `name_words` (the words of a name that identify a person).
- `spoken`: numbers written out the ways a caller says them (`spoken_forms("501")`: digits,
  "quinhentos e um", "cinco zero um");
- `phonetic`: a phonetic key for pt-BR words as the recogniser spells them on an 8 kHz line
  (the concierge's closed-set matcher scores keys beside spellings).

The directory parses apartments and matches residents with these, the concierge's extractor
reads names and numbers in sentences with them, and the tests fold text the same way.
"""

from porteiro_common.ptbr.folding import fold, plain, strip_accents

__all__ = ["fold", "plain", "strip_accents"]
