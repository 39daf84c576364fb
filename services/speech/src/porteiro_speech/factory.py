"""Chooses the backends from settings: Azure when key and region are set, otherwise offline.

The Azure SDK is an extra (`porteiro-speech[azure]`); it is imported only when Azure is chosen.
"""

from __future__ import annotations

from porteiro_common.extras import require_extra
from porteiro_speech.azure_speech import SDK_MODULE, AzureRecognizer, AzureSynthesizer
from porteiro_speech.backends import Backends
from porteiro_speech.offline.espeak import EspeakSynthesizer
from porteiro_speech.offline.whisper import WhisperRecognizer
from porteiro_speech.settings import SpeechSettings


def build_backends(settings: SpeechSettings) -> Backends:
    """The backends the settings ask for; MissingExtra when Azure is configured but not installed."""
    if settings.azure_configured:
        require_extra(
            SDK_MODULE,
            distribution="porteiro-speech",
            extra="azure",
            needed_by="PORTEIRO_SPEECH_AZURE_KEY and PORTEIRO_SPEECH_AZURE_REGION are set",
        )
        assert settings.azure_key is not None and settings.azure_region is not None
        key, region = settings.azure_key.get_secret_value(), settings.azure_region
        return Backends(
            recognizer=AzureRecognizer(key, region, settings.azure_timeout_seconds),
            synthesizer=AzureSynthesizer(key, region, settings.azure_voice, settings.azure_timeout_seconds),
        )
    return Backends(
        recognizer=WhisperRecognizer(
            settings.whisper_model or None,
            workers=settings.stt_workers,
            compute_type=settings.whisper_compute_type,
            beam_size=settings.whisper_beam_size,
            cpu_threads=settings.whisper_cpu_threads,
            no_speech_threshold=settings.whisper_no_speech_threshold,
            window_margin_seconds=settings.whisper_window_margin_seconds,
        ),
        synthesizer=EspeakSynthesizer(
            settings.espeak_command,
            settings.espeak_voice,
            settings.espeak_speed_wpm,
            settings.synthesis_chunk_ms,
            word_gap=settings.espeak_word_gap,
            telephone=settings.tts_telephone_shaping,
        ),
    )
