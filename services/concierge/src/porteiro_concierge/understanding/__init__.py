"""Understanding an answer from what was asked: closed sets, confidences, readings.

`matcher.ClosedSet` scores a transcript against the answers a question admits;
`sets.Understanding` builds those sets from the directory's vocabulary and the answers file
(`porteiro_common/data/answers.pt-BR.yaml`) and reads each kind of answer.
"""

from porteiro_concierge.understanding.matcher import Choice, ClosedSet, Interpretation
from porteiro_concierge.understanding.sets import Answers, Reading, ResidentChoice, Understanding

__all__ = [
    "Answers",
    "Choice",
    "ClosedSet",
    "Interpretation",
    "Reading",
    "ResidentChoice",
    "Understanding",
]
