"""Conversation scripts through the real Converse stream (the real directory in process, a fake dialer)."""

from __future__ import annotations

import grpc
from prometheus_client import REGISTRY

from porteiro.common.v1 import common_pb2
from porteiro.directory.v1 import directory_pb2, directory_pb2_grpc
from tests.concierge.driver import fold


def outcomes(outcome: str) -> float:
    return REGISTRY.get_sample_value("porteiro_concierge_call_outcomes_total", {"outcome": outcome}) or 0.0


async def destination(concierge, apartment: str) -> str:
    """What the directory in use says the PBX dials for `apartment`."""
    async with grpc.aio.insecure_channel(concierge.app.settings.directory_target) as channel:
        found = await directory_pb2_grpc.DirectoryServiceStub(channel).GetApartment(
            directory_pb2.GetApartmentRequest(apartment=apartment), timeout=5
        )
    return found.destination


async def collect_delivery(concierge, fakes, session_id):
    """Visitor asks for a delivery to Renata (501) in one sentence; returns (visitor, call request)."""
    visitor = concierge.leg(session_id, "visitor")
    await visitor.start()
    await visitor.expect("Condomínio Apoena, em que posso ajudar?")
    await visitor.utter(
        "Boa tarde, aqui é o João, tenho uma entrega do Mercado Livre para a Renata do apartamento 501"
    )
    await visitor.expect("entrega para Renata Oliveira", "501", "aguarde")
    call = await fakes.dialer.next_call()
    return visitor, call


async def authorized_delivery(concierge, fakes, session_id):
    """`collect_delivery`, then the resident says "pode subir" and both legs are hung up."""
    visitor, _ = await collect_delivery(concierge, fakes, session_id)
    resident = concierge.leg(session_id, "resident")
    await resident.start()
    await resident.utter("pode subir")
    await visitor.expect_hangup()
    await resident.expect_hangup()


async def test_delivery_happy_path_in_one_sentence(concierge, fakes, session_id):
    before = outcomes("authorized")
    visitor, call = await collect_delivery(concierge, fakes, session_id)
    assert (call.session_id, call.destination, call.attempt) == (
        session_id,
        await destination(concierge, "501"),
        1,
    )
    assert call.context.intent == common_pb2.INTENT_DELIVERY and call.context.apartment == "501"

    resident = concierge.leg(session_id, "resident")
    traceparent = await resident.start()
    assert traceparent == await visitor.accepted
    brief = await resident.expect("João", "entrega", "501")
    assert "tecle 1 para sim, 2 para nao" in fold(brief)  # the keys the resident may press
    await visitor.expect("O morador atendeu")
    await resident.utter("Sim, pode subir.")
    await visitor.expect("autorizou", "pode subir")
    await resident.expect("liberada")
    await visitor.expect_hangup()
    await resident.expect_hangup()
    assert outcomes("authorized") == before + 1
    assert await concierge.app.store.load(session_id) is None  # cleaned up


async def test_visit_piecemeal_never_asks_what_is_known(concierge, fakes, session_id):
    visitor = concierge.leg(session_id, "visitor")
    await visitor.start()
    await visitor.expect("em que posso ajudar")
    await visitor.utter("Boa tarde")
    # No intent understood: guessed (a delivery) and asked with whom to call, later.
    await visitor.expect("Qual é o seu nome")
    await visitor.utter("Meu nome é Pedro Santos")
    await visitor.expect("apartamento e qual o nome do morador")
    await visitor.utter("apartamento 102")
    await visitor.expect("nome do morador")
    await visitor.utter("Carlos")
    await visitor.expect("É uma entrega para Carlos Oliveira, do 102?")
    await visitor.utter("Não, vim fazer uma visita")
    # The intent was what was wrong: whom is asked again alone before the call.
    await visitor.expect("Carlos Oliveira, do 102?")
    await visitor.utter("Sim")
    await visitor.expect("Pedro Santos", "visita para Carlos Oliveira", "102")
    call = await fakes.dialer.next_call()
    assert call.context.intent == common_pb2.INTENT_VISIT and call.destination == await destination(
        concierge, "102"
    )
    asked = [fold(text) for text in visitor.said]
    assert sum("e uma entrega" in text for text in asked) == 1
    assert sum("qual e o seu nome" in text for text in asked) == 1

    resident = concierge.leg(session_id, "resident")
    await resident.start()
    await resident.expect("Pedro Santos", "visita", "102")
    await resident.press("2")
    await visitor.expect("não autorizou")
    await visitor.expect_hangup()
    await resident.expect_hangup()


async def test_correction_of_the_apartment(concierge, fakes, session_id):
    visitor = concierge.leg(session_id, "visitor")
    await visitor.start()
    await visitor.utter("Meu nome é João, vim entregar uma encomenda para a Renata do 502")
    await visitor.expect("Não encontrei Renata no apartamento 502")
    await visitor.utter("Não, é o 501")
    await visitor.expect("entrega para Renata Oliveira, apartamento 501")
    assert (await fakes.dialer.next_call()).destination == await destination(concierge, "501")


async def test_unknown_apartment_twice_then_keypad(concierge, fakes, session_id):
    visitor = concierge.leg(session_id, "visitor")
    await visitor.start()
    await visitor.utter("Sou o João, entrega do iFood para o apartamento 909")
    await visitor.utter("Xavier")  # nobody's name: the number is kept, and not found
    await visitor.expect("Não encontrei o apartamento 909")
    await visitor.utter("É o 808")
    await visitor.expect("Qual é o nome completo do morador")  # by the name alone, once
    await visitor.utter("Xavier")
    await visitor.expect("digite o número do apartamento", "jogo da velha")
    await visitor.press("5*501#")  # "*" clears what was typed so far
    await visitor.expect("entrega para", "apartamento 501")  # a resident of the typed apartment
    call = await fakes.dialer.next_call()
    assert call.destination == await destination(concierge, "501")


async def test_keypad_apartment_is_trusted_when_the_name_was_misheard(concierge, fakes, session_id):
    visitor = concierge.leg(session_id, "visitor")
    await visitor.start()
    await visitor.utter("Aqui é a Maria, entrega para o apartamento 707")
    await visitor.utter("Xavier")
    await visitor.expect("Não encontrei o apartamento 707")
    await visitor.utter("apartamento 606")
    await visitor.utter("Xavier")  # "Qual é o nome do morador?": nobody's name
    await visitor.expect("jogo da velha")
    await visitor.press("302#")
    await visitor.expect("Lucas Martins", "302")
    assert (await fakes.dialer.next_call()).destination == await destination(concierge, "302")


async def test_two_residents_alike_are_confirmed_one_at_a_time(concierge, fakes, session_id):
    visitor = concierge.leg(session_id, "visitor")
    await visitor.start()
    await visitor.utter("Boa noite, meu nome é Pedro, vim visitar o senhor Oliveira")
    await visitor.expect("Carlos Oliveira, do 102?")  # the directory's first, as a yes or no
    await visitor.utter("Não.")
    await visitor.expect("Renata Oliveira, do 501?")  # the "não" asks the next at once
    await visitor.utter("Sim.")
    await visitor.expect("visita para Renata Oliveira, apartamento 501")
    assert (await fakes.dialer.next_call()).destination == await destination(concierge, "501")
    assert not any("mais de um morador" in text for text in visitor.said)


async def test_ambiguous_resident_asks_which(concierge_factory, fakes, session_id):
    concierge = await concierge_factory(confirm_options_up_to=1)  # two are read out, not confirmed in turn
    visitor = concierge.leg(session_id, "visitor")
    await visitor.start()
    await visitor.utter("Boa noite, meu nome é Pedro, vim visitar o senhor Oliveira")
    which = await visitor.expect("mais de um morador")
    assert "Renata Oliveira do 501" in which and "Carlos Oliveira do 102" in which
    assert " ou " in which, which  # the joiner keeps its spaces ("…do 501 ou Carlos…")
    await visitor.utter("O Carlos")
    # Chosen by the name alone: confirmed (make eval heard one offered name for the other).
    await visitor.expect("Carlos Oliveira, do 102?")
    await visitor.utter("Sim.")
    await visitor.expect("visita para Carlos Oliveira, apartamento 102")
    assert (await fakes.dialer.next_call()).destination == await destination(concierge, "102")


async def start_resident(concierge, fakes, session_id):
    visitor, _ = await collect_delivery(concierge, fakes, session_id)
    resident = concierge.leg(session_id, "resident")
    await resident.start()
    await resident.expect("João", "entrega")
    return visitor, resident


async def test_resident_no(concierge, fakes, session_id):
    before = outcomes("denied")
    visitor, resident = await start_resident(concierge, fakes, session_id)
    await resident.utter("Não conheço, não autorizo.")
    await visitor.expect("não autorizou")
    await resident.expect("não será liberada")
    await visitor.expect_hangup()
    await resident.expect_hangup()
    assert outcomes("denied") == before + 1


async def test_resident_leave_at_front_desk(concierge, fakes, session_id):
    before = outcomes("left_at_front_desk")
    visitor, resident = await start_resident(concierge, fakes, session_id)
    await resident.utter("Pode deixar na portaria, por favor")
    await visitor.expect("deixar a entrega na portaria")
    await visitor.expect_hangup()
    await resident.expect_hangup()
    assert outcomes("left_at_front_desk") == before + 1


async def test_resident_keypad_yes(concierge, fakes, session_id):
    visitor, resident = await start_resident(concierge, fakes, session_id)
    await resident.press("1")
    await visitor.expect("autorizou")
    await visitor.expect_hangup()


async def test_resident_unclear_twice_is_no_answer(concierge, fakes, session_id):
    visitor, resident = await start_resident(concierge, fakes, session_id)
    await resident.utter("Assim, hmm, quem é mesmo?")  # "assim" is not "sim"
    await resident.expect("não entendi")
    await resident.utter("Simone? Não sei")
    await resident.expect("Vou encerrar")
    await visitor.expect("Não consegui confirmar com o morador")
    await visitor.expect_hangup()
    await resident.expect_hangup()


async def test_no_answer_on_both_attempts(concierge_factory, fakes, session_id):
    # Timing in detail: test_core_timers.py (virtual time); here the leg's own timer, briefly.
    concierge = await concierge_factory(resident_connect_timeout_seconds=0.2)
    visitor, first = await collect_delivery(concierge, fakes, session_id)
    await visitor.expect("Vou tentar mais uma vez", timeout=5)
    second = await fakes.dialer.next_call(timeout=5)
    assert (first.attempt, second.attempt) == (1, 2)
    assert second.destination == first.destination
    await visitor.expect("Não consegui falar com o morador", timeout=5)
    await visitor.expect_hangup()
    assert fakes.dialer.placed.empty()  # no third attempt
    # The PBX connecting the resident late finds the call over.
    late = concierge.leg(session_id, "resident")
    await late.start()
    await late.expect("já foi encerrada")
    await late.expect_hangup()


async def test_visitor_hangs_up_while_resident_talks(concierge, fakes, session_id):
    before = outcomes("visitor_hung_up")
    visitor, resident = await start_resident(concierge, fakes, session_id)
    await visitor.hang_up()
    await resident.expect("O visitante desligou")
    await resident.expect_hangup()
    assert outcomes("visitor_hung_up") == before + 1
    assert await concierge.app.store.load(session_id) is None


async def test_visitor_hangs_up_while_resident_is_called(concierge, fakes, session_id):
    visitor, _ = await collect_delivery(concierge, fakes, session_id)
    await visitor.hang_up()
    await visitor.closed.wait()
    resident = concierge.leg(session_id, "resident")
    await resident.start()
    await resident.expect("já foi encerrada")
    await resident.expect_hangup()
    assert fakes.dialer.placed.empty()  # no retry for a visitor who left


async def test_resident_hangs_up_without_deciding(concierge, fakes, session_id):
    before = outcomes("resident_hung_up")
    visitor, resident = await start_resident(concierge, fakes, session_id)
    await resident.hang_up()
    await visitor.expect("O morador desligou sem responder")
    await visitor.expect_hangup()
    assert outcomes("resident_hung_up") == before + 1


async def test_dialer_unavailable_tells_the_visitor(concierge, fakes, session_id):
    fakes.dialer.down = True
    visitor = concierge.leg(session_id, "visitor")
    await visitor.start()
    await visitor.utter("Aqui é o João, entrega para a Renata do 501")
    await visitor.expect("Não consegui chamar o morador")
    await visitor.expect_hangup()


async def test_directory_down_apologizes_then_gives_up(concierge, fakes, directory, session_id):
    directory.down()
    visitor = concierge.leg(session_id, "visitor")
    await visitor.start()
    await visitor.expect("em que posso ajudar")
    await visitor.utter("Aqui é o João, entrega para a Renata do 501")
    await visitor.expect("não consegui consultar a lista de moradores")
    await directory.up(concierge)
    await visitor.utter("Para a Renata Oliveira do apartamento 501")
    await visitor.expect("entrega para Renata Oliveira")
    await fakes.dialer.next_call()


async def test_directory_down_for_good_ends_the_call(concierge, fakes, directory, session_id):
    directory.down()
    visitor = concierge.leg(session_id, "visitor")
    await visitor.start()
    await visitor.utter("Aqui é o João, entrega para a Renata do 501")
    await visitor.expect("não consegui consultar")
    await visitor.utter("Entrega para a Renata do 502")
    await visitor.expect("não consegui concluir o atendimento")
    await visitor.expect_hangup()


async def test_unknown_session_on_the_resident_port(concierge, session_id):
    resident = concierge.leg(session_id, "resident")
    assert await resident.start() == ""
    await resident.expect("já foi encerrada")
    await resident.expect_hangup()


async def test_a_name_heard_with_little_confidence_is_not_told_to_the_resident(concierge, fakes, session_id):
    """make eval (seed 61): "Fábio." came out "Apeu." (confidence 0.32): the visitor was greeted
    "Certo, Apeu" and the resident told "Apeu está na portaria"."""
    visitor = concierge.leg(session_id, "visitor")
    await visitor.start()
    await visitor.expect("em que posso ajudar")
    await visitor.utter("É uma entrega.")
    await visitor.expect("Qual é o seu nome")
    await visitor.utter("Meu nome é Apeu.", confidence=0.32)
    await visitor.expect("morador")
    await visitor.utter("Renata, do 501.")
    said = await visitor.expect("entrega para Renata Oliveira")
    assert "Apeu" not in said
    await fakes.dialer.next_call()
    resident = concierge.leg(session_id, "resident")
    await resident.start()
    brief = await resident.expect("Um entregador", "entrega", "501")
    assert "Apeu" not in brief
