"""Reading ``/metrics`` in tests: every sample by name and labels, and the change between two."""

from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, tuple], float]


def scrape(client, **headers) -> Samples:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    return parse(response.content.decode())


def parse(text: str) -> Samples:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def delta(before: Samples, after: Samples, name: str, **labels) -> float:
    return round(value(after, name, **labels) - value(before, name, **labels), 9)
