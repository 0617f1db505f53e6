"""Benchmarks of amu-bot, run by hand (see bench/README.md); never collected by pytest."""
