"""Where no safe fix exists, the finding says so and why (issue 21): the fix
paths of LS102 for files a layer without build history (a base image) stored."""

from __future__ import annotations

from tests.builders import d, file
from tests.rules.helpers import cause, of, run

_BASE = [d("etc"), file("etc/app.conf", 5000), d("srv"), file("srv/a", 3000)]


def test_base_files_rewritten_or_chowned_by_own_steps_get_a_reason_not_a_drop() -> None:
    result = run(
        _BASE,
        [file("etc/app.conf", 5001)],
        [file("srv/a", 3000, uid=1000)],
        history=["", "/bin/sh -c sed -i s/a/bb/ /etc/app.conf", "/bin/sh -c chown -R 1000 /srv"],
    )
    found = {cause(f): f for f in of(result, "LS102")}
    assert sorted(found) == ["chown-later", "replaced-by-new-version"]
    for f in found.values():
        assert f.fix.startswith("No fix is proposed: "), f.fix
        assert "no build history" in f.fix and "drop the earlier copy" not in f.fix
