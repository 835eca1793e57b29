"""E-mail notifications (issue #23): notices rendered from Jinja2 templates (Vietnamese first,
English second), queued in the ``mail_outbox`` table with what they tell about, and sent
afterwards through SMTP with retries, so a failing mail server never fails the work itself.

* :func:`queue` renders a template and queues the message on an open connection;
* :func:`drain` sends what is due from the outbox (``rsarchive scheduler`` calls it every tick).
"""

from rsarchive.notify.outbox import OPERATORS, Attachment, DrainReport, drain, queue
from rsarchive.notify.templates import render

__all__ = ["OPERATORS", "Attachment", "DrainReport", "drain", "queue", "render"]
