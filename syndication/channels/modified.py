"""Last-Modified for a representation changed at a full-precision instant: the change time
rounded up to the whole second, given out and honoured only once that second is past.

HTTP dates have whole seconds. Printed rounded down (12:00:00 for a change at 12:00:00.4),
two changes within one second share a date, so a client that fetched between them and
revalidates with If-Modified-Since alone gets a 304 for a document it has never seen. Hence:

- The date is the change rounded up (12:00:01): "not modified since D" is then the plain
  comparison Last-Modified <= D, and it means the change happened before D.
- That date goes out (and a client's date is honoured) only once the clock has passed it: any
  later change then falls after it and moves it. Until then (at most a second after a change) a
  200 carries no Last-Modified and If-Modified-Since is ignored; the ETag still validates. This
  also keeps Last-Modified no later than the response's own Date (RFC 9110 8.8.2.1), and it is
  the condition under which RFC 9110 8.8.2.2 calls a date a strong validator.
- A cache that sends the Date of its copy instead (RFC 9111 allows it when there was no
  Last-Modified) gets a 200 while its date is within the change's second: the change is later
  than the start of that second. A 304 needs the change to precede the date the client sent.

The feed documents print the same rounded-up instant (RSS lastBuildDate, Atom feed updated),
so they and Last-Modified agree; entries keep their own, earlier, times.

Rejected: comparing the client's date with the full-precision change time while printing it
rounded down (a change at 12:00:00.4 is never "not modified since 12:00:00", so a client
revalidating by date alone would never get a 304 again).
"""

from __future__ import annotations

from datetime import datetime, timedelta

_SECOND = timedelta(seconds=1)


def http_instant(changed_at: datetime) -> datetime:
    """`changed_at` rounded up to a whole second: the Last-Modified of what it changed."""
    whole = changed_at.replace(microsecond=0)
    return whole if whole == changed_at else whole + _SECOND


def date_settled(last_modified: datetime, now: datetime) -> bool:
    """Whether a Last-Modified of `last_modified` (an http_instant) may be sent and trusted at
    `now`: once the clock has passed it, so no change still to come can be dated at or before
    it."""
    return now > last_modified
