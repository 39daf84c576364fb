"""The closed sets of a condominium with blocks and towers, from the real directory service.

make eval (blocks, seed 61): "Olá, é da Magalu para o bloco B, apartamento dois zero um." heard
"… do bloco bem, a mata menina do dois séries."; its "2" was taken for an apartment because the
vocabulary's numbers also hold the blocks' and towers' names ("A", "B", "2"), and "Não encontrei
o apartamento 2" cost the caller two turns.
"""

from __future__ import annotations

from porteiro_concierge.dependencies import DirectoryClient
from porteiro_concierge.hints import Vocabulary
from porteiro_concierge.understanding import Answers
from tests.directory.conftest import BLOCKS_FILE, directory_server


async def blocks_vocabulary() -> tuple[Vocabulary, list[str]]:
    async with directory_server(BLOCKS_FILE) as running:
        vocabulary = Vocabulary(DirectoryClient(f"127.0.0.1:{running.bound.port}", 5.0))
        await vocabulary.refresh()
        return vocabulary, list(vocabulary.apartments)


async def test_a_tower_number_is_not_an_apartment_but_stays_a_hint() -> None:
    vocabulary, hinted = await blocks_vocabulary()
    understanding = vocabulary.understanding(Answers.load())
    assert "2" in hinted and "B" in hinted  # whisper is still told "bloco B", "torre 2"
    assert understanding.unknown_apartment("2")
    assert understanding.fragment_of_apartment("2")  # a piece of "torre dois", dropped
    assert not understanding.unknown_apartment("1002")
    assert not understanding.unknown_apartment("12")  # an apartment with no residents is one


async def test_an_apartment_spoken_is_read_against_apartments_only() -> None:
    vocabulary, _ = await blocks_vocabulary()
    understanding = vocabulary.understanding(Answers.load())
    reading = understanding.apartment("torre dois")
    assert reading.best is None or reading.best.value != "2"
    reading = understanding.apartment("mil e dois")
    assert reading.strong and reading.best is not None and reading.best.value == "1002"
