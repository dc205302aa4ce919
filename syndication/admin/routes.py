"""The web admin's pages: thin views that parse a form (forms.py), call a service and render.

Access: the auth guard enforces the decorators (readers view; editors change stories and links;
admins everything, and alone see tokens and users); templates hide what the role may not do.
CSRF is checked by the guard for every POST under /admin; every form carries the token.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

import feeds
from syndication import inputs
from syndication.admin import charts, forms
from syndication.admin.queries import dashboard as dashboard_data
from syndication.auth import tokens as token_service
from syndication.auth import users as user_service
from syndication.auth.access import requires
from syndication.auth.roles import ROLES
from syndication.auth.session import current_principal
from syndication.channels import service as channels
from syndication.channels.preview import draft_channel, preview
from syndication.csvexport import csv_response
from syndication.errors import Conflict, NotFound, ServiceError, ValidationError
from syndication.i18n import isolate
from syndication.links import service as links
from syndication.links.qr_fastpath import forget_images as forget_qr_images
from syndication.media.store import MediaStore, TooLarge
from syndication.pages import view
from syndication.partners import service as partners
from syndication.push import outbox as push_outbox
from syndication.push import subscribers as push
from syndication.push.websub import subscriptions as websub
from syndication.reach import service as reach
from syndication.runtime import runtime
from syndication.stories import kill as takedown
from syndication.stories import service as stories
from syndication.stories.schema import STATUSES

bp = Blueprint("admin", __name__, url_prefix="/admin")
PAGE_SIZE = 25
STATS_DAYS = (7, 30, 90)


def render(template: str, status: int = 200, **values: Any) -> Response:
    settings = runtime().settings
    principal = current_principal()
    body = render_template(
        template,
        settings=settings,
        site=view.site_name(settings),
        lang="en",
        rtl=False,
        principal=principal,
        can=lambda role: principal is not None and principal.allows(role),
        tz=settings.tz,
        # The `localtime` filter (syndication/i18n.py) under the name admin templates knew.
        local=current_app.jinja_env.filters["localtime"],
        **values,
    )
    response = Response(body, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


def _status_of(exc: ServiceError) -> int:
    return 409 if isinstance(exc, Conflict) else 422


def _confirm(title: str, message: str, action: str, button: str, back: str, **kw: Any):
    return render(
        "admin/confirm.html",
        page_title=title,
        message=message,
        action=action,
        button=button,
        back=back,
        **kw,
    )


# Dashboard ----------------------------------------------------------------------------------


@bp.get("/")
@requires("reader")
def dashboard() -> Response:
    rt = runtime()
    rt.visits.flush()  # the busiest links by the visits counted so far (as link_stats does)
    with rt.db.read() as session:
        return render("admin/dashboard.html", page_title="Dashboard", data=dashboard_data(session))


# Stories ------------------------------------------------------------------------------------


def _after() -> int | None:
    """`?after=` of a list page: a story or delivery id (both bigint columns) from a next link,
    range-checked before it reaches SQL (inputs.row_id); 400 for anything else."""
    try:
        return inputs.row_id(request.args.get("after") or None, "bigint", runtime().db.is_sqlite)
    except ValueError:
        abort(400, "after is not a page boundary")


@bp.get("/stories")
@requires("reader")
def story_list() -> Response:
    rt = runtime()
    filters = {
        k: request.args.get(k, "").strip() for k in ("q", "status", "section", "tag", "language")
    }
    after = _after()
    errors: dict[str, str] = {}
    with rt.db.read() as session:
        try:
            rows, next_after = stories.list_stories(
                session, {k: v for k, v in filters.items() if v}, limit=PAGE_SIZE, after=after
            )
        except ValidationError as exc:
            rows, next_after, errors = [], None, forms.errors_of(exc)
        query = {k: v for k, v in filters.items() if v}
        return render(
            "admin/stories.html",
            status=422 if errors else 200,
            page_title="Stories",
            stories=rows,
            filters=filters,
            errors=errors,
            statuses=STATUSES,
            next_url=url_for(".story_list", **query, after=next_after) if next_after else None,
            first_url=url_for(".story_list", **query) if after else None,
        )


def _uploaded_image(data: dict, values: dict, errors: dict) -> int | None:
    """The story form's image file, if one was chosen: stored (checked and cleaned by the
    media store, before any transaction), and made the story's image, its URL, type, size and
    dimensions filled in (also in `values`, so a form shown again keeps the upload). A bad
    file is an error on its field; returns the status it calls for (413 or 422)."""
    upload = request.files.get("image_file")
    if upload is None or not upload.filename:
        return None  # the file input left empty
    settings = runtime().settings
    store = MediaStore.from_settings(settings)
    try:
        media, _ = store.put(store.read(upload.stream))
    except ValidationError as exc:
        errors["image_file"] = exc.fields.get("file") or exc.message
        return 413 if isinstance(exc, TooLarge) else 422
    data["image"] = forms.uploaded_image(media.as_image(settings), data.get("image"))
    values.update(forms.image_values(data["image"]))
    return None


def _story_reach(code: str) -> dict[str, Any]:
    rt = runtime()
    rt.visits.flush()  # the clicks counted so far, as link_stats does
    with rt.db.read() as session:
        return reach.story_reach(session, code, now=rt.clock())


def _story_form(values: dict, errors: dict, story=None, link=None, status: int = 200):
    settings = runtime().settings
    return render(
        "admin/story_form.html",
        status=status,
        page_title=f"Story {story.code}" if story else "New story",
        values=values,
        errors=errors,
        story=story,
        short_url=links.short_url(settings, link.code) if link else None,
        qr_src=links.qr_url(settings, link.code) if link else None,
        page_url=f"{settings.base_url}/stories/{story.code}" if story else None,
        media_limit=f"{settings.media_max_bytes / 1048576:.3g} MiB",
        reach=_story_reach(story.code) if story else None,
    )


@bp.get("/stories/<code>/reach.csv")
@requires("reader")
def story_reach_csv(code: str) -> Response:
    try:
        data = _story_reach(code)
    except NotFound:
        abort(404)
    return csv_response(reach.story_reach_rows(data), f"reach-{data['story']}.csv")


@bp.route("/stories/new", methods=["GET", "POST"])
@requires("editor")
def story_new() -> Response:
    rt = runtime()
    if request.method == "GET":
        return _story_form({"status": "draft"}, {})
    data, errors = forms.story_data(request.form, rt.settings.tz, with_status=True)
    values = forms.form_values(request.form)
    upload_status = _uploaded_image(data, values, errors)
    try:
        # Validated and sanitised before the write transaction: nobody waits for it.
        prepared = stories.prepare_story(data, rt.settings)
        if errors:  # the schema reported the other fields; now stop
            raise ValidationError(errors)
        with rt.db.write() as session:
            story = stories.create_story(session, rt.settings, prepared, now=rt.clock())
            code = story.code
    except ServiceError as exc:
        status = upload_status or _status_of(exc)
        return _story_form(values, {**forms.errors_of(exc), **errors}, status=status)
    flash(f"Story {code} created.")
    return redirect(url_for(".story_edit", code=code), 303)


@bp.route("/stories/<code>", methods=["GET", "POST"])
@requires(read="reader", write="editor")
def story_edit(code: str) -> Response:
    rt = runtime()
    with rt.db.read() as session:
        try:
            story = stories.get_story(session, code)
        except NotFound:
            abort(404)
        link = links.story_link(session, story.id)
        if request.method == "GET":
            return _story_form(forms.story_values(story, rt.settings.tz), {}, story, link)
    with_status = story.status in ("draft", "scheduled")
    data, errors = forms.story_data(request.form, rt.settings.tz, with_status=with_status)
    values = {**forms.form_values(request.form), "status": request.form.get("status", story.status)}
    if not with_status:
        values["status"] = story.status
    upload_status = _uploaded_image(data, values, errors)
    try:
        prepared = stories.prepare_story(data, rt.settings, partial=True)
        if errors:
            raise ValidationError(errors)
        with rt.db.write() as session:
            _, outcome = stories.update_story(session, rt.settings, code, prepared, now=rt.clock())
    except ServiceError as exc:
        status = upload_status or _status_of(exc)
        return _story_form(values, {**forms.errors_of(exc), **errors}, story, link, status=status)
    flash("Story saved." if outcome != "unchanged" else "Nothing changed.")
    return redirect(url_for(".story_edit", code=code), 303)


def _story_action(code: str, action: str) -> Response:
    """GET: a confirmation page; POST: publish, retract or delete the story."""
    rt = runtime()
    with rt.db.read() as session:
        try:
            story = stories.get_story(session, code)
        except NotFound:
            abort(404)
        title = story.title
    words = {
        "publish": ("Publish", "It appears in every channel whose filter matches, at once."),
        "retract": ("Retract", "Its page answers 410 Gone and feeds drop it."),
        "delete": (
            "Delete",
            "It is removed for good (if scheduled: partners told get story.killed).",
        ),
    }[action]
    back = url_for(".story_edit", code=code)
    if request.method == "GET":
        return _confirm(
            f"{words[0]} story {code}?",
            f"{words[0]} “{isolate(title)}”? {words[1]}",  # an Arabic title keeps its place
            request.path,
            f"{words[0]} story",
            back,
            danger=action != "publish",
        )
    try:
        with rt.db.write() as session:
            if action == "publish":
                stories.publish_story(session, rt.settings, code, now=rt.clock())
            elif action == "retract":
                stories.retract_story(session, rt.settings, code, now=rt.clock())
            else:
                stories.delete_story(session, code, settings=rt.settings, now=rt.clock())
    except ServiceError as exc:
        flash(f"Could not {action} story {code}: {exc.message}", "error")
        return redirect(back, 303)
    if action == "delete":
        flash(f"Story {code} deleted.")
        return redirect(url_for(".story_list"), 303)
    flash(f"Story {code} {action}ed." if action != "publish" else f"Story {code} published.")
    return redirect(back, 303)


@bp.route("/stories/<code>/publish", methods=["GET", "POST"])
@requires("editor")
def story_publish(code: str) -> Response:
    return _story_action(code, "publish")


@bp.route("/stories/<code>/retract", methods=["GET", "POST"])
@requires("editor")
def story_retract(code: str) -> Response:
    return _story_action(code, "retract")


@bp.route("/stories/<code>/kill", methods=["GET", "POST"])
@requires("admin")
def story_kill(code: str) -> Response:
    """GET: a confirmation page asking for the reason; POST: take the story down for good."""
    rt = runtime()
    with rt.db.read() as session:
        try:
            story = stories.get_story(session, code)
        except NotFound:
            abort(404)
        title = story.title
    back = url_for(".story_edit", code=code)
    if request.method == "GET":
        return render(
            "admin/kill_confirm.html",
            page_title=f"Kill story {code}?",
            story_title=isolate(title),
            code=code,
            action=request.path,
            back=back,
        )
    try:
        with rt.db.write() as session:
            takedown.kill_story(
                session, rt.settings, code, request.form.get("reason"), now=rt.clock()
            )
    except ServiceError as exc:
        flash(f"Could not kill story {code}: {exc.message}", "error")
        return redirect(request.path if isinstance(exc, ValidationError) else back, 303)
    forget_qr_images()
    flash(f"Story {code} killed: its content is erased everywhere.")
    return redirect(back, 303)


@bp.route("/stories/<code>/corrections", methods=["POST"])
@requires("editor")
def story_correct(code: str) -> Response:
    """Append a public correction (the form on the story page); back to the story either way."""
    rt = runtime()
    back = url_for(".story_edit", code=code)
    try:
        text = stories.correction_text(request.form.get("text"))
        with rt.db.write() as session:
            _, appended = stories.correct_story(session, rt.settings, code, text, now=rt.clock())
    except NotFound:
        abort(404)
    except ServiceError as exc:
        why = "; ".join(exc.fields.values()) if isinstance(exc, ValidationError) else exc.message
        flash(f"Could not correct story {code}: correction {why}", "error")
        return redirect(back, 303)
    flash(f"Story {code} corrected." if appended else "That correction is already there.")
    return redirect(back, 303)


@bp.route("/stories/<code>/delete", methods=["GET", "POST"])
@requires("editor")
def story_delete(code: str) -> Response:
    return _story_action(code, "delete")


# Channels -----------------------------------------------------------------------------------


@bp.get("/channels")
@requires("reader")
def channel_list() -> Response:
    rt = runtime()
    with rt.db.read() as session:
        return render(
            "admin/channels.html",
            page_title="Channels",
            channels=[
                (c, view.channel_feeds(rt.settings, c)) for c in channels.list_channels(session)
            ],
            opml_url=f"{rt.settings.base_url}/feeds.opml",
        )


def _preview_format() -> str:
    fmt = request.values.get("format", "rss")
    return fmt if fmt in feeds.FORMATS else "rss"


def _channel_form(values, errors, channel=None, shown=None, status: int = 200) -> Response:
    rt = runtime()
    settings = rt.settings
    principal = current_principal()
    subscriptions = None
    if channel is not None and principal is not None and principal.allows("admin"):
        with rt.db.read() as session:
            subscriptions = websub.channel_subscription_rows(session, channel.slug)
    return render(
        "admin/channel_form.html",
        status=status,
        page_title=f"Channel {channel.slug}" if channel else "New channel",
        values=values,
        errors=errors,
        channel=channel,
        feeds=view.channel_feeds(settings, channel) if channel else [],
        formats=feeds.FORMATS,
        format_names=view.FEED_NAMES,
        filter_kinds=forms.FILTER_KINDS,
        preview=shown,
        subscriptions=subscriptions,
        subscription_state=lambda sub: websub.state_of(sub, rt.clock()),
    )


def _render_preview(session, channel) -> dict[str, Any]:
    rt = runtime()
    shown = preview(session, rt.settings, channel, _preview_format(), rt.items)
    levels = [f.level for f in shown.findings]
    return {
        "format": shown.format,
        "content_type": shown.content_type,
        "body": shown.body.decode("utf-8", "replace"),
        "pretty": shown.pretty,
        "findings": shown.findings,
        "items": shown.items,
        "counts": {level: levels.count(level) for level in ("error", "warning", "info")},
    }


def _channel_reach(slug: str) -> tuple[dict[str, Any], int]:
    rt = runtime()
    days = request.args.get("days", 30, type=int)
    days = days if days in STATS_DAYS else 30
    rt.reach.flush()  # the feed requests counted so far by this process
    with rt.db.read() as session:
        try:
            return reach.channel_reach(session, slug, now=rt.clock(), days=days), days
        except NotFound:
            abort(404)


@bp.get("/channels/<slug>/reach")
@requires("reader")
def channel_reach(slug: str) -> Response:
    data, days = _channel_reach(slug)
    chart = charts.responsive_bars(
        "chart-reach",
        f"Feed subscribers per day of {data['channel']}",
        data["days"],
        [("stated", "stated by readers", "s-link"), ("clients", "other clients", "s-qr")],
        unit="subscribers",
    )
    return render(
        "admin/channel_reach.html",
        page_title=f"Reach of {data['channel']}",
        reach=data,
        chart=chart,
        days=days,
        day_choices=STATS_DAYS,
    )


@bp.get("/channels/<slug>/reach.csv")
@requires("reader")
def channel_reach_csv(slug: str) -> Response:
    data, _ = _channel_reach(slug)
    return csv_response(reach.channel_reach_rows(data), f"reach-{data['channel']}.csv")


@bp.route("/channels/new", methods=["GET", "POST"])
@requires("admin")
def channel_new() -> Response:
    rt = runtime()
    if request.method == "GET":
        return _channel_form({"content": "full", "formats": list(feeds.FORMATS)}, {})
    data = forms.channel_data(request.form, with_slug=True)
    values = forms.form_values(request.form, lists=("formats",))
    try:
        with rt.db.write() as session:
            channel = channels.create_channel(session, data, now=rt.clock())
            slug = channel.slug
    except ServiceError as exc:
        return _channel_form(values, forms.errors_of(exc), status=_status_of(exc))
    flash(f"Channel {slug} created.")
    return redirect(url_for(".channel_edit", slug=slug), 303)


@bp.post("/channels/new/preview")
@requires("admin")
def channel_new_preview() -> Response:
    """Preview an unsaved channel: the form again, with its feed and findings; nothing saved."""
    return _draft_preview(None)


@bp.route("/channels/<slug>", methods=["GET", "POST"])
@requires(read="reader", write="admin")
def channel_edit(slug: str) -> Response:
    rt = runtime()
    with rt.db.read() as session:
        try:
            channel = channels.get_channel(session, slug)
        except NotFound:
            abort(404)
        if request.method == "GET":
            shown = _render_preview(session, channel) if "format" in request.args else None
            return _channel_form(forms.channel_values(channel), {}, channel, shown)
    data = forms.channel_data(request.form, with_slug=False)
    values = {**forms.form_values(request.form, lists=("formats",)), "slug": slug}
    try:
        with rt.db.write() as session:
            channels.update_channel(session, slug, data, now=rt.clock())
    except ServiceError as exc:
        return _channel_form(values, forms.errors_of(exc), channel, status=_status_of(exc))
    flash("Channel saved.")
    return redirect(url_for(".channel_edit", slug=slug), 303)


@bp.post("/channels/<slug>/preview")
@requires("admin")
def channel_edit_preview(slug: str) -> Response:
    return _draft_preview(slug)


def _draft_preview(slug: str | None) -> Response:
    rt = runtime()
    data = forms.channel_data(request.form, with_slug=slug is None)
    values = forms.form_values(request.form, lists=("formats",))
    with rt.db.read() as session:  # a read transaction: nothing can be saved here
        base = None
        if slug is not None:
            try:
                base = channels.get_channel(session, slug)
            except NotFound:
                abort(404)
            values["slug"] = slug
        try:
            if slug is None and not data.get("slug"):
                data["slug"] = "preview"  # the slug may still be blank while trying filters
            draft = draft_channel(data, base)
            session.expunge_all()
            shown = _render_preview(session, draft)
        except ServiceError as exc:
            return _channel_form(values, forms.errors_of(exc), base, status=_status_of(exc))
        return _channel_form(values, {}, base, shown)


@bp.route("/channels/<slug>/delete", methods=["GET", "POST"])
@requires("admin")
def channel_delete(slug: str) -> Response:
    rt = runtime()
    if request.method == "GET":
        return _confirm(
            f"Delete channel {slug}?",
            f"Delete channel “{slug}”? Its feeds answer 404 from now on; stories stay.",
            request.path,
            "Delete channel",
            url_for(".channel_edit", slug=slug),
            danger=True,
        )
    try:
        with rt.db.write() as session:
            channels.delete_channel(session, slug, now=rt.clock())
    except NotFound:
        abort(404)
    flash(f"Channel {slug} deleted.")
    return redirect(url_for(".channel_list"), 303)


# Links --------------------------------------------------------------------------------------


@bp.get("/links")
@requires("reader")
def link_list() -> Response:
    rt = runtime()
    with rt.db.read() as session:
        rows = [
            links.link_to_dict(session, link, rt.settings) for link in links.list_links(session)
        ]
        return render("admin/links.html", page_title="Links", links=rows)


def _link_form(values, errors, link=None, info=None, status: int = 200) -> Response:
    return render(
        "admin/link_form.html",
        status=status,
        page_title=f"Link {link.code}" if link else "New link",
        values=values,
        errors=errors,
        link=link,
        info=info,
    )


@bp.route("/links/new", methods=["GET", "POST"])
@requires("editor")
def link_new() -> Response:
    rt = runtime()
    if request.method == "GET":
        return _link_form({}, {})
    data, errors = forms.link_data(request.form, rt.settings.tz, story_link=False, new=True)
    values = forms.form_values(request.form)
    try:
        with rt.db.write() as session:
            if errors:
                links.clean_link(data)
                raise ValidationError(errors)
            code = links.create_link(session, data, now=rt.clock()).code
    except ServiceError as exc:
        return _link_form(values, {**forms.errors_of(exc), **errors}, status=_status_of(exc))
    flash(f"Link {code} created.")
    return redirect(url_for(".link_edit", code=code), 303)


@bp.route("/links/<code>", methods=["GET", "POST"])
@requires(read="reader", write="editor")
def link_edit(code: str) -> Response:
    rt = runtime()
    with rt.db.read() as session:
        try:
            link = links.get_link(session, code)
        except NotFound:
            abort(404)
        info = links.link_to_dict(session, link, rt.settings)
        if request.method == "GET":
            return _link_form(forms.link_values(link, rt.settings.tz), {}, link, info)
    is_story = link.story_id is not None
    data, errors = forms.link_data(request.form, rt.settings.tz, story_link=is_story, new=False)
    values = {**forms.form_values(request.form), "slug": code}
    try:
        with rt.db.write() as session:
            if errors:
                links.clean_link(data, partial=True)
                raise ValidationError(errors)
            links.update_link(session, code, data)
    except ServiceError as exc:
        errs = {**forms.errors_of(exc), **errors}
        return _link_form(values, errs, link, info, status=_status_of(exc))
    flash("Link saved.")
    return redirect(url_for(".link_edit", code=code), 303)


@bp.route("/links/<code>/delete", methods=["GET", "POST"])
@requires("editor")
def link_delete(code: str) -> Response:
    rt = runtime()
    back = url_for(".link_edit", code=code)
    if request.method == "GET":
        return _confirm(
            f"Delete link {code}?",
            f"Delete short link “{code}”? It answers 410 Gone from now on, and its code is "
            "never handed out again.",
            request.path,
            "Delete link",
            back,
            danger=True,
        )
    try:
        with rt.db.write() as session:
            links.delete_link(session, code, now=rt.clock())
    except NotFound:
        abort(404)
    except ServiceError as exc:
        flash(f"Could not delete link {code}: {exc.message}", "error")
        return redirect(back, 303)
    flash(f"Link {code} deleted.")
    return redirect(url_for(".link_list"), 303)


@bp.get("/links/<code>/stats")
@requires("reader")
def link_stats(code: str) -> Response:
    rt = runtime()
    days = request.args.get("days", 30, type=int)
    days = days if days in STATS_DAYS else 30
    rt.visits.flush()  # show the visits counted so far, not only those already flushed
    with rt.db.read() as session:
        try:
            stats = links.link_stats(session, code, now=rt.clock(), days=days)
            info = links.link_to_dict(session, links.get_link(session, code), rt.settings)
        except NotFound:
            abort(404)
    medium = charts.responsive_bars(
        "chart-medium",
        f"Visits per day of {code}: links vs QR scans",
        stats["days"],
        [("link", "link clicks", "s-link"), ("qr", "QR scans", "s-qr")],
    )
    who = charts.responsive_bars(
        "chart-who",
        f"Visits per day of {code}: humans vs bots",
        stats["days"],
        [("human", "humans", "s-human"), ("bot", "bots", "s-bot")],
    )
    return render(
        "admin/link_stats.html",
        page_title=f"Statistics of {code}",
        stats=stats,
        info=info,
        charts=[medium, who],
        days=days,
        day_choices=STATS_DAYS,
    )


# Tokens and users (admin only: no decorator means admin) ------------------------------------


def _partner_names(session) -> dict[int, str]:
    """Partner id -> name, for the partner column and select of the users and tokens pages."""
    return {p.id: p.name for p in partners.list_partners(session)}


def _tokens_page(values, errors, status: int = 200) -> Response:
    with runtime().db.read() as session:
        return render(
            "admin/tokens.html",
            status=status,
            page_title="API tokens",
            tokens=token_service.list_tokens(session),
            roles=ROLES,
            partners=_partner_names(session),
            values=values,
            errors=errors,
        )


@bp.get("/tokens")
def token_list() -> Response:
    return _tokens_page({"role": "reader"}, {})


@bp.post("/tokens")
def token_create() -> Response:
    rt = runtime()
    name, role = request.form.get("name", ""), request.form.get("role", "")
    errors: dict[str, str] = {}
    partner_id = forms.partner_choice(request.form, errors)
    try:
        with rt.db.write() as session:
            if errors:
                raise ValidationError(errors)
            token, plaintext = token_service.create_token(
                session, name, role, rt.clock(), partner_id=partner_id
            )
            created = {"id": token.id, "name": token.name, "role": token.role}
    except ServiceError as exc:
        values = forms.form_values(request.form)
        return _tokens_page(values, forms.errors_of(exc), status=_status_of(exc))
    # Shown once, on this response only (no redirect, never cached).
    return render(
        "admin/token_created.html", page_title="Token created", token=created, plaintext=plaintext
    )


@bp.route("/tokens/<int:token_id>/revoke", methods=["GET", "POST"])
def token_revoke(token_id: int) -> Response:
    rt = runtime()
    if request.method == "GET":
        return _confirm(
            f"Revoke token {token_id}?",
            "Revoke this API token? Requests that use it are refused from now on.",
            request.path,
            "Revoke token",
            url_for(".token_list"),
            danger=True,
        )
    try:
        with rt.db.write() as session:
            token_service.revoke_token(session, token_id, rt.clock())
    except NotFound:
        abort(404)
    flash(f"Token {token_id} revoked.")
    return redirect(url_for(".token_list"), 303)


def _users_page(values, errors, status: int = 200) -> Response:
    with runtime().db.read() as session:
        return render(
            "admin/users.html",
            status=status,
            page_title="Users",
            users=user_service.list_users(session),
            roles=ROLES,
            partners=_partner_names(session),
            values=values,
            errors=errors,
        )


@bp.get("/users")
def user_list() -> Response:
    return _users_page({"role": "editor"}, {})


@bp.post("/users")
def user_create() -> Response:
    rt = runtime()
    data, errors = forms.user_data(request.form)
    partner_id = forms.partner_choice(request.form, errors)
    values = forms.form_values(request.form)
    try:
        with rt.db.write() as session:
            if errors:
                raise ValidationError(errors)
            user = user_service.create_user(
                session,
                data["username"],
                data["password"],
                data["role"],
                rt.clock(),
                partner_id=partner_id,
            )
            name = user.username
    except ServiceError as exc:
        return _users_page(values, {**forms.errors_of(exc), **errors}, status=_status_of(exc))
    flash(f"User {name} created.")
    return redirect(url_for(".user_list"), 303)


@bp.post("/users/<username>/disable")
def user_disable(username: str) -> Response:
    rt = runtime()
    disable = request.form.get("disable", "1") == "1"
    principal = current_principal()
    if disable and principal is not None and principal.name == username:
        flash("You cannot disable yourself.", "error")
        return redirect(url_for(".user_list"), 303)
    try:
        with rt.db.write() as session:
            user_service.set_disabled(session, username, disable, rt.clock())
    except NotFound:
        abort(404)
    flash(f"User {username} {'disabled' if disable else 'enabled'}.")
    return redirect(url_for(".user_list"), 303)


# Subscribers (partner webhooks; admin only: no decorator means admin) ------------------------


def _subscriber_form(values, errors, sub=None, status: int = 200) -> Response:
    return render(
        "admin/subscriber_form.html",
        status=status,
        page_title=f"Edit subscriber {sub.name}" if sub else "New subscriber",
        values=values,
        errors=errors,
        subscriber=sub,
        event_types=push_outbox.EVENT_TYPES,
        formats=push.FORMATS,
        filter_kinds=forms.FILTER_KINDS,
    )


@bp.get("/subscribers")
def subscriber_list() -> Response:
    rt = runtime()
    with rt.db.read() as session:
        rows = [(s, push.subscriber_health(session, s.id)) for s in push.list_subscribers(session)]
        return render("admin/subscribers.html", page_title="Subscribers", subscribers=rows)


@bp.route("/subscribers/new", methods=["GET", "POST"])
def subscriber_new() -> Response:
    rt = runtime()
    if request.method == "GET":
        return _subscriber_form(
            {"format": "json", "event_types": list(push_outbox.EVENT_TYPES)}, {}
        )
    data, errors = forms.subscriber_data(request.form)
    values = forms.form_values(request.form, lists=("event_types",))
    try:
        with rt.db.write() as session:
            if errors:
                push.clean_subscriber(data)
                raise ValidationError(errors)
            warnings: list[str] = []
            sub, secret = push.create_subscriber(
                session, rt.push.outbound.check_sync, data, rt.clock(), warnings
            )
            created = {"id": sub.id, "name": sub.name}
    except ServiceError as exc:
        errs = {**forms.subscriber_errors(exc), **errors}
        return _subscriber_form(values, errs, status=_status_of(exc))
    for warning in warnings:
        flash(f"Warning: {warning}", "warning")
    if secret is None:  # a pull subscriber: no secret to show
        flash("Pull subscriber created: assign it to its partner (syndication partner assign).")
        return redirect(url_for(".subscriber_detail", subscriber_id=created["id"]), 303)
    # Shown once, on this response only (no redirect, never cached).
    return render(
        "admin/subscriber_secret.html",
        page_title="Subscriber created",
        subscriber=created,
        secret=secret,
        rotated_until=None,
    )


def _get_subscriber(session, subscriber_id: int):
    try:
        return push.get_subscriber(session, subscriber_id)
    except NotFound:
        abort(404)


@bp.get("/subscribers/<int:subscriber_id>")
def subscriber_detail(subscriber_id: int) -> Response:
    rt = runtime()
    after = _after()
    with rt.db.read() as session:
        sub = _get_subscriber(session, subscriber_id)
        rows, next_after = push.list_deliveries(
            session, {"subscriber": sub.id}, limit=PAGE_SIZE, after=after
        )
        log = [
            (push.delivery_to_dict(d, e), push.delivery_attempts(session, d.id)) for d, e in rows
        ]
        return render(
            "admin/subscriber_detail.html",
            page_title=f"Subscriber {sub.name}",
            subscriber=sub,
            partners=_partner_names(session),
            health=push.subscriber_health(session, sub.id),
            deliveries=log,
            next_url=url_for(".subscriber_detail", subscriber_id=sub.id, after=next_after)
            if next_after
            else None,
        )


@bp.route("/subscribers/<int:subscriber_id>/edit", methods=["GET", "POST"])
def subscriber_edit(subscriber_id: int) -> Response:
    rt = runtime()
    with rt.db.read() as session:
        sub = _get_subscriber(session, subscriber_id)
        if request.method == "GET":
            return _subscriber_form(forms.subscriber_values(sub), {}, sub)
    data, errors = forms.subscriber_data(request.form)
    values = forms.form_values(request.form, lists=("event_types",))
    try:
        with rt.db.write() as session:
            if errors:
                push.clean_subscriber(data, partial=True)
                raise ValidationError(errors)
            warnings: list[str] = []
            push.update_subscriber(
                session, rt.push.outbound.check_sync, subscriber_id, data, warnings
            )
    except ServiceError as exc:
        errs = {**forms.subscriber_errors(exc), **errors}
        return _subscriber_form(values, errs, sub, status=_status_of(exc))
    flash("Subscriber saved.")
    for warning in warnings:
        flash(f"Warning: {warning}", "warning")
    return redirect(url_for(".subscriber_detail", subscriber_id=subscriber_id), 303)


@bp.post("/subscribers/<int:subscriber_id>/test")
def subscriber_test(subscriber_id: int) -> Response:
    rt = runtime()
    try:
        with rt.db.write() as session:
            delivery = push.send_test(session, subscriber_id, rt.clock())
            delivery_id = delivery.id
    except NotFound:
        abort(404)
    flash(f"Test ping queued (delivery {delivery_id}).")
    return redirect(url_for(".subscriber_detail", subscriber_id=subscriber_id), 303)


@bp.post("/subscribers/<int:subscriber_id>/state")
def subscriber_state(subscriber_id: int) -> Response:
    rt = runtime()
    disable = request.form.get("disable", "1") == "1"
    try:
        with rt.db.write() as session:
            if disable:
                push.disable(session, subscriber_id, request.form.get("reason") or None)
            else:
                push.enable(session, subscriber_id)
    except NotFound:
        abort(404)
    flash(f"Subscriber {'disabled' if disable else 'enabled'}.")
    return redirect(url_for(".subscriber_detail", subscriber_id=subscriber_id), 303)


@bp.post("/subscribers/<int:subscriber_id>/recover")
def subscriber_recover(subscriber_id: int) -> Response:
    """Send again what the subscriber missed since a local time: its dead, cancelled and
    skipped deliveries (skipped: events that came while it was disabled)."""
    rt = runtime()
    back = url_for(".subscriber_detail", subscriber_id=subscriber_id)
    try:
        since = forms.parse_local(request.form.get("since"), rt.settings.tz)
    except ValueError as exc:
        flash(f"Nothing recovered: since {exc}.")
        return redirect(back, 303)
    if since is None:
        flash("Nothing recovered: give the time to recover from.")
        return redirect(back, 303)
    try:
        with rt.db.write() as session:
            count = push.recover(session, subscriber_id, since, None, rt.clock())
    except NotFound:
        abort(404)
    except ValidationError as exc:
        flash(f"Nothing recovered: {'; '.join(exc.fields.values())}.")
        return redirect(back, 303)
    flash(f"{count} deliveries queued again, in the order their events came.")
    return redirect(back, 303)


@bp.route("/subscribers/<int:subscriber_id>/rotate-secret", methods=["GET", "POST"])
def subscriber_rotate(subscriber_id: int) -> Response:
    rt = runtime()
    back = url_for(".subscriber_detail", subscriber_id=subscriber_id)
    if request.method == "GET":
        return _confirm(
            "Rotate the secret?",
            "A new signing secret is made and shown once. The old one keeps signing too "
            f"for {rt.settings.secret_overlap} seconds, so the partner can switch over.",
            request.path,
            "Rotate secret",
            back,
        )
    try:
        with rt.db.write() as session:
            secret = push.rotate_secret(session, rt.settings, subscriber_id, rt.clock())
            sub = push.get_subscriber(session, subscriber_id)
            shown = {"id": sub.id, "name": sub.name}
            until = sub.previous_secret_until
    except NotFound:
        abort(404)
    return render(
        "admin/subscriber_secret.html",
        page_title="Secret rotated",
        subscriber=shown,
        secret=secret,
        rotated_until=until,
    )


@bp.route("/subscribers/<int:subscriber_id>/delete", methods=["GET", "POST"])
def subscriber_delete(subscriber_id: int) -> Response:
    rt = runtime()
    if request.method == "GET":
        return _confirm(
            "Delete this subscriber?",
            "Delete this subscriber with its deliveries and their log? Nothing more is sent.",
            request.path,
            "Delete subscriber",
            url_for(".subscriber_detail", subscriber_id=subscriber_id),
            danger=True,
        )
    try:
        with rt.db.write() as session:
            push.delete_subscriber(session, subscriber_id)
    except NotFound:
        abort(404)
    flash("Subscriber deleted.")
    return redirect(url_for(".subscriber_list"), 303)


@bp.route("/websub/<int:subscription_id>/delete", methods=["GET", "POST"])
def websub_remove(subscription_id: int) -> Response:
    """Remove a WebSub subscription (admin only: no decorator means admin)."""
    rt = runtime()
    try:
        with rt.db.read() as session:
            sub = websub.get_subscription(session, subscription_id)
            slug = (sub.channels or [""])[0]
            callback = sub.url
    except NotFound:
        abort(404)
    back = url_for(".channel_edit", slug=slug) + "#subscriptions" if slug else url_for(".dashboard")
    if request.method == "GET":
        return _confirm(
            "Remove this subscription?",
            f"Remove the WebSub subscription of {callback} with its notifications and their "
            "log? Nothing more is sent to it.",
            request.path,
            "Remove subscription",
            back,
            danger=True,
        )
    try:
        with rt.db.write() as session:
            websub.remove_subscription(session, subscription_id)
    except NotFound:
        abort(404)
    flash("Subscription removed.")
    return redirect(back, 303)


@bp.post("/deliveries/<int:delivery_id>/replay")
def delivery_replay(delivery_id: int) -> Response:
    rt = runtime()
    try:
        with rt.db.write() as session:
            delivery = push.replay_delivery(session, delivery_id, rt.clock())
            subscriber_id = delivery.subscriber_id
    except NotFound:
        abort(404)
    flash(f"Delivery {delivery_id} queued again.")
    return redirect(url_for(".subscriber_detail", subscriber_id=subscriber_id), 303)


@bp.post("/subscribers/<int:subscriber_id>/partner")
def subscriber_partner(subscriber_id: int) -> Response:
    """Assign the subscriber to a partner (its people then manage it in the partner portal),
    or take it back (the empty choice)."""
    rt = runtime()
    back = url_for(".subscriber_detail", subscriber_id=subscriber_id)
    errors: dict[str, str] = {}
    partner_id = forms.partner_choice(request.form, errors)
    if errors:
        flash(f"Partner not changed: {errors['partner']}.", "error")
        return redirect(back, 303)
    try:
        with rt.db.write() as session:
            push.get_subscriber(session, subscriber_id)  # a webhook subscriber, not WebSub
            partners.assign(session, subscriber_id, partner_id)
            label = partners.get_partner(session, partner_id).name if partner_id else None
    except NotFound as exc:
        if "partner" in exc.message:
            flash(f"Partner not changed: {exc.message}.", "error")
            return redirect(back, 303)
        abort(404)
    flash(f"Assigned to partner {label}." if label else "Taken back from its partner.")
    return redirect(back, 303)


# Partners (admin only: no decorator means admin) ----------------------------------------------


def _partners_page(values, errors, status: int = 200) -> Response:
    with runtime().db.read() as session:
        rows = [
            (p, partners.subscribers_of(session, p.id)) for p in partners.list_partners(session)
        ]
        return render(
            "admin/partners.html",
            status=status,
            page_title="Partners",
            partners=rows,
            values=values,
            errors=errors,
        )


@bp.get("/partners")
def partner_list() -> Response:
    return _partners_page({}, {})


@bp.post("/partners")
def partner_create() -> Response:
    rt = runtime()
    try:
        with rt.db.write() as session:
            partner = partners.create_partner(session, request.form.get("name", ""), rt.clock())
            partner_id, name = partner.id, partner.name
    except ServiceError as exc:
        values = forms.form_values(request.form)
        return _partners_page(values, forms.errors_of(exc), status=_status_of(exc))
    flash(f"Partner {name} created. Now assign its endpoints and create its users.")
    return redirect(url_for(".partner_detail", partner_id=partner_id), 303)


@bp.get("/partners/<int:partner_id>")
def partner_detail(partner_id: int) -> Response:
    rt = runtime()
    with rt.db.read() as session:
        try:
            partner = partners.get_partner(session, partner_id)
        except NotFound:
            abort(404)
        return render(
            "admin/partner_detail.html",
            page_title=f"Partner {partner.name}",
            partner=partner,
            assigned=partners.subscribers_of(session, partner.id),
            others=[s for s in push.list_subscribers(session) if s.partner_id != partner.id],
            names=_partner_names(session),
            users=[u for u in user_service.list_users(session) if u.partner_id == partner.id],
            tokens=[t for t in token_service.list_tokens(session) if t.partner_id == partner.id],
        )


@bp.post("/partners/<int:partner_id>/subscribers")
def partner_assign(partner_id: int) -> Response:
    """Assign (`action=assign`) or take back (`action=unassign`) one subscriber."""
    rt = runtime()
    back = url_for(".partner_detail", partner_id=partner_id)
    raw = (request.form.get("subscriber_id") or "").strip()
    unassign = request.form.get("action") == "unassign"
    if not raw.isdigit() or len(raw) > 9:
        flash("Choose a subscriber from the list.", "error")
        return redirect(back, 303)
    subscriber_id = int(raw)
    try:
        with rt.db.write() as session:
            partners.get_partner(session, partner_id)
            sub = push.get_subscriber(session, subscriber_id)
            if unassign and sub.partner_id != partner_id:
                raise NotFound(f"subscriber {subscriber_id} is not this partner's")
            partners.assign(session, subscriber_id, None if unassign else partner_id)
            name = sub.name
    except NotFound as exc:
        if exc.message.startswith("no partner"):
            abort(404)
        flash(f"Nothing changed: {exc.message}.", "error")
        return redirect(back, 303)
    flash(f"{name} taken back." if unassign else f"{name} assigned.")
    return redirect(back, 303)
