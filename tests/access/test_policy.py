"""Until accounts exist, only the local machine may edit, and only when the setting allows it."""

from mutuelle.access.policy import ANONYMOUS, viewer_for_client


def test_the_loopback_may_edit_when_local_editing_is_on() -> None:
    assert viewer_for_client("127.0.0.1", local_editing=True).operator
    assert viewer_for_client("::1", local_editing=True).operator


def test_other_peers_and_names_are_anonymous() -> None:
    for host in ("10.0.0.7", "192.168.1.2", "testclient", "localhost", "", None):
        assert viewer_for_client(host, local_editing=True) == ANONYMOUS


def test_nobody_edits_when_local_editing_is_off() -> None:
    assert viewer_for_client("127.0.0.1", local_editing=False) == ANONYMOUS
