"""Reporters: they read a campaign result and write it somewhere; they never drive a campaign."""

from __future__ import annotations

from isolation_fuzz.report.progress import ProgressBar
from isolation_fuzz.report.text import format_result

__all__ = ["ProgressBar", "format_result"]
