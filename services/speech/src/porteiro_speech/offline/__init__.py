"""Offline backends: faster-whisper (recognition) and espeak-ng (synthesis)."""
