from decimal import Decimal

import pytest

from audit.cost import cost_usd, model_family


def test_the_seeds_example_costs_0_002103():
    cost, known = cost_usd(
        model="claude-3-5-haiku-20241022",
        input_tokens=140,
        output_tokens=346,
        cache_read_tokens=7589,
    )
    assert known
    assert cost == Decimal("0.002103")


def test_cache_writes_are_priced_at_the_seeds_one_dollar():
    cost, _ = cost_usd(model="claude-3-5-haiku-20241022", cache_write_tokens=1_000_000)
    assert cost == Decimal("1.000000")


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("claude-sonnet-4-5@20250929", "claude-sonnet-4-5"),
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5"),
        ("claude-opus-4-1-20250805", "claude-opus-4-1"),
        ("claude-opus-4-20250514", "claude-opus-4"),
        ("claude-3-7-sonnet-latest", "claude-3-7-sonnet"),
        ("claude-haiku-4-5", "claude-haiku-4-5"),
    ],
)
def test_dated_model_ids_use_their_familys_prices(model, family):
    assert model_family(model) == family
    assert cost_usd(model=model, input_tokens=1000) == cost_usd(model=family, input_tokens=1000)


@pytest.mark.parametrize(
    ("model", "million_in", "million_out"),
    [
        ("claude-opus-4-1", "15", "75"),
        ("claude-opus-4", "15", "75"),
        ("claude-sonnet-4-5", "3", "15"),
        ("claude-sonnet-4", "3", "15"),
        ("claude-haiku-4-5", "1", "5"),
        ("claude-3-7-sonnet", "3", "15"),
        ("claude-3-5-haiku-20241022", "0.8", "4"),
    ],
)
def test_current_claude_models_are_priced(model, million_in, million_out):
    assert cost_usd(model=model, input_tokens=1_000_000) == (Decimal(million_in), True)
    assert cost_usd(model=model, output_tokens=1_000_000) == (Decimal(million_out), True)


def test_opus_4_1_is_not_priced_as_opus_4_5():
    assert cost_usd(model="claude-opus-4-1", input_tokens=1_000_000)[0] == Decimal("15")
    assert cost_usd(model="claude-opus-4-5-20251101", input_tokens=1_000_000)[0] == Decimal("5")


@pytest.mark.parametrize("model", ["llama3.1:8b", "", "claude-unknown-9"])
def test_an_unknown_model_costs_nothing_and_says_so(model):
    assert cost_usd(model=model, input_tokens=5000, output_tokens=100) == (Decimal("0"), False)


def test_prices_added_in_settings_are_used(settings):
    settings.OMNI2_MODEL_PRICES = {
        **settings.OMNI2_MODEL_PRICES,
        "llama3.1:8b": {"input": "0.10", "output": "0.20"},
    }
    assert cost_usd(model="llama3.1:8b", input_tokens=10_000, output_tokens=10_000) == (
        Decimal("0.003000"),
        True,
    )
