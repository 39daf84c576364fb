"""`python -m porteiro_speech`: run the speech service."""

from porteiro_common.server import run_service

from porteiro_speech.app import SpeechApp
from porteiro_speech.settings import SpeechSettings


def main() -> None:
    run_service("speech", SpeechSettings, SpeechApp)


if __name__ == "__main__":
    main()
