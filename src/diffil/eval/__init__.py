"""Evaluation: metrics, plots and reports."""
