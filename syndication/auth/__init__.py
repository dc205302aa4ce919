"""Authentication and roles: API tokens, web admin users, sessions, CSRF and the access guard.

- roles.py: the three roles as ranks.
- tokens.py / users.py: services (no HTTP): create, list, revoke, verify.
- access.py: `@public` and `@requires(...)` on views; the one before_request guard.
- session.py: login_user / logout_user / current_principal, csrf_token / check_csrf.
- routes.py: GET/POST /admin/login and POST /admin/logout.
"""
