"""What drawing a model with the testing kit's strategies costs, per example.

Hypothesis' too-slow health check fails a test whose first examples take over
a second to draw, so ``st.lists(customers(), min_size=10)`` (about twenty
customers per example at first) needs a customer in a few milliseconds. The
figures are CPU milliseconds per drawn value (generation only, no shrinking),
and the choices hypothesis records per value (its early examples may hold five
times the choices of the simplest one).

Run: ``.venv/bin/python benchmarks/bench_strategies.py [--examples 300]``
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from crmcore.testing.strategies import (
    cases,
    customers,
    interactions,
    leads,
    opportunities,
    pipelines,
    tasks,
)


def measure(strategy: st.SearchStrategy[Any], examples: int) -> tuple[float, float]:
    """(CPU ms per drawn value, mean choices per value) over ``examples`` draws."""
    choices: list[int] = []

    @st.composite
    def counted(draw: st.DrawFn) -> Any:
        # The composite's draw is bound to hypothesis' ConjectureData, which counts choices.
        data: Any = getattr(draw, "__self__", None)
        before = len(data.choices) if data is not None else 0
        value = draw(strategy)
        if data is not None:
            choices.append(len(data.choices) - before)
        return value

    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(counted())
    def draw_them(value: Any) -> None:
        pass

    draw_them()  # warm-up: strategies build their caches on first use
    choices.clear()
    start = time.process_time()
    draw_them()
    elapsed = time.process_time() - start
    return elapsed / len(choices) * 1000, statistics.mean(choices)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--examples", type=int, default=300)
    args = parser.parse_args()
    print(f"{'model':<14} {'ms/value':>9} {'choices':>8}")
    for name, strategy in (
        ("customers", customers()),
        ("leads", leads()),
        ("interactions", interactions()),
        ("pipelines", pipelines()),
        ("opportunities", opportunities()),
        ("tasks", tasks()),
        ("cases", cases()),
    ):
        ms, choices = measure(strategy, args.examples)
        print(f"{name:<14} {ms:>9.2f} {choices:>8.0f}")


if __name__ == "__main__":
    main()
