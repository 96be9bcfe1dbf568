"""Benchmark scripts and the synthetic data generator they share with the tests."""
