"""Presentation: what a person reads (HTML tables, inline figures, report.html)."""
