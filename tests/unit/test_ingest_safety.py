"""A share many accounts can write to: links, special files, unsafe layouts."""

import os
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from digitize.errors import ConfigError, DigitizeError, InputError
from digitize.ingest import Watcher
from digitize.ingest.safety import check_layout, open_inside, refusal


@pytest.fixture
def inbox(tmp_path):
    folder = tmp_path / "inbox"
    (folder / "u" / "d").mkdir(parents=True)
    return folder


def _refused(inbox, relative):
    with pytest.raises(InputError) as err:
        open_inside(inbox, Path(relative))
    return err.value.code


def test_plain_file_opens(inbox):
    (inbox / "u" / "d" / "a.pdf").write_bytes(b"%PDF")
    fd = open_inside(inbox, Path("u/d/a.pdf"))
    assert os.read(fd, 4) == b"%PDF"
    os.close(fd)


def test_symlink_is_refused_and_its_target_never_opened(inbox, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("outside")
    (inbox / "u" / "d" / "link.pdf").symlink_to(secret)
    assert _refused(inbox, "u/d/link.pdf") == "input.symlink"


def test_symlinked_folder_on_the_way_is_refused(inbox, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "a.pdf").write_bytes(b"%PDF")
    (inbox / "u" / "swapped").symlink_to(outside, target_is_directory=True)
    assert _refused(inbox, "u/swapped/a.pdf") == "input.outside_inbox"


def test_hard_link_to_a_file_outside_is_refused(inbox, tmp_path):
    outside = tmp_path / "passwd-copy"
    outside.write_text("root:x:0:0")
    os.link(outside, inbox / "u" / "d" / "a.pdf")
    assert _refused(inbox, "u/d/a.pdf") == "input.hard_link"


def test_fifo_is_refused_without_blocking(inbox):
    os.mkfifo(inbox / "u" / "d" / "pipe.pdf")
    assert _refused(inbox, "u/d/pipe.pdf") == "input.not_regular"


def test_device_file_is_refused(inbox):
    try:
        os.mknod(inbox / "null.pdf", 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("creating a device node needs CAP_MKNOD")
    assert _refused(inbox, "null.pdf") == "input.not_regular"
    assert "device file" in refusal(os.lstat(inbox / "null.pdf")).message


def _layout_error(settings, folders, config=None):
    with pytest.raises(ConfigError) as err:
        check_layout(folders, settings, config)
    assert err.value.code == "config.unsafe_layout"
    return err.value.message


def test_state_inside_the_inbox_is_refused(settings, tmp_path):
    inbox = settings.home  # the whole home shared as the inbox
    inbox.mkdir(parents=True)
    message = _layout_error(settings, [inbox])
    assert "inside the watched folder" in message


def test_repository_inside_the_inbox_through_a_link_is_refused(settings, tmp_path):
    inbox = tmp_path / "share"
    (inbox / "repo").mkdir(parents=True)
    settings.home.mkdir(parents=True)
    (settings.home / "repository").symlink_to(inbox / "repo")
    assert "repository" in _layout_error(settings, [inbox])


def test_configuration_inside_the_inbox_is_refused(settings, tmp_path):
    inbox = tmp_path / "share"
    inbox.mkdir()
    config = inbox / "digitize.toml"
    config.write_text("")
    assert "configuration file" in _layout_error(settings, [inbox], config)


def test_world_writable_state_is_refused(settings, tmp_path):
    inbox = tmp_path / "share"
    inbox.mkdir()
    settings.repository.mkdir(parents=True)
    settings.repository.chmod(0o777)
    message = _layout_error(settings, [inbox])
    assert "writable by every account" in message and "chmod o-w" in message


def test_world_writable_configuration_folder_is_refused(settings, tmp_path):
    inbox = tmp_path / "share"
    inbox.mkdir()
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc").chmod(0o777)
    config = tmp_path / "etc" / "digitize.toml"
    config.write_text("")
    assert "configuration folder" in _layout_error(settings, [inbox], config)


def test_a_shared_world_writable_inbox_is_fine(settings, tmp_path):
    inbox = tmp_path / "share"
    inbox.mkdir()
    inbox.chmod(0o777)
    check_layout([inbox], settings, None)


def test_watcher_refuses_to_start_on_an_unsafe_layout(settings, catalog):
    settings.home.mkdir(parents=True, exist_ok=True)
    with pytest.raises(ConfigError, match="inside the watched folder"):
        Watcher(settings.home, settings, catalog).drain()


def test_one_watcher_per_home(settings, catalog, tmp_path):
    inbox = tmp_path / "inbox"
    first = Watcher(inbox, settings, catalog)
    first.start()
    try:
        with pytest.raises(DigitizeError) as err:
            Watcher(inbox, replace(settings), catalog).start()
        assert (
            err.value.code == "watch.running" and str(os.getpid()) in err.value.message
        )
    finally:
        first.close()
    Watcher(inbox, settings, catalog).drain()  # the lock went with the first one


def test_hard_link_is_refused_even_with_both_names_inside(inbox):
    # Pins the LIMITATION in ingest/safety.py: the other name cannot be located.
    (inbox / "u" / "d" / "a.pdf").write_bytes(b"%PDF")
    os.link(inbox / "u" / "d" / "a.pdf", inbox / "u" / "d" / "b.pdf")
    assert _refused(inbox, "u/d/a.pdf") == "input.hard_link"
