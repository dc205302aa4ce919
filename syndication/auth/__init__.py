"""Authentication and roles: API tokens, web admin users, sessions, CSRF and the access guard.

- roles.py: the three roles as ranks.
- tokens.py / users.py: services (no HTTP): create, list, revoke, verify, end sessions.
- signin_limiter.py: failed sign-ins counted per address + username and per address.
- next_path.py: where a sign-in may send the browser next (same-site paths only).
- access.py: `@public` and `@requires(...)` on views; the one before_request guard.
- session.py: login_user / logout_user / current_principal, csrf_token / check_csrf.
- routes.py: GET/POST /admin/login and POST /admin/logout.
"""
