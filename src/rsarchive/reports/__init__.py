"""Reports the law asks of the archive: the yearly publication of the national metadata
(Decree 03/2019/NĐ-CP, Art. 18.1, Form 01) -- :func:`yearly_report` gathers it,
:func:`write_yearly` writes the spreadsheet and the PDF."""

from rsarchive.reports.form01 import write_yearly
from rsarchive.reports.yearly import COLUMNS, Form01Row, YearlyReport, yearly_report

__all__ = ["COLUMNS", "Form01Row", "YearlyReport", "write_yearly", "yearly_report"]
