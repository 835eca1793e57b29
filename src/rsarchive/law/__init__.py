"""The law the archive carries out, as configuration and clocks.

* :mod:`~rsarchive.law.basis` — instruments, rules (article, text, time limit), the responsible bodies,
  read from ``law/legal-basis.toml`` (:func:`load_basis`);
* :mod:`~rsarchive.law.periods` — when a time limit ends (working days, days, months, year end);
* :mod:`~rsarchive.law.calendar` — Vietnamese working days.
"""

from rsarchive.law.basis import Authority, Instrument, LegalBasis, Rule, load_basis
from rsarchive.law.periods import Period

__all__ = ["Authority", "Instrument", "LegalBasis", "Period", "Rule", "load_basis"]
