"""`python -m porteiro_speech`: run the speech service."""

import os

# espeak-ng runs as a child process per sentence; it execs at once, so gRPC's fork
# handlers are useless work (and log a line per spawn). Must be set before grpc loads.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

from porteiro_common.server import run_service  # noqa: E402
from porteiro_speech.app import SpeechApp  # noqa: E402
from porteiro_speech.settings import SpeechSettings  # noqa: E402


def main() -> None:
    run_service("speech", SpeechSettings, SpeechApp)


if __name__ == "__main__":
    main()
