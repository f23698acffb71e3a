"""Every endpoint the service answers: the core handlers' table and each group's, in one list.

Group modules import what they share from handlers.py; nothing imports them but this module, so
adding a group is a module and one line here.
"""

from __future__ import annotations

from mydocker.apiserver import (archive, diskusage, events, execs, freeze, handlers, images, networks, observe,
                                prune, volumes)

ALL = [*handlers.ROUTES, *images.ROUTES, *execs.ROUTES, *networks.ROUTES, *volumes.ROUTES, *archive.ROUTES,
       *observe.ROUTES, *freeze.ROUTES, *events.ROUTES, *diskusage.ROUTES,
       *prune.ROUTES]
