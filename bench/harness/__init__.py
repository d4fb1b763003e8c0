"""Timing, result checking, environment description and reporting for bench/run.py."""
