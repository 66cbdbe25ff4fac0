"""How tests talk to the app over HTTP: as this machine, and checking refusals."""

from typing import Any

#: The peer address of in-process test clients: the loopback, like a browser on this machine
#: (Starlette's default, "testclient", is no address and gets no editing rights).
LOOPBACK = ("127.0.0.1", 50000)


def refused(response: Any, *words: str) -> str:
    """The message of a 400 answer, checked to name ``words``."""
    assert response.status_code == 400, response.text
    message = str(response.json()["message"])
    for word in words:
        assert word in message, message
    return message


def invalid(response: Any, *words: str) -> str:
    """The message of a 422 answer (a parameter or field that does not fit the API's declared
    shape, on the native API), checked to name ``words``."""
    assert response.status_code == 422, response.text
    message = str(response.json()["message"])
    for word in words:
        assert word in message, message
    return message


def admin_key(settings: Any, email: str = "admin@tests.example") -> dict[str, str]:
    """Headers of a site administrator's write key on the portal of ``settings`` (the account
    is made once, directly in its catalogue): the tests' stand-in for an editing member."""
    from sqlalchemy import select

    from mutuelle.access import accounts, keys
    from mutuelle.catalog.db import sessions, upgrade
    from mutuelle.catalog.members_models import User

    upgrade(settings)
    with sessions(settings)() as session:
        user = session.scalar(select(User).where(User.email == email))
        if user is None:
            user, _ = accounts.create_user(session, email=email, display_name="Admin des tests",
                                           password="correct horse battery", site_admin=True)
        made = keys.create_key(session, user, name="tests", scope="write")
        session.commit()
        return {"Authorization": f"Apikey {made.secret}"}


def member_key(settings: Any, email: str, *, roles: dict[str, str] | None = None,
               scope: str = "write", site_admin: bool = False) -> dict[str, str]:
    """Headers of a key of the member ``email`` (made if missing, with ``roles``: organisation
    slug -> role)."""
    from sqlalchemy import select

    from mutuelle.access import accounts, keys
    from mutuelle.catalog import repository as repo
    from mutuelle.catalog.db import sessions, upgrade
    from mutuelle.catalog.members_models import User

    upgrade(settings)
    with sessions(settings)() as session:
        user = session.scalar(select(User).where(User.email == email))
        if user is None:
            user, _ = accounts.create_user(session, email=email, password="correct horse battery",
                                           site_admin=site_admin)
        for slug, role in (roles or {}).items():
            accounts.set_role(session, user, repo.get_organisation(session, slug), role)
        made = keys.create_key(session, user, name="tests", scope=scope)
        session.commit()
        return {"Authorization": f"Apikey {made.secret}"}


def session_token(settings: Any, email: str = "admin@tests.example", *, site_admin: bool = True) -> str:
    """A signed-in session of the member ``email`` (made if missing) on the portal of
    ``settings``: the value of the browser's ``mutuelle_session`` cookie."""
    from sqlalchemy import select

    from mutuelle.access import accounts, signin
    from mutuelle.catalog.db import sessions, upgrade
    from mutuelle.catalog.members_models import User

    upgrade(settings)
    with sessions(settings)() as session:
        if session.scalar(select(User).where(User.email == email)) is None:
            accounts.create_user(session, email=email, password="correct horse battery",
                                 site_admin=site_admin)
            session.commit()
        return signin.sign_in(session, settings, email, "correct horse battery").token
