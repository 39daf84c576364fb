"""`porteiro.directory.v1.DirectoryService` over the current directory snapshot."""

from __future__ import annotations

import time

import grpc
from opentelemetry import trace

from porteiro.directory.v1 import directory_pb2, directory_pb2_grpc
from porteiro_common.ptbr import plain
from porteiro_common.redaction import Redactor
from porteiro_common.stages import stage_span
from porteiro_common.tenants import DEFAULT_CONDOMINIUM
from porteiro_directory.data import Apartment
from porteiro_directory.matching import Candidate, Directory, Resolution
from porteiro_directory.metrics import RESOLVE_OUTCOMES, RESOLVE_SECONDS
from porteiro_directory.spoken_numbers import find_apartment
from porteiro_directory.store import DirectoryStore
from porteiro_directory.tenants import TenantDirectories

STATUS = {
    "MATCH": directory_pb2.RESOLVE_STATUS_MATCH,
    "AMBIGUOUS": directory_pb2.RESOLVE_STATUS_AMBIGUOUS,
    "NO_APARTMENT": directory_pb2.RESOLVE_STATUS_NO_APARTMENT,
    "NO_RESIDENT": directory_pb2.RESOLVE_STATUS_NO_RESIDENT,
}


# The span attribute naming the condominium a request was for (its id; not personal data).
CONDOMINIUM_ATTRIBUTE = "porteiro.condominium"

# SearchByName's page: `limit` 0 means the default; more than the maximum is INVALID_ARGUMENT.
DEFAULT_SEARCH_LIMIT = 5
MAX_SEARCH_LIMIT = 100


class InvalidRequest(ValueError):
    pass


class Refused(Exception):
    """The request's condominium cannot be served: the status and message to answer with."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# Resolve's outcome label for each refusal.
REFUSAL_OUTCOMES = {
    grpc.StatusCode.INVALID_ARGUMENT: "invalid",
    grpc.StatusCode.NOT_FOUND: "unknown_condominium",
    grpc.StatusCode.UNAVAILABLE: "unavailable",
}


def apartment_message(apartment: Apartment) -> directory_pb2.Apartment:
    return directory_pb2.Apartment(
        number=apartment.number,
        block=apartment.block,
        destination=apartment.destination,
        residents=[
            directory_pb2.Resident(name=resident.name, aliases=list(resident.aliases))
            for resident in apartment.residents
        ],
    )


def candidate_message(candidate: Candidate) -> directory_pb2.Candidate:
    return directory_pb2.Candidate(
        apartment=candidate.apartment.number,
        block=candidate.apartment.block,
        resident_name=candidate.resident.name,
        destination=candidate.apartment.destination,
        score=round(candidate.score, 1),
    )


def resolution_message(resolution: Resolution) -> directory_pb2.ResolveResponse:
    response = directory_pb2.ResolveResponse(
        status=STATUS[resolution.status],
        candidates=[candidate_message(candidate) for candidate in resolution.candidates],
        normalized_apartment=resolution.normalized_apartment,
    )
    if resolution.match is not None:
        response.match.CopyFrom(candidate_message(resolution.match))
    return response


class DirectoryServicer(directory_pb2_grpc.DirectoryServiceServicer):
    def __init__(
        self,
        store: DirectoryStore,
        max_text_length: int,
        redact: Redactor,
        tracer: trace.Tracer,
        tenants: TenantDirectories | None = None,
    ) -> None:
        # Without `tenants`, `store` is the one condominium (the `default` tenant).
        self.store = store
        self.tenants = tenants
        self.max_text_length = max_text_length
        self.redact = redact
        self.tracer = tracer

    # --- helpers ----------------------------------------------------------

    def _check_length(self, **fields: str) -> None:
        for name, value in fields.items():
            if len(value) > self.max_text_length:
                raise InvalidRequest(
                    f"{name} has {len(value)} characters; the limit is {self.max_text_length} "
                    "(PORTEIRO_DIRECTORY_MAX_TEXT_LENGTH)"
                )

    def _find(self, condominium: str) -> Directory:
        """The directory of the request's condominium ("" = default); raises Refused naming it."""
        if len(condominium) > self.max_text_length:
            raise Refused(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"condominium has {len(condominium)} characters; the limit is {self.max_text_length} "
                "(PORTEIRO_DIRECTORY_MAX_TEXT_LENGTH)",
            )
        condominium_id = condominium or DEFAULT_CONDOMINIUM
        trace.get_current_span().set_attribute(CONDOMINIUM_ATTRIBUTE, condominium_id)
        if self.tenants is None:
            if condominium_id != DEFAULT_CONDOMINIUM:
                raise Refused(
                    grpc.StatusCode.NOT_FOUND,
                    f"condominium {condominium_id!r} is not served here: this directory serves one "
                    f"condominium, {DEFAULT_CONDOMINIUM!r} (PORTEIRO_DIRECTORY_TENANTS_DIR is not set)",
                )
            if self.store.current is None:
                raise Refused(
                    grpc.StatusCode.UNAVAILABLE, f"directory data not loaded: {self.store.last_error}"
                )
            return self.store.current
        if not self.tenants.ready:
            raise Refused(
                grpc.StatusCode.UNAVAILABLE,
                f"the tenants folder has not been read yet: {self.tenants.registry.folder_error}",
            )
        tenant = self.tenants.get(condominium_id)
        if tenant is None:
            problem = self.tenants.problem(condominium_id)
            why = f": its data was rejected: {problem}" if problem else ""
            raise Refused(
                grpc.StatusCode.NOT_FOUND, f"condominium {condominium_id!r} is not served here{why}"
            )
        return tenant.data

    async def _directory(self, context: grpc.aio.ServicerContext, condominium: str) -> Directory:
        try:
            return self._find(condominium)
        except Refused as refused:
            await context.abort(refused.code, refused.message)
            raise  # not reached: abort raises

    # --- RPCs -------------------------------------------------------------

    async def Resolve(  # noqa: N802 - gRPC method name
        self, request: directory_pb2.ResolveRequest, context: grpc.aio.ServicerContext
    ) -> directory_pb2.ResolveResponse:
        began = time.perf_counter()
        try:
            self._check_length(
                apartment=request.apartment, resident_name=request.resident_name, block=request.block
            )
            if not plain(request.apartment) and not plain(request.resident_name):
                raise InvalidRequest("apartment and resident_name are both empty: give at least one")
        except InvalidRequest as error:
            RESOLVE_OUTCOMES.labels(status="invalid").inc()
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        try:
            directory = self._find(request.condominium)
        except Refused as refused:
            RESOLVE_OUTCOMES.labels(status=REFUSAL_OUTCOMES[refused.code]).inc()
            await context.abort(refused.code, refused.message)
        with stage_span(
            self.tracer,
            "FUZZY_VALIDATION",
            {
                "porteiro.resident_name": self.redact(request.resident_name),
                CONDOMINIUM_ATTRIBUTE: request.condominium or DEFAULT_CONDOMINIUM,
            },
        ) as span:
            resolution = directory.resolve(request.apartment, request.resident_name, request.block)
            best = resolution.match or (resolution.candidates[0] if resolution.candidates else None)
            span.set_attribute("outcome", resolution.status.lower())
            span.set_attribute("score", round(best.score, 1) if best else 0.0)
            span.set_attribute("porteiro.apartment", self.redact(resolution.normalized_apartment))
            span.set_attribute("porteiro.candidates", len(resolution.candidates))
            if resolution.match is not None:
                span.set_attribute("porteiro.match", self.redact(resolution.match.resident.name))
        RESOLVE_OUTCOMES.labels(status=resolution.status.lower()).inc()
        RESOLVE_SECONDS.observe(time.perf_counter() - began)
        return resolution_message(resolution)

    async def SearchByName(  # noqa: N802 - gRPC method name
        self, request: directory_pb2.SearchByNameRequest, context: grpc.aio.ServicerContext
    ) -> directory_pb2.SearchByNameResponse:
        try:
            self._check_length(name=request.name)
            if request.limit > MAX_SEARCH_LIMIT:
                raise InvalidRequest(
                    f"limit is {request.limit}; it must be at most {MAX_SEARCH_LIMIT} "
                    f"(0 means {DEFAULT_SEARCH_LIMIT})"
                )
            if not plain(request.name):
                raise InvalidRequest("name is empty")
        except InvalidRequest as error:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        directory = await self._directory(context, request.condominium)
        limit = request.limit or DEFAULT_SEARCH_LIMIT
        found = directory.search(request.name, limit=limit)
        return directory_pb2.SearchByNameResponse(candidates=[candidate_message(c) for c in found])

    async def GetApartment(  # noqa: N802 - gRPC method name
        self, request: directory_pb2.GetApartmentRequest, context: grpc.aio.ServicerContext
    ) -> directory_pb2.Apartment:
        try:
            self._check_length(apartment=request.apartment, block=request.block)
            if not plain(request.apartment):
                raise InvalidRequest("apartment is empty")
        except InvalidRequest as error:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        directory = await self._directory(context, request.condominium)
        number, block = directory.understand_apartment(request.apartment, request.block)
        found = directory.find_apartments(number, block)
        where = f"apartment {number}" if number else f"apartment {request.apartment!r}"
        where += f" in block {block}" if block else ""
        if not found:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"{where} is not in the directory")
        if len(found) > 1:
            blocks = ", ".join(sorted(apartment.block for apartment in found))
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"{where} exists in blocks {blocks}: give the block"
            )
        return apartment_message(found[0])

    async def ListApartments(  # noqa: N802 - gRPC method name
        self, request: directory_pb2.ListApartmentsRequest, context: grpc.aio.ServicerContext
    ) -> directory_pb2.ListApartmentsResponse:
        directory = await self._directory(context, request.condominium)
        return directory_pb2.ListApartmentsResponse(
            apartments=[apartment_message(apartment) for apartment in directory.apartments]
        )

    async def ListVocabulary(  # noqa: N802 - gRPC method name
        self, request: directory_pb2.ListVocabularyRequest, context: grpc.aio.ServicerContext
    ) -> directory_pb2.ListVocabularyResponse:
        directory = await self._directory(context, request.condominium)
        names: dict[str, None] = {}
        numbers: dict[str, None] = {}
        for apartment in directory.apartments:
            numbers[apartment.number] = None
            for resident in apartment.residents:
                names[resident.name] = None
                names.update(dict.fromkeys(resident.aliases))
        for apartment in directory.apartments:
            if apartment.block:
                numbers[apartment.block] = None
        return directory_pb2.ListVocabularyResponse(
            resident_names=list(names), apartment_numbers=list(numbers)
        )

    async def ParseApartment(  # noqa: N802 - gRPC method name
        self, request: directory_pb2.ParseApartmentRequest, context: grpc.aio.ServicerContext
    ) -> directory_pb2.ParseApartmentResponse:
        try:
            self._check_length(text=request.text)
            if not plain(request.text):
                raise InvalidRequest("text is empty")
        except InvalidRequest as error:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        directory = await self._directory(context, request.condominium)
        parsed = find_apartment(request.text, exists=directory.number_exists)
        if parsed is None or not parsed.number:
            return directory_pb2.ParseApartmentResponse(found=False, block=parsed.block if parsed else "")
        return directory_pb2.ParseApartmentResponse(
            found=True,
            apartment=parsed.number,
            block=parsed.block,
            exists=directory.number_exists(parsed.number, parsed.block),
        )
