from __future__ import annotations

import pytest

from porteiro_common.prompts import PromptsError, fixed_sentences, is_fixed, load_prompts


def test_default_prompts_have_greeting_and_fallback():
    prompts = load_prompts()
    assert prompts["greeting"].startswith("Condomínio Apoena")
    assert prompts["fallback"] in fixed_sentences(prompts)


def test_placeholders_are_not_fixed():
    assert is_fixed("Aguarde, por favor.")
    assert not is_fixed("Vou chamar {resident_name}.")


def test_broken_prompts_file_names_the_key(tmp_path):
    bad = tmp_path / "prompts.yaml"
    bad.write_text("greeting: ''\n")
    with pytest.raises(PromptsError, match="greeting"):
        load_prompts(bad)
    with pytest.raises(PromptsError, match="cannot read"):
        load_prompts(tmp_path / "missing.yaml")
