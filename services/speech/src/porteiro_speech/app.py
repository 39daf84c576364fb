"""Wires the speech service into the shared runtime."""

from porteiro_common.server import ServiceApp

from porteiro_speech.settings import SpeechSettings


class SpeechApp(ServiceApp[SpeechSettings]):
    service_names = ("porteiro.speech.v1.SpeechService",)
