"""`python -m porteiro_gateway`: run the gateway service."""

import gc

from porteiro_common.server import run_service
from porteiro_gateway.app import GatewayApp
from porteiro_gateway.settings import GatewaySettings

# The collector's young generation is collected every GC_YOUNG_THRESHOLD container allocations
# (Python's default: 700). Per-frame objects die young, freed by reference counting.
GC_YOUNG_THRESHOLD = 20_000


def keep_collections_short() -> None:
    """Keep garbage-collection pauses out of the 20 ms playback schedule.

    A full collection walks every container object of the process: with gRPC,
    protobuf and OpenTelemetry loaded, that stalled the loop for up to ~100 ms
    every few seconds at 300 calls. Objects alive now (modules, classes) are
    frozen, so collections never walk them; a larger young generation lets
    short-lived objects die before they are promoted, so full collections
    become rare.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 10)


def main() -> None:
    keep_collections_short()
    run_service("gateway", GatewaySettings, GatewayApp)


if __name__ == "__main__":
    main()
