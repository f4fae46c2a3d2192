"""Human-facing reports: self-contained HTML (inline thumbnails and SVG charts, no JavaScript).

* :func:`render_analysis` — ``report.html`` of ``kadr analyse``;
* :func:`render_contact_sheet` — the contact sheet of ``kadr compare-shots``.
"""

from kadr.report.analysis import render_analysis
from kadr.report.contact_sheet import render_contact_sheet
from kadr.report.html import write_html

__all__ = ["render_analysis", "render_contact_sheet", "write_html"]
