"""What the fork server that starts action processes (:mod:`mikado.engine.process`) loads
before it forks any: the action process's code with httpx, the toolkit mikado offers actions
(the service clients and the editors of infrastructure files, with ruamel.yaml and Jinja2),
and the default trust store. Each card's process then starts with them in place instead of
importing them again: 30 to 60 ms a card for the zot chain's actions, 30 ms more for the
trust store and httpx's first client."""

import mikado.edit.ansible_vars
import mikado.edit.blueprint
import mikado.edit.jinja_json
import mikado.services.authentik
import mikado.services.forgejo
import mikado.services.oci
import mikado.services.zot_config
import mikado.services.zot_release
from mikado.config import TlsSettings
from mikado.engine import child
from mikado.engine.http import make_client

# Imported to be inherited by every action process; nothing here is called.
TOOLKIT = (
    child,
    mikado.edit.ansible_vars,
    mikado.edit.blueprint,
    mikado.edit.jinja_json,
    mikado.services.authentik,
    mikado.services.forgejo,
    mikado.services.oci,
    mikado.services.zot_config,
    mikado.services.zot_release,
)

# The first client loads the trust store (cached per process) and the modules httpx imports
# only when a client is built.
make_client(TlsSettings()).close()
