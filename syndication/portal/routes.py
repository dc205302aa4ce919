"""The partner portal under /portal/: a partner's people (role "partner") see and manage their
own webhook endpoints and pull subscribers, and nothing else (WebSub subscriptions are not a
partner's: the hub's subscribers manage them by the protocol).

Thin views over the push services the admin uses (push/subscribers.py). Every view needs the
partner role (the guard refuses everyone else, the newsroom's admins included: the portal is
not theirs), and every subscriber or delivery is reached through partners.service's
`owned_subscriber` / `owned_delivery` first, in the same transaction as the action: another
partner's, the newsroom's and a missing one all answer the same 404.

Sign-in, session, CSRF: the admin's (auth/routes.py, the guard checks the token of every POST
made with the session cookie).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, request, url_for
from sqlalchemy.orm import Session

from syndication import inputs
from syndication.admin import forms
from syndication.admin.routes import render
from syndication.auth.access import requires
from syndication.auth.roles import PARTNER
from syndication.auth.session import current_principal
from syndication.errors import Conflict, NotFound, ServiceError, ValidationError
from syndication.models import Subscriber
from syndication.partners import service as partners
from syndication.push import outbox as push_outbox
from syndication.push import subscribers as push
from syndication.runtime import runtime

bp = Blueprint("portal", __name__, url_prefix="/portal")
PAGE_SIZE = 25
# The disable reason the admin sees for an endpoint a partner paused.
PAUSED = "paused by the partner ({name})"
# The kinds of subscriber a partner manages here: a pull subscriber has the same log, test,
# replay, recover, pause and events as a webhook, and no URL, secret or headers.
KINDS = (push.WEBHOOK, push.PULL)


def _partner_id() -> int:
    """The caller's partner (the guard let only the partner role in; a partner principal
    without one reaches nothing)."""
    principal = current_principal()
    if principal is None or principal.partner_id is None:
        abort(404)
    return principal.partner_id


def _owned(session: Session, subscriber_id: int) -> Subscriber:
    try:
        return partners.owned_subscriber(session, _partner_id(), subscriber_id, kinds=KINDS)
    except NotFound:
        abort(404)


def _back(subscriber_id: int) -> str:
    return url_for(".subscriber", subscriber_id=subscriber_id)


@bp.get("/")
@requires(PARTNER)
def index() -> Response:
    rt = runtime()
    with rt.db.read() as session:
        partner = partners.get_partner(session, _partner_id())
        rows = [
            (s, push.subscriber_health(session, s.id))
            for s in partners.subscribers_of(session, partner.id)
            if s.kind in KINDS
        ]
        return render(
            "portal/index.html", page_title="Your endpoints", partner=partner, subscribers=rows
        )


def _after() -> int | None:
    try:
        return inputs.row_id(request.args.get("after") or None, "bigint", runtime().db.is_sqlite)
    except ValueError:
        abort(400, "after is not a page boundary")


@bp.get("/subscribers/<int:subscriber_id>")
@requires(PARTNER)
def subscriber(subscriber_id: int) -> Response:
    """The endpoint's settings, health and delivery log (filtered by status)."""
    rt = runtime()
    after = _after()
    status = request.args.get("status", "").strip()
    if status and status not in push.STATUSES:
        abort(400, f"status must be one of {', '.join(push.STATUSES)}")
    with rt.db.read() as session:
        sub = _owned(session, subscriber_id)
        filters: dict[str, Any] = {"subscriber": sub.id, "status": status or None}
        rows, next_after = push.list_deliveries(session, filters, limit=PAGE_SIZE, after=after)
        log = [
            (push.delivery_to_dict(d, e), push.delivery_attempts(session, d.id)) for d, e in rows
        ]
        query = {"status": status} if status else {}
        return render(
            "portal/subscriber.html",
            page_title=f"Endpoint {sub.name}",
            subscriber=sub,
            health=push.subscriber_health(session, sub.id),
            deliveries=log,
            statuses=push.STATUSES,
            chosen=status,
            rotation=_rotation(sub),
            next_url=url_for(".subscriber", subscriber_id=sub.id, after=next_after, **query)
            if next_after
            else None,
            first_url=url_for(".subscriber", subscriber_id=sub.id, **query) if after else None,
        )


def _settings_form(sub: Subscriber, values: dict, errors: dict, status: int = 200) -> Response:
    return render(
        "portal/settings.html",
        status=status,
        page_title=f"Settings of {sub.name}",
        subscriber=sub,
        values=values,
        errors=errors,
        event_types=push_outbox.EVENT_TYPES,
    )


@bp.route("/subscribers/<int:subscriber_id>/settings", methods=["GET", "POST"])
@requires(PARTNER)
def settings(subscriber_id: int) -> Response:
    """Event types and custom headers: what a partner may change of its endpoint (its URL,
    stories and format stay the newsroom's)."""
    rt = runtime()
    with rt.db.read() as session:
        sub = _owned(session, subscriber_id)
        if request.method == "GET":
            stored = forms.subscriber_values(sub)
            values = {k: stored[k] for k in ("event_types", "headers")}
            return _settings_form(sub, values, {})
    if sub.kind == push.PULL:
        # Events only. Headers a hostile form adds go to the service as given, which refuses
        # any for a pull subscriber (the API's rule and message); empty is none, as the form.
        errors: dict[str, str] = {}
        data: dict[str, Any] = {
            "event_types": [e for e in request.form.getlist("event_types") if e]
        }
        raw = (request.form.get("headers") or "").strip()
        if raw:
            data["headers"] = raw
    else:
        data, errors = forms.partner_settings_data(request.form)
    values = forms.form_values(request.form, lists=("event_types",))
    try:
        with rt.db.write() as session:
            _owned(session, subscriber_id)  # again, in the transaction that writes
            if errors:
                push.clean_subscriber(data, partial=True)
                raise ValidationError(errors)
            push.update_subscriber(session, None, subscriber_id, data)
    except ServiceError as exc:
        errs = {**forms.subscriber_errors(exc), **errors}
        return _settings_form(sub, values, errs, status=422)
    flash("Settings saved.")
    return redirect(_back(subscriber_id), 303)


@bp.post("/subscribers/<int:subscriber_id>/test")
@requires(PARTNER)
def test(subscriber_id: int) -> Response:
    rt = runtime()
    with rt.db.write() as session:
        _owned(session, subscriber_id)
        delivery_id = push.send_test(session, subscriber_id, rt.clock()).id
    flash(f"Test ping queued (delivery {delivery_id}).")
    return redirect(_back(subscriber_id), 303)


@bp.post("/subscribers/<int:subscriber_id>/state")
@requires(PARTNER)
def state(subscriber_id: int) -> Response:
    """Pause (events meanwhile are kept as skipped, for Recover) or resume."""
    rt = runtime()
    pause = request.form.get("pause", "1") == "1"
    principal = current_principal()
    with rt.db.write() as session:
        _owned(session, subscriber_id)
        if pause:
            name = principal.name if principal is not None else "?"
            push.disable(session, subscriber_id, PAUSED.format(name=name))
        else:
            push.enable(session, subscriber_id)
    flash("Endpoint paused." if pause else "Endpoint resumed.")
    return redirect(_back(subscriber_id), 303)


@bp.post("/subscribers/<int:subscriber_id>/recover")
@requires(PARTNER)
def recover(subscriber_id: int) -> Response:
    """Send again what the endpoint missed since a local time (as the admin's Recover)."""
    rt = runtime()
    back = _back(subscriber_id)
    with rt.db.read() as session:
        _owned(session, subscriber_id)
    try:
        since = forms.parse_local(request.form.get("since"), rt.settings.tz)
    except ValueError as exc:
        flash(f"Nothing recovered: since {exc}.", "error")
        return redirect(back, 303)
    if since is None:
        flash("Nothing recovered: give the time to recover from.", "error")
        return redirect(back, 303)
    try:
        with rt.db.write() as session:
            _owned(session, subscriber_id)
            count = push.recover(session, subscriber_id, since, None, rt.clock())
    except ValidationError as exc:
        flash(f"Nothing recovered: {'; '.join(exc.fields.values())}.", "error")
        return redirect(back, 303)
    flash(f"{count} deliveries queued again, in the order their events came.")
    return redirect(back, 303)


def _rotation(sub: Subscriber) -> str:
    """Which secret a rotate form was shown for: the end of the last rotation's overlap (""
    before any). A form posted twice (a double click, a reload) carries a stale value and
    rotates nothing: a second rotation would retire the secret the partner still uses before
    it had copied the new one."""
    until = sub.previous_secret_until
    return until.isoformat() if until is not None else ""


@bp.route("/subscribers/<int:subscriber_id>/rotate-secret", methods=["GET", "POST"])
@requires(PARTNER)
def rotate(subscriber_id: int) -> Response:
    rt = runtime()
    back = _back(subscriber_id)
    with rt.db.read() as session:
        sub = _owned(session, subscriber_id)
        shown_for = _rotation(sub)
        name = sub.name
        if sub.kind == push.PULL:
            # Nothing to rotate: its partner's token is what authenticates its requests.
            return render(
                "portal/rotate.html",
                status=409,
                page_title="No secret to rotate",
                message=f"{name} is a pull subscriber: it has no signing secret. You fetch its "
                "events with your API token; to change that, ask the newsroom for a new token.",
                subscriber=sub,
                back=back,
                pull=True,
            )
    overlap = (
        f"The old one keeps signing too for {rt.settings.secret_overlap} seconds, so you can "
        "switch over without losing a message."
    )
    if request.method == "GET":
        return render(
            "portal/rotate.html",
            page_title="Rotate the secret?",
            message=f"A new signing secret is made and shown once. {overlap}",
            subscriber=sub,
            rotation=shown_for,
            back=back,
        )
    with rt.db.write() as session:
        sub = _owned(session, subscriber_id)
        if request.form.get("rotation") != _rotation(sub):
            return render(
                "portal/rotate.html",
                status=409,
                page_title="Already rotated",
                message="This secret was rotated since this form was shown (a second click, or "
                "a reload), so nothing was rotated now. The new secret was shown once, on the "
                "page that answered the first time. If you did not copy it, rotate again. "
                + overlap,
                subscriber=sub,
                rotation=_rotation(sub),
                back=back,
            )
        secret = push.rotate_secret(session, rt.settings, subscriber_id, rt.clock())
        until = sub.previous_secret_until
    # Shown once, on this response only (no redirect; render() says no-store).
    return render(
        "portal/secret.html",
        page_title="Secret rotated",
        subscriber={"id": subscriber_id, "name": name},
        secret=secret,
        rotated_until=until,
    )


@bp.post("/deliveries/<int:delivery_id>/replay")
@requires(PARTNER)
def replay(delivery_id: int) -> Response:
    rt = runtime()
    try:
        with rt.db.write() as session:
            delivery = partners.owned_delivery(session, _partner_id(), delivery_id, kinds=KINDS)
            subscriber_id = delivery.subscriber_id
            push.replay_delivery(session, delivery_id, rt.clock())
    except NotFound:
        abort(404)
    except Conflict as exc:
        flash(f"Delivery {delivery_id} not replayed: {exc.message}.", "error")
        return redirect(_back(subscriber_id), 303)
    flash(f"Delivery {delivery_id} queued again.")
    return redirect(_back(subscriber_id), 303)
