"""Every endpoint the service answers: the core handlers' table and each group's, in one list.

Group modules import what they share from handlers.py; nothing imports them but this module, so
adding a group is a module and one line here.
"""

from __future__ import annotations

from mydocker.apiserver import execs, handlers, images

ALL = [*handlers.ROUTES, *images.ROUTES, *execs.ROUTES]
