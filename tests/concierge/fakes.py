"""Fakes of the concierge's dependencies: real grpc.aio servicers of the real protos.

`FakeDirectory` answers from a few apartments of the sample condominium with
rapidfuzz (the conversation scenarios run against the real directory; these fakes serve the
extractor tests);
`FakeDialer` records every PlaceCall and can be told to fail. Either can be
switched "down" to answer UNAVAILABLE.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from rapidfuzz import fuzz

from porteiro.dialer.v1 import dialer_pb2, dialer_pb2_grpc
from porteiro.directory.v1 import directory_pb2, directory_pb2_grpc
from porteiro_common.ptbr import fold
from porteiro_common.ptbr.names import name_words as ptbr_name_words
from porteiro_common.ptbr.numbers import DIGIT_WORDS, HUNDREDS

# A subset of the sample condominium (fictional).
SAMPLE_APARTMENTS = {
    "101": (["Ana Beatriz Silva", "João Pedro Silva"], "sip:101@condominio.local"),
    "102": (["Carlos Oliveira"], "sip:102@condominio.local"),
    "302": (["Lucas Martins"], "sip:302@condominio.local"),
    "501": (["Renata Oliveira", "Daner dos Reis"], "sip:501@condominio.local"),
    "502": (["Vinícius Barros", "Marina Barros"], "sip:502@condominio.local"),
}
THRESHOLD = 75.0


def name_words(text: str) -> str:
    return " ".join(ptbr_name_words(text))


def parse_apartment(text: str) -> str | None:
    folded = fold(text)
    digits = re.search(r"\b(\d{2,4})\b", folded)
    if digits:
        return digits.group(1)
    words = re.findall(r"\w+", folded)
    for index, word in enumerate(words):
        if word in HUNDREDS:  # "quinhentos e um"
            rest = [w for w in words[index + 1 : index + 3] if w != "e"]
            unit = DIGIT_WORDS.get(rest[0], 0) if rest else 0
            return str(HUNDREDS[word] + unit)
    dictated = "".join(str(DIGIT_WORDS[word]) for word in words if word in DIGIT_WORDS)
    return dictated if len(dictated) >= 3 else None


@dataclass
class FakeDirectory(directory_pb2_grpc.DirectoryServiceServicer):
    down: bool = False
    calls: list[str] = field(default_factory=list)

    async def _check(self, context, method: str) -> None:
        self.calls.append(method)
        if self.down:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "directory data not loaded")

    def _score(self, heard: str, resident: str) -> float:
        heard_words, resident_words = name_words(heard), name_words(resident)
        if not heard_words:
            return 0.0
        return max(fuzz.token_set_ratio(heard_words, resident_words), fuzz.ratio(heard_words, resident_words))

    def _candidates(self, heard: str, apartments: list[str]) -> list[directory_pb2.Candidate]:
        found = [
            directory_pb2.Candidate(
                apartment=number,
                resident_name=name,
                destination=SAMPLE_APARTMENTS[number][1],
                score=self._score(heard, name),
            )
            for number in apartments
            for name in SAMPLE_APARTMENTS[number][0]
        ]
        return sorted(found, key=lambda candidate: -candidate.score)

    async def Resolve(self, request, context):  # noqa: N802
        await self._check(context, "Resolve")
        if not request.apartment.strip() and not request.resident_name.strip():
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "apartment or resident_name is required")
        apartment = parse_apartment(request.apartment) if request.apartment.strip() else None
        if request.apartment.strip() and apartment not in SAMPLE_APARTMENTS:
            return directory_pb2.ResolveResponse(
                status=directory_pb2.RESOLVE_STATUS_NO_APARTMENT, normalized_apartment=apartment or ""
            )
        candidates = self._candidates(
            request.resident_name, [apartment] if apartment else list(SAMPLE_APARTMENTS)
        )
        above = [candidate for candidate in candidates if candidate.score >= THRESHOLD]
        response = directory_pb2.ResolveResponse(normalized_apartment=apartment or "")
        if len(above) >= 2 and above[0].score - above[1].score < 5:
            response.status = directory_pb2.RESOLVE_STATUS_AMBIGUOUS
            response.candidates.extend(above)
        elif above:
            response.status = directory_pb2.RESOLVE_STATUS_MATCH
            response.match.CopyFrom(above[0])
        else:
            response.status = directory_pb2.RESOLVE_STATUS_NO_RESIDENT
            response.candidates.extend(candidates[:1] if apartment else [])
        return response

    async def SearchByName(self, request, context):  # noqa: N802
        await self._check(context, "SearchByName")
        found = [c for c in self._candidates(request.name, list(SAMPLE_APARTMENTS)) if c.score >= THRESHOLD]
        return directory_pb2.SearchByNameResponse(candidates=found[: request.limit or 5])

    async def ParseApartment(self, request, context):  # noqa: N802
        await self._check(context, "ParseApartment")
        apartment = parse_apartment(request.text)
        if apartment is None:
            return directory_pb2.ParseApartmentResponse(found=False)
        return directory_pb2.ParseApartmentResponse(
            found=True, apartment=apartment, exists=apartment in SAMPLE_APARTMENTS
        )

    async def GetApartment(self, request, context):  # noqa: N802
        await self._check(context, "GetApartment")
        number = parse_apartment(request.apartment)
        if number not in SAMPLE_APARTMENTS:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such apartment")
        residents, destination = SAMPLE_APARTMENTS[number]
        return directory_pb2.Apartment(
            number=number,
            destination=destination,
            residents=[directory_pb2.Resident(name=n) for n in residents],
        )

    async def ListApartments(self, request, context):  # noqa: N802
        await self._check(context, "ListApartments")
        return directory_pb2.ListApartmentsResponse(
            apartments=[
                directory_pb2.Apartment(
                    number=number,
                    destination=destination,
                    residents=[directory_pb2.Resident(name=n) for n in residents],
                )
                for number, (residents, destination) in SAMPLE_APARTMENTS.items()
            ]
        )

    async def ListVocabulary(self, request, context):  # noqa: N802
        await self._check(context, "ListVocabulary")
        names = [name for residents, _ in SAMPLE_APARTMENTS.values() for name in residents]
        return directory_pb2.ListVocabularyResponse(
            resident_names=names, apartment_numbers=list(SAMPLE_APARTMENTS)
        )


@dataclass
class FakeDialer(dialer_pb2_grpc.DialerServiceServicer):
    down: bool = False
    requests: list[dialer_pb2.PlaceCallRequest] = field(default_factory=list)
    placed: asyncio.Queue = field(default_factory=asyncio.Queue)
    cancels: list[dialer_pb2.CancelCallRequest] = field(default_factory=list)

    async def PlaceCall(self, request, context):  # noqa: N802
        if self.down:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "broker unreachable")
        if not request.destination or request.attempt < 1:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "destination and attempt >= 1 are required")
        duplicate = any(
            (r.session_id, r.attempt) == (request.session_id, request.attempt) for r in self.requests
        )
        if not duplicate:
            self.requests.append(request)
            self.placed.put_nowait(request)
        stamp = Timestamp()
        stamp.GetCurrentTime()
        return dialer_pb2.PlaceCallResponse(
            command_id=f"cmd-{request.session_id}-{request.attempt}", duplicate=duplicate, published_at=stamp
        )

    async def CancelCall(self, request, context):  # noqa: N802
        if self.down:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "broker unreachable")
        self.cancels.append(request)
        return dialer_pb2.CancelCallResponse(command_id=f"cmd-{request.session_id}-{request.attempt}")

    async def next_call(self, timeout: float = 5.0) -> dialer_pb2.PlaceCallRequest:  # noqa: ASYNC109 - test helper
        return await asyncio.wait_for(self.placed.get(), timeout)


async def serve_fakes(directory: FakeDirectory, dialer: FakeDialer) -> tuple[grpc.aio.Server, int]:
    """Both fakes on one loopback server with a free port."""
    server = grpc.aio.server()
    directory_pb2_grpc.add_DirectoryServiceServicer_to_server(directory, server)
    dialer_pb2_grpc.add_DialerServiceServicer_to_server(dialer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, port
