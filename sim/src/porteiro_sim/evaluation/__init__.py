"""The voice-level evaluation (`make eval`, `porteiro-eval`): seeded persona calls through the real stack.

- `personas`: who calls (drawn with a seed from the directory file in use);
- `phrasing`: how they say things (natural pt-BR phrasings; `numbers`: spoken numbers);
- `voices`: espeak-ng voices and rates, telephone-band noise, recordings;
- `questions`: which question the system asked;
- `calls`: one call through the visitor port and the PBX simulator;
- `scoring`, `report`: the figures, as text and JSON; `run`: the command.
"""
