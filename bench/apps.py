from django.apps import AppConfig


class BenchConfig(AppConfig):
    """Benchmark tooling (no models): `manage.py bench_load_fixture`."""

    name = "bench"
    verbose_name = "Benchmarks"
